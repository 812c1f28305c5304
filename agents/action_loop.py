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
from orchestrator import telemetry
from orchestrator.exceptions import BudgetExhaustedError, SchemaValidationError
from orchestrator.graph.routing import call_signature
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
    out_of_turns: bool = False
    """The tool-turn budget ran out before a final result (``error`` says so too)."""
    failed_calls: set[str] = field(default_factory=set)
    """Signatures of the loop's tool calls that failed (a repeat is refused unrun)."""

    def add(self, call: EnforcedCall) -> None:
        self.usage = self.usage + call.usage
        self.enforcement = merge_counts(self.enforcement, call.enforcement)
        self.steps += max(call.attempts, 1)

    def add_tool(self, outcome: ToolOutcome) -> None:
        self.tool_outcomes.append(outcome)
        if not outcome.ok:
            self.failed_calls.add(call_signature(outcome.name, outcome.arguments))
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


@dataclass(frozen=True)
class _Job:
    """One request for one agent, with its budgets."""

    agent: Agent
    request: str
    result_schema: dict[str, Any]
    schema_name: str
    max_turns: int
    max_retries: int
    budget: int | None
    prompt: str

    def retries(self, out: LoopOutcome) -> int | None:
        """Re-asks allowed for the next enforced call within the step budget (None: no call)."""
        if self.budget is None:
            return self.max_retries
        left = self.budget - out.steps
        return None if left <= 0 else min(self.max_retries, left - 1)


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
    job = _Job(
        agent,
        request,
        result_schema,
        schema_name,
        max_turns,
        max_retries,
        step_budget,
        system_prompt or agent.prompt,
    )
    out = LoopOutcome(role=agent.name)
    tools = agent.toolset.schemas()
    try:
        if not tools:
            await _single(job, out)
        elif agent.tool_mode is ToolMode.NATIVE:
            await _native(job, out, tools)
        else:
            await _actions(job, out, tools)
    except Exception as exc:
        keep_partial(exc, out.update())
        raise
    return out


def _over_budget(out: LoopOutcome) -> None:
    out.error = BudgetExhaustedError(
        f"max_steps reached inside {out.role}'s loop ({out.steps} model calls)", limit="max_steps"
    )


def _no_final(job: _Job, out: LoopOutcome) -> None:
    out.error = SchemaValidationError(f"used {job.max_turns} tool turns without a final result")
    out.out_of_turns = True


async def _single(job: _Job, out: LoopOutcome) -> None:
    """No tools: one enforced call for the result."""
    retries = job.retries(out)
    if retries is None:
        return _over_budget(out)
    messages: list[BaseMessage] = [SystemMessage(job.prompt), HumanMessage(job.request)]
    call = await enforce_role(
        job.agent, messages, job.result_schema, schema_name=job.schema_name, max_retries=retries
    )
    out.add(call)
    out.value, out.error = call.value, call.error
    return None


async def _actions(job: _Job, out: LoopOutcome, tools: list[dict[str, Any]]) -> None:
    """Action mode: each turn one enforced JSON action, a tool call or the final result."""
    union = action_schema(tools, job.result_schema)
    system = job.prompt + "\n\n" + action_instructions(tools, "<result JSON>")
    messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(job.request)]
    for _ in range(job.max_turns):
        retries = job.retries(out)
        if retries is None:
            return _over_budget(out)
        call = await enforce_role(
            job.agent, messages, union, schema_name=f"{job.schema_name}_action", max_retries=retries
        )
        out.add(call)
        if call.error is not None:
            out.error = call.error
            return None
        value = call.value
        if value["action"] == FINAL_ACTION:
            out.value = value["result"]
            return None
        arguments = dict(value.get("arguments") or {})
        # The schema layer enforced the action schema, which holds the tool's parameters.
        outcome = await run_tool_call(
            job.agent.toolset,
            value["action"],
            arguments,
            checked=True,
            failed_before=out.failed_calls,
        )
        out.add_tool(outcome)
        messages.append(AIMessage(json.dumps(value, sort_keys=True)))
        label = "result" if outcome.ok else "error"
        messages.append(HumanMessage(f"Tool {value['action']} {label}:\n{outcome.text}"))
    return _no_final(job, out)


async def _native(job: _Job, out: LoopOutcome, tools: list[dict[str, Any]]) -> None:
    """Native tool calling: the server parses the calls; the final reply is enforced."""
    agent = job.agent
    bound = agent.model.bind_tools(tools)
    messages: list[BaseMessage] = [SystemMessage(job.prompt), HumanMessage(job.request)]
    for _ in range(job.max_turns):
        if job.budget is not None and out.steps >= job.budget:
            return _over_budget(out)
        start = time.perf_counter()
        try:
            reply = await bound.ainvoke(messages)
        except Exception as exc:
            failed_after = time.perf_counter() - start
            telemetry.model_call_failed(agent.name, exc, failed_after)
            keep_failed_call(exc, agent.name, [], failed_after)
            raise
        latency = time.perf_counter() - start
        telemetry.model_call(agent.name, reply, latency, messages)
        emit_model_calls(agent.name, [reply], latency)
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            # The final reply: the schema layer checks it (and re-asks, without tools).
            call = await enforce_role(
                agent,
                messages,
                job.result_schema,
                schema_name=job.schema_name,
                max_retries=job.retries(out) or 0,
                first_reply=reply,
            )
            call.usage = call.usage + Usage.of(reply, latency_s=latency)
            out.add(call)
            out.value, out.error = call.value, call.error
            return None
        out.usage = out.usage + Usage.of(reply, latency_s=latency)
        out.steps += 1
        messages.append(reply)
        for tc in reply.tool_calls:
            args = dict(tc.get("args") or {})
            outcome = await run_tool_call(
                agent.toolset,
                tc["name"],
                args,
                failed_before=out.failed_calls,
                call_id=tc.get("id"),
            )
            out.add_tool(outcome)
            messages.append(
                ToolMessage(
                    content=outcome.text,
                    tool_call_id=tc.get("id") or "",
                    name=tc["name"],
                    status="success" if outcome.ok else "error",
                )
            )
    return _no_final(job, out)
