"""The act node: run the planner's ordinary tool calls, after approval where a tool needs it.

Approvals come first: ``interrupt`` re-runs the node from its start when the run resumes,
so no tool may have run before the last approval is in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.types import interrupt

from agents.context import AgentContext
from agents.tool_runner import ToolOutcome, run_tool_call
from orchestrator.graph.state import ActInput

__all__ = ["approval_granted", "make_act_node"]

ActNode = Callable[[ActInput], Awaitable[dict[str, Any]]]


def approval_granted(decision: Any) -> bool:
    """Read a resume value: ``True``/``False`` or ``{"approve": bool}``."""
    if isinstance(decision, dict):
        return bool(decision.get("approve", False))
    return bool(decision)


def make_act_node(ctx: AgentContext) -> ActNode:
    """Build the act node for the planner's toolset."""
    toolset = ctx.planner_tools

    async def act(inp: ActInput) -> dict[str, Any]:
        calls = inp["calls"]
        approved: dict[str, bool] = {}
        for call in calls:
            name = str(call.get("name", ""))
            if name in toolset.names and toolset.requires_approval(name):
                request = {"tool": name, "arguments": call.get("args", {}), "call_id": call["id"]}
                approved[call["id"]] = approval_granted(interrupt(request))

        messages: list[ToolMessage] = []
        outcomes: list[ToolOutcome] = []
        for call in calls:
            name, args, call_id = (
                str(call.get("name", "")),
                dict(call.get("args") or {}),
                call["id"],
            )
            if approved.get(call_id) is False:
                outcome = ToolOutcome(name, args, ok=False, text=f"error: the user denied {name}")
            else:
                outcome = await run_tool_call(toolset, name, args)
            outcomes.append(outcome)
            messages.append(
                ToolMessage(
                    content=outcome.text,
                    tool_call_id=call_id,
                    name=name,
                    status="success" if outcome.ok else "error",
                )
            )
        all_invalid = bool(outcomes) and all(o.invalid for o in outcomes)
        return {
            "messages": messages,
            "invalid_streak": inp["invalid_streak"] + 1 if all_invalid else 0,
            "tool_results": [o.record() for o in outcomes],
            "changed_files": [p for o in outcomes for p in o.changed],
        }

    return act
