"""The act node: run the planner's ordinary tool calls, after approval where a tool needs it.

Approvals come first: ``interrupt`` re-runs the node from its start when the run resumes,
so no tool may have run before the last approval is in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.types import interrupt

from agents.agent import AgentContext
from agents.tool_runner import ToolOutcome, run_tool_call, tool_stats
from orchestrator.graph.state import ActInput
from tools.base import Toolset

__all__ = ["act", "approval_granted", "make_act_node"]

ActNode = Callable[[ActInput], Awaitable[dict[str, Any]]]


def approval_granted(decision: Any) -> bool:
    """Read a resume value: ``True``/``False`` or ``{"approve": bool}``."""
    if isinstance(decision, dict):
        return bool(decision.get("approve", False))
    return bool(decision)


async def act(inp: ActInput, *, toolset: Toolset) -> dict[str, Any]:
    """Run one planner turn's ordinary tool calls (approvals first)."""
    calls = inp["calls"]
    approved: dict[str, bool] = {}
    for call in calls:
        name = str(call.get("name", ""))
        if name in toolset.names and toolset.requires_approval(name):
            request = {"tool": name, "arguments": call.get("args", {}), "call_id": call["id"]}
            approved[call["id"]] = approval_granted(interrupt(request))

    failed = set(inp.get("failed_calls") or ())
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
            # Native calls are checked here; action-mode calls were enforced with the same
            # schema by the plan node, and are not checked twice.
            outcome = await run_tool_call(
                toolset,
                name,
                args,
                checked=bool(inp.get("checked")),
                failed_before=failed,
                call_id=call_id,
            )
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
        "enforcement": tool_stats(outcomes),
    }


def make_act_node(ctx: AgentContext) -> ActNode:
    """The act node for the planner's toolset."""
    return partial(act, toolset=ctx.planner.toolset)
