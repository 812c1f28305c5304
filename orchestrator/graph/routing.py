"""Pure routing: which edge to take from a state. No I/O, no clocks, no models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END
from langgraph.types import Send

from orchestrator.graph.state import ActInput, DelegateTask, ReasonInput, RunState
from orchestrator.types import RunStatus

__all__ = [
    "ACT",
    "DELEGATE_TOOL",
    "FINISH",
    "INVALID_TURN_KEY",
    "PLAN",
    "REASON",
    "delegate_task",
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


def last_ai_message(messages: Sequence[AnyMessage]) -> AIMessage | None:
    """The newest AIMessage, or ``None``."""
    for msg in reversed(messages):
        if isinstance(msg, AIMessage):
            return msg
    return None


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


def route_after_plan(state: RunState, *, has_reasoner: bool) -> str | list[Send]:
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
    sends: list[Send] = []
    ordinary: list[dict[str, Any]] = []
    for call in ai.tool_calls:
        if has_reasoner and call["name"] == DELEGATE_TOOL:
            sends.append(Send(REASON, ReasonInput(delegate=delegate_task(dict(call)))))
        else:
            ordinary.append(dict(call))
    if ordinary:
        act_input = ActInput(calls=ordinary, invalid_streak=int(state.get("invalid_streak", 0)))
        sends.insert(0, Send(ACT, act_input))
    return sends
