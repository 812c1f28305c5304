"""Pure routing: which edge to take from a state. No I/O, no clocks, no models."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END
from langgraph.types import Send

from orchestrator.graph.state import ActInput, DelegateTask, ReasonInput, StandardState
from orchestrator.types import RunStatus

__all__ = [
    "ACT",
    "CHECKED_CALLS_KEY",
    "DELEGATE_TOOL",
    "FINISH",
    "INVALID_TURN_KEY",
    "PLAN",
    "REASON",
    "call_signature",
    "delegate_task",
    "failed_call_signatures",
    "last_ai_message",
    "route_after_plan",
]

PLAN = "plan"
ACT = "act"
REASON = "reason"
# A run ends straight after the step that settled it (the plan node writes the final status
# and answer): a separate finish node cost a graph step and a checkpoint per run.
FINISH = END
DELEGATE_TOOL = "delegate"
# Set in an AIMessage's additional_kwargs when the planner's reply could not be turned into a
# valid action; the planner is asked again (the plan node counts the streak).
INVALID_TURN_KEY = "bicameral_invalid_turn"
# Set in an AIMessage's additional_kwargs when its tool calls came out of a schema-enforced
# action (their arguments already passed the tool's schema): the act node does not check
# them again.
CHECKED_CALLS_KEY = "bicameral_checked_calls"


def last_ai_message(messages: Sequence[AnyMessage]) -> AIMessage | None:
    """The newest AIMessage, or ``None``."""
    for msg in reversed(messages):
        if isinstance(msg, AIMessage):
            return msg
    return None


def call_signature(name: str, arguments: Any) -> str:
    """A canonical text for one tool call (name and arguments), to spot repeated calls."""
    return json.dumps([name, arguments], sort_keys=True, default=str, separators=(",", ":"))


def failed_call_signatures(records: Iterable[dict[str, Any]]) -> list[str]:
    """Signatures of the failed calls among ``tool_results`` records, oldest first."""
    return [
        call_signature(str(r.get("tool")), r.get("arguments")) for r in records if not r.get("ok")
    ]


def delegate_task(call: dict[str, Any]) -> DelegateTask:
    """A ``delegate`` tool call as the reason node's task."""
    args = call.get("args") or {}
    schema = args.get("output_schema")
    return DelegateTask(
        call_id=str(call.get("id") or ""),
        kind=str(args.get("kind", "")),
        task=str(args.get("task", "")),
        output_schema=schema if isinstance(schema, dict) and schema else None,
    )


def route_after_plan(
    state: StandardState, *, has_reasoner: bool, max_steps: int = 1_000_000
) -> str | list[Send]:
    """After the planner: finish, ask again, or fan out to tools and the reasoner.

    Each ``delegate`` call becomes its own ``Send`` to the reason node, so independent subtasks
    run in parallel; the ordinary tool calls of the turn go together to the act node. Results
    come back in the order of the calls (LangGraph applies parallel writes in task order).
    """
    if state.get("status", RunStatus.RUNNING) != RunStatus.RUNNING:
        return FINISH
    ai = last_ai_message(state.get("messages", []))
    if ai is None:
        return FINISH
    if ai.additional_kwargs.get(INVALID_TURN_KEY):
        return PLAN
    if not ai.tool_calls:
        return FINISH
    steps = int(state.get("steps", 0))
    delegates = [c for c in ai.tool_calls if has_reasoner and c["name"] == DELEGATE_TOOL]
    ordinary = [dict(c) for c in ai.tool_calls if not (has_reasoner and c["name"] == DELEGATE_TOOL)]
    sends: list[Send] = []
    if ordinary:
        act_input = ActInput(
            calls=ordinary,
            invalid_streak=int(state.get("invalid_streak", 0)),
            steps=steps,
            checked=bool(ai.additional_kwargs.get(CHECKED_CALLS_KEY)),
            failed_calls=failed_call_signatures(state.get("tool_results") or []),
        )
        sends.append(Send(ACT, act_input))
    # Parallel delegates share what is left of max_steps, so together they cannot overshoot
    # it (a delegate with no share answers with a budget error and calls no model).
    left = max(0, max_steps - steps)
    share, extra = divmod(left, max(len(delegates), 1))
    for i, call in enumerate(delegates):
        budget = share + (1 if i < extra else 0)
        task = ReasonInput(delegate=delegate_task(dict(call)), steps=steps, step_budget=budget)
        sends.append(Send(REASON, task))
    return sends
