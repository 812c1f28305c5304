"""The plan node: the planner model decides the next step (tool calls, delegation, or answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agents.action_mode import (
    action_instructions,
    action_schema,
    action_to_message,
    history_for_action_mode,
)
from agents.budget import budget_stop
from agents.calls import invoke_role
from agents.context import AgentContext
from agents.enforced import enforce_role
from agents.schemas import DELEGATE_TOOL_SCHEMA
from orchestrator.graph.routing import INVALID_TURN_KEY
from orchestrator.graph.state import RunState
from orchestrator.schema import split_reasoning
from orchestrator.types import Role, RunStatus, ToolMode

__all__ = ["make_plan_node", "planner_tool_schemas"]

PlanNode = Callable[[RunState], Awaitable[dict[str, Any]]]


def planner_tool_schemas(ctx: AgentContext) -> list[dict[str, Any]]:
    """OpenAI-format schemas the planner sees: its tools, plus ``delegate`` with a reasoner."""
    schemas = list(ctx.planner_tools.schemas())
    if ctx.reasoner is not None:
        schemas.append(DELEGATE_TOOL_SCHEMA)
    return schemas


def _moved_reasoning(reply: AIMessage) -> AIMessage:
    """Move inline ``<think>`` text out of the content (for planners served without a parser)."""
    if not isinstance(reply.content, str) or "think>" not in reply.content:
        return reply
    reasoning, content = split_reasoning(reply.content)
    if reasoning is None:
        return reply
    extra = dict(reply.additional_kwargs)
    extra["reasoning"] = (str(extra.get("reasoning") or "") + reasoning).strip()
    return reply.model_copy(update={"content": content, "additional_kwargs": extra})


def _settled(reply: AIMessage) -> dict[str, Any]:
    """A reply without tool calls is the final answer: the run is complete."""
    if reply.tool_calls:
        return {}
    content = reply.content if isinstance(reply.content, str) else reply.text
    return {"status": RunStatus.COMPLETED.value, "answer": content.strip()}


def _budget_update(ctx: AgentContext, state: RunState, now: float) -> dict[str, Any] | None:
    stop = budget_stop(ctx, state, now)
    if stop is not None:
        return stop
    streak = int(state.get("invalid_streak", 0))
    if streak >= ctx.limits.max_invalid_tool_calls:
        return {
            "status": RunStatus.FAILED.value,
            "error": {
                "type": "ToolArgumentError",
                "message": (
                    f"the planner made {streak} invalid tool calls in a row "
                    "(unknown tools or arguments that do not match the tool schema)"
                ),
            },
        }
    return None


def make_plan_node(ctx: AgentContext, *, clock: Callable[[], float]) -> PlanNode:
    """Build the plan node for a pipeline's context. ``clock`` gives epoch seconds."""
    schemas = planner_tool_schemas(ctx)
    native_model = ctx.planner.bind_tools(schemas) if schemas else ctx.planner
    union = action_schema(schemas, {"type": "string", "minLength": 1, "maxLength": 4000})
    action_prompt = ctx.planner_prompt + "\n\n" + action_instructions(schemas, '"<answer>"')
    model_name = ctx.model_name(Role.PLANNER)

    async def plan(state: RunState) -> dict[str, Any]:
        stop = _budget_update(ctx, state, clock())
        if stop is not None:
            return stop
        history: list[BaseMessage] = list(state.get("messages", []))
        if ctx.planner_mode is ToolMode.NATIVE:
            messages = [SystemMessage(ctx.planner_prompt), *history]
            reply, usage = await invoke_role(native_model, messages, Role.PLANNER.value)
            reply = _moved_reasoning(reply)
            return {"messages": [reply], "steps": 1, "usage": usage, **_settled(reply)}

        messages = [SystemMessage(action_prompt), *history_for_action_mode(history)]
        call = await enforce_role(
            ctx.planner,
            messages,
            union,
            role=Role.PLANNER.value,
            schema_name="planner_action",
            model_name=model_name,
            max_retries=ctx.max_enforce_retries,
        )
        update: dict[str, Any] = {
            "steps": max(call.attempts, 1),
            "usage": call.usage,
            "enforcement": call.enforcement,
        }
        if call.error is not None or call.reply is None:
            err = call.error
            bad = AIMessage(
                content=(err.raw if err else "")[:2000],
                additional_kwargs={INVALID_TURN_KEY: True},
            )
            note = HumanMessage(
                "Your reply was not a valid action.\n" + (err.describe() if err else "")
            )
            update["messages"] = [bad, note]
            update["invalid_streak"] = int(state.get("invalid_streak", 0)) + 1
            return update
        message = action_to_message(call.value, call.reply, salt=len(history))
        update["messages"] = [message]
        update["invalid_streak"] = 0
        update.update(_settled(message))
        return update

    return plan
