"""The run state: the one place that defines state keys and their reducers.

``RunState`` is what flows through the LangGraph ``StateGraph``. Keys written by nodes that
may run in the same superstep (parallel ``reason`` tasks, ``act``) have reducers so their
writes combine instead of colliding.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from orchestrator.usage import UsageTable, merge_usage

__all__ = [
    "ActInput",
    "DelegateTask",
    "ReasonInput",
    "RunState",
    "merge_counts",
    "merge_dicts",
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
        invalid_streak: consecutive planner turns whose tool calls were all invalid.
        status: a ``RunStatus`` value.
        answer: the final answer text, once there is one.
        error: ``{"type": ..., "message": ...}`` when the run failed.
        started_at: wall-clock start (epoch seconds), for the wall-time limit.
        changed_files: workspace paths changed by tools.
        tool_results: structured results of tool calls (name, ok, result), in order.
        results: per-step results of custom graphs and built-in workflows, by step name.
    """

    task: str
    messages: Annotated[list[AnyMessage], add_messages]
    outputs: Annotated[list[dict[str, Any]], operator.add]
    usage: Annotated[UsageTable, merge_usage]
    enforcement: Annotated[dict[str, dict[str, int]], merge_counts]
    steps: Annotated[int, operator.add]
    invalid_streak: int
    status: str
    answer: str | None
    error: dict[str, str] | None
    started_at: float
    changed_files: Annotated[list[str], _keep_unique]
    tool_results: Annotated[list[dict[str, Any]], operator.add]
    results: Annotated[dict[str, Any], merge_dicts]


class DelegateTask(TypedDict):
    """One ``delegate`` call of the planner, as sent to the reason node."""

    call_id: str
    kind: str
    task: str
    output_schema: dict[str, Any] | None


class ReasonInput(TypedDict):
    """Input of a ``reason`` task (one per delegate call, sent with ``Send``)."""

    delegate: DelegateTask


class ActInput(TypedDict):
    """Input of the ``act`` task: the ordinary tool calls of one planner turn."""

    calls: list[dict[str, Any]]
    invalid_streak: int
