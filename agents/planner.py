"""The plan node: the planner model decides the next step (tool calls, delegation, or answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable

from agents.action_mode import (
    action_instructions,
    action_schema,
    action_to_message,
    history_for_action_mode,
)
from agents.agent import AgentContext
from agents.budget import budget_stop
from agents.calls import invoke_role
from agents.enforced import enforce_role
from agents.invalid_calls import LENGTH, finish_reason
from agents.schemas import DELEGATE_TOOL_SCHEMA
from agents.turn_guard import guard_turn
from orchestrator.exceptions import ToolArgumentError
from orchestrator.graph.routing import CHECKED_CALLS_KEY, INVALID_TURN_KEY
from orchestrator.graph.state import StandardState
from orchestrator.result import error_entry
from orchestrator.schema import split_reasoning
from orchestrator.types import RunStatus, ToolMode
from orchestrator.usage import usage_table

__all__ = ["PlanSetup", "make_plan_node", "plan", "planner_tool_schemas"]

PlanNode = Callable[[StandardState], Awaitable[dict[str, Any]]]


def planner_tool_schemas(ctx: AgentContext) -> list[dict[str, Any]]:
    """OpenAI-format schemas the planner sees: its tools, plus ``delegate`` with a reasoner."""
    schemas = list(ctx.planner.toolset.schemas())
    if ctx.reasoner is not None:
        schemas.append(DELEGATE_TOOL_SCHEMA)
    return schemas


@dataclass(frozen=True)
class PlanSetup:
    """What the plan node prepares once per graph: the model with its tools bound (native
    mode), or the action union schema and prompt (action mode)."""

    native_model: BaseChatModel | Runnable[Any, Any]
    union: dict[str, Any]
    action_prompt: str

    @classmethod
    def of(cls, ctx: AgentContext) -> PlanSetup:
        planner = ctx.planner
        schemas = planner_tool_schemas(ctx)
        return cls(
            native_model=planner.model.bind_tools(schemas) if schemas else planner.model,
            union=action_schema(schemas, {"type": "string", "minLength": 1, "maxLength": 4000}),
            action_prompt=planner.prompt + "\n\n" + action_instructions(schemas, '"<answer>"'),
        )


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


def _settled(reply: AIMessage, *, validated: bool = False) -> dict[str, Any]:
    """A reply without tool calls is the final answer: the run is complete, or truncated
    when the token limit cut the answer off. An answer the schema layer ``validated`` was
    read without repair from a closed JSON value, so it is whole whatever the finish."""
    if reply.tool_calls:
        return {}
    content = reply.content if isinstance(reply.content, str) else reply.text
    finish = finish_reason(reply)
    cut = finish == LENGTH and not validated
    status = RunStatus.TRUNCATED if cut else RunStatus.COMPLETED
    return {"status": status.value, "answer": content.strip(), "finish_reason": finish}


def _budget_update(ctx: AgentContext, state: StandardState, now: float) -> dict[str, Any] | None:
    stop = budget_stop(ctx, state, now)
    if stop is not None:
        return stop
    streak = int(state.get("invalid_streak", 0))
    if streak >= ctx.limits.max_invalid_tool_calls:
        exc = ToolArgumentError(
            f"the planner made {streak} invalid tool calls in a row "
            "(unknown tools or arguments that do not match the tool schema)"
        )
        return {"status": RunStatus.FAILED.value, "error": error_entry(exc)}
    return None


async def plan(
    state: StandardState, *, ctx: AgentContext, setup: PlanSetup, clock: Callable[[], float]
) -> dict[str, Any]:
    """One planner turn: the model's reply as the next message (tool calls or the answer)."""
    stop = _budget_update(ctx, state, clock())
    if stop is not None:
        return stop
    planner = ctx.planner
    history: list[BaseMessage] = list(state.get("messages", []))
    if planner.tool_mode is ToolMode.NATIVE:
        messages = [SystemMessage(planner.prompt), *history]
        reply, usage = await invoke_role(setup.native_model, messages, planner.name)
        reply = guard_turn(_moved_reasoning(reply), ctx.limits)
        update = {"messages": [reply], "steps": 1, "usage": usage_table(planner.name, usage)}
        return {**update, **_settled(reply)}

    messages = [SystemMessage(setup.action_prompt), *history_for_action_mode(history)]
    retries = ctx.retries_within(int(state.get("steps", 0)))  # re-asks stay within max_steps
    call = await enforce_role(
        planner, messages, setup.union, schema_name="planner_action", max_retries=retries
    )
    result = call.update()
    if call.error is not None or call.reply is None:
        err = call.error
        bad = AIMessage(
            content=(err.raw if err else "")[:2000],
            additional_kwargs={INVALID_TURN_KEY: True},
        )
        note = HumanMessage(
            "Your reply was not a valid action.\n" + (err.describe() if err else "")
        )
        result["messages"] = [bad, note]
        result["invalid_streak"] = int(state.get("invalid_streak", 0)) + 1
        return result
    message = guard_turn(action_to_message(call.value, call.reply, salt=len(history)), ctx.limits)
    if message.tool_calls:
        message.additional_kwargs[CHECKED_CALLS_KEY] = True
    result["messages"] = [message]
    # a well-formed action is not yet a valid call: the act node counts the streak on
    # (invalid arguments, a call repeating one that failed) or resets it
    result.update(_settled(message, validated=True))
    return result


def make_plan_node(ctx: AgentContext, *, clock: Callable[[], float]) -> PlanNode:
    """The plan node for a pipeline's context. ``clock`` gives epoch seconds."""
    return partial(plan, ctx=ctx, setup=PlanSetup.of(ctx), clock=clock)
