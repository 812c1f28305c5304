"""One agent solving one request under a result schema, using its tools.

Shared by the reasoner (delegated subtasks) and custom-graph agent steps. In action mode each
turn is one schema-enforced JSON action (a tool call, or the final result); in native mode
the model gets the tools in the request (``bind_tools``), its tool calls are run, and its
final reply is checked against the result schema by the schema layer (which re-asks if it
does not match). Without tools it is a single enforced call. Every tool call goes through
the one argument policy (:func:`agents.tool_runner.run_tool_call`).

``step_budget`` caps the model calls of the whole loop, re-asks included, so a loop never
takes a run past ``max_steps``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agents.action_mode import FINAL_ACTION, action_instructions, action_schema
from agents.agent import Agent
from agents.calls import emit_model_calls, keep_failed_call
from agents.enforced import EnforcedCall, enforce_role
from agents.tool_runner import ToolOutcome, run_tool_call, tool_stats
from orchestrator.exceptions import BudgetExhaustedError, SchemaValidationError
from orchestrator.graph.state import keep_partial, merge_counts
from orchestrator.types import ToolMode
from orchestrator.usage import Usage, usage_table

__all__ = ["LoopOutcome", "run_action_loop"]


@dataclass
class LoopOutcome:
    """The result (or why there is none) and what it cost."""

    role: str = ""
    value: Any = None
    error: SchemaValidationError | BudgetExhaustedError | None = None
    usage: Usage = field(default_factory=Usage)
    enforcement: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: int = 0
    tool_outcomes: list[ToolOutcome] = field(default_factory=list)

    def add(self, call: EnforcedCall, *, steps: int | None = None) -> None:
        self.usage = self.usage + call.usage
        self.enforcement = merge_counts(self.enforcement, call.enforcement)
        self.steps += max(call.attempts, 1) if steps is None else steps

    def add_tool(self, outcome: ToolOutcome) -> None:
        self.tool_outcomes.append(outcome)
        self.enforcement = merge_counts(self.enforcement, tool_stats([outcome]))

    def update(self) -> dict[str, Any]:
        """The state update for what the loop cost and did (usage, stats, steps, tools)."""
        return {
            "usage": usage_table(self.role, self.usage),
            "enforcement": self.enforcement,
            "steps": self.steps,
            "tool_results": [o.record() for o in self.tool_outcomes],
            "changed_files": [p for o in self.tool_outcomes for p in o.changed],
        }


async def run_action_loop(
    agent: Agent,
    *,
    request: str,
    result_schema: dict[str, Any],
    schema_name: str,
    max_turns: int,
    max_retries: int,
    step_budget: int | None = None,
    system_prompt: str | None = None,
) -> LoopOutcome:
    """Solve ``request`` with ``agent``; the value matches ``result_schema`` or ``error`` says
    why not (``BudgetExhaustedError`` when ``step_budget`` model calls were not enough).

    Raises:
        ModelError: a model call failed; what the loop did before (calls, tools) is kept on
            the exception (``orchestrator.graph.state.keep_partial``).
    """
    out = LoopOutcome(role=agent.name)
    try:
        await _solve(
            agent,
            out,
            request,
            result_schema,
            schema_name,
            max_turns,
            max_retries,
            step_budget,
            system_prompt or agent.prompt,
        )
    except Exception as exc:
        keep_partial(exc, out.update())
        raise
    return out


def _retries(max_retries: int, out: LoopOutcome, budget: int | None) -> int | None:
    """Re-asks allowed for the next enforced call within the step budget (None: no call)."""
    if budget is None:
        return max_retries
    left = budget - out.steps
    return None if left <= 0 else min(max_retries, left - 1)


def _over_budget(out: LoopOutcome, budget: int | None) -> LoopOutcome:
    out.error = BudgetExhaustedError(
        f"max_steps reached inside {out.role}'s loop ({out.steps} model calls)", limit="max_steps"
    )
    return out


async def _solve(
    agent: Agent,
    out: LoopOutcome,
    request: str,
    result_schema: dict[str, Any],
    schema_name: str,
    max_turns: int,
    max_retries: int,
    budget: int | None,
    prompt: str,
) -> LoopOutcome:
    tools = agent.toolset.schemas()
    if not tools:
        retries = _retries(max_retries, out, budget)
        if retries is None:
            return _over_budget(out, budget)
        messages: list[BaseMessage] = [SystemMessage(prompt), HumanMessage(request)]
        call = await enforce_role(
            agent, messages, result_schema, schema_name=schema_name, max_retries=retries
        )
        out.add(call)
        out.value, out.error = call.value, call.error
        return out
    if agent.tool_mode is ToolMode.NATIVE:
        return await _native(
            agent,
            out,
            request,
            result_schema,
            schema_name,
            max_turns,
            max_retries,
            budget,
            prompt,
            tools,
        )

    union = action_schema(tools, result_schema)
    system = prompt + "\n\n" + action_instructions(tools, "<result JSON>")
    messages = [SystemMessage(system), HumanMessage(request)]
    for _ in range(max_turns):
        retries = _retries(max_retries, out, budget)
        if retries is None:
            return _over_budget(out, budget)
        call = await enforce_role(
            agent, messages, union, schema_name=f"{schema_name}_action", max_retries=retries
        )
        out.add(call)
        if call.error is not None:
            out.error = call.error
            return out
        value = call.value
        if value["action"] == FINAL_ACTION:
            out.value = value["result"]
            return out
        arguments = dict(value.get("arguments") or {})
        # The schema layer enforced the action schema, which holds the tool's parameters.
        outcome = await run_tool_call(agent.toolset, value["action"], arguments, checked=True)
        out.add_tool(outcome)
        messages.append(AIMessage(json.dumps(value, sort_keys=True)))
        label = "result" if outcome.ok else "error"
        messages.append(HumanMessage(f"Tool {value['action']} {label}:\n{outcome.text}"))
    out.error = SchemaValidationError(f"used {max_turns} tool turns without a final result")
    return out


async def _native(
    agent: Agent,
    out: LoopOutcome,
    request: str,
    result_schema: dict[str, Any],
    schema_name: str,
    max_turns: int,
    max_retries: int,
    budget: int | None,
    prompt: str,
    tools: list[dict[str, Any]],
) -> LoopOutcome:
    """Native tool calling: the server parses the calls; the final reply is enforced."""
    bound = agent.model.bind_tools(tools)
    messages: list[BaseMessage] = [SystemMessage(prompt), HumanMessage(request)]
    for _ in range(max_turns):
        if budget is not None and out.steps >= budget:
            return _over_budget(out, budget)
        start = time.perf_counter()
        try:
            reply = await bound.ainvoke(messages)
        except Exception as exc:
            keep_failed_call(exc, agent.name, [], time.perf_counter() - start)
            raise
        latency = time.perf_counter() - start
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            # The final reply: the schema layer checks it (and re-asks, without tools).
            retries = _retries(max_retries, out, budget)
            call = await enforce_role(
                agent,
                messages,
                result_schema,
                schema_name=schema_name,
                max_retries=retries or 0,
                first_reply=reply,
            )
            emit_model_calls(agent.name, [reply], latency)
            call.usage = call.usage + Usage.of(reply, latency_s=latency)
            out.add(call, steps=max(call.attempts, 1))
            out.value, out.error = call.value, call.error
            return out
        emit_model_calls(agent.name, [reply], latency)
        out.usage = out.usage + Usage.of(reply, latency_s=latency)
        out.steps += 1
        messages.append(reply)
        for tc in reply.tool_calls:
            outcome = await run_tool_call(agent.toolset, tc["name"], dict(tc.get("args") or {}))
            out.add_tool(outcome)
            messages.append(
                ToolMessage(
                    content=outcome.text,
                    tool_call_id=tc.get("id") or "",
                    name=tc["name"],
                    status="success" if outcome.ok else "error",
                )
            )
    out.error = SchemaValidationError(f"used {max_turns} tool turns without a final result")
    return out
