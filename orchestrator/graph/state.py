"""The run state: the one place that defines state keys and their reducers.

``RunState`` is what flows through the LangGraph ``StateGraph``. Keys written by nodes that
may run in the same superstep (parallel ``reason`` tasks, ``act``) have reducers so their
writes combine instead of colliding.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from orchestrator.usage import UsageTable, merge_usage

__all__ = [
    "ActInput",
    "DelegateTask",
    "ReasonInput",
    "RunState",
    "StandardState",
    "keep_partial",
    "merge_counts",
    "merge_dicts",
    "with_partial_work",
]


def merge_counts(
    left: dict[str, dict[str, int]] | None, right: dict[str, dict[str, int]] | None
) -> dict[str, dict[str, int]]:
    """Reducer for nested counters (schema-enforcement stats keyed by ``model::schema``)."""
    merged = {k: dict(v) for k, v in (left or {}).items()}
    for key, counts in (right or {}).items():
        slot = merged.setdefault(key, {})
        for name, n in counts.items():
            slot[name] = slot.get(name, 0) + n
    return merged


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: shallow merge, right wins (per-step results of custom workflows)."""
    return {**(left or {}), **(right or {})}


def _keep_unique(left: list[str] | None, right: list[str] | None) -> list[str]:
    out = list(left or [])
    out.extend(x for x in (right or []) if x not in out)
    return out


class RunState(TypedDict, total=False):
    """State of one run (one LangGraph thread).

    Attributes:
        task: the user's task, as given.
        messages: the planner's conversation (LangGraph's message reducer).
        outputs: structured results from the reasoner, in the order they arrived.
        usage: per-role token and latency counters.
        enforcement: schema-enforcement outcome counts keyed by ``model::schema``.
        steps: model turns taken so far (planner and reasoner).
        status: a ``RunStatus`` value.
        answer: the final answer text, once there is one.
        error: ``{"type": ..., "message": ...}`` when the run failed.
        started_at: wall-clock start (epoch seconds), for the wall-time limit.
        finish_reason: the server's finish reason for the reply that settled the run.
        changed_files: workspace paths changed by tools.
        tool_results: structured results of tool calls (name, ok, result), in order.

    Each workflow extends this with its own typed keys (``agents/workflows``).
    """

    task: str
    messages: Annotated[list[AnyMessage], add_messages]
    outputs: Annotated[list[dict[str, Any]], operator.add]
    usage: Annotated[UsageTable, merge_usage]
    enforcement: Annotated[dict[str, dict[str, int]], merge_counts]
    steps: Annotated[int, operator.add]
    status: str
    answer: str | None
    error: dict[str, str] | None
    started_at: float
    finish_reason: str | None
    changed_files: Annotated[list[str], _keep_unique]
    tool_results: Annotated[list[dict[str, Any]], operator.add]


class StandardState(RunState, total=False):
    """The run state of the standard planner/reasoner graph.

    Attributes:
        invalid_streak: consecutive planner turns whose tool calls were all invalid.
    """

    invalid_streak: int


class DelegateTask(TypedDict):
    """One ``delegate`` call of the planner, as sent to the reason node."""

    call_id: str
    kind: str
    task: str
    output_schema: dict[str, Any] | None


class ReasonInput(TypedDict):
    """Input of a ``reason`` task (one per delegate call, sent with ``Send``).

    ``steps`` is the run's step count when the planner delegated; ``step_budget`` the model
    turns this task may take (the remaining ``max_steps`` shared among the turn's delegates).
    """

    delegate: DelegateTask
    steps: int
    step_budget: int


class ActInput(TypedDict):
    """Input of the ``act`` task: the ordinary tool calls of one planner turn.

    ``checked``: the schema layer already enforced the calls' arguments (action mode);
    ``failed_calls``: the signatures (``routing.call_signature``) of the run's earlier calls
    that failed.
    """

    calls: list[dict[str, Any]]
    invalid_streak: int
    steps: int
    checked: bool
    failed_calls: NotRequired[list[str]]


# -- work done by a node that then failed -------------------------------------------------------

_PARTIAL_ATTR = "bicameral_partial_updates"
_ADDITIVE = ("steps",)
_LISTS = ("tool_results", "outputs")


def keep_partial(exc: BaseException, update: Mapping[str, Any]) -> None:
    """Attach to ``exc`` the state update of work done before it was raised (model calls
    made, tools run), so the run's result accounts for it although the node fails.

    LangGraph drops a failing node's writes (the checkpoint stays where it was, so the run
    resumes by re-running the node); ``Pipeline`` adds these updates to the result only.
    """
    found = getattr(exc, _PARTIAL_ATTR, None)
    parts: list[dict[str, Any]] = found if isinstance(found, list) else []
    parts.append(dict(update))
    setattr(exc, _PARTIAL_ATTR, parts)


def with_partial_work(values: Mapping[str, Any], exc: BaseException) -> dict[str, Any]:
    """``values`` with the updates :func:`keep_partial` attached to ``exc`` applied."""
    out = dict(values)
    for update in getattr(exc, _PARTIAL_ATTR, None) or []:
        out["usage"] = merge_usage(out.get("usage"), update.get("usage"))
        out["enforcement"] = merge_counts(out.get("enforcement"), update.get("enforcement"))
        for key in _ADDITIVE:
            out[key] = int(out.get(key) or 0) + int(update.get(key) or 0)
        for key in _LISTS:
            out[key] = [*(out.get(key) or []), *(update.get(key) or [])]
        out["changed_files"] = _keep_unique(out.get("changed_files"), update.get("changed_files"))
    return out
