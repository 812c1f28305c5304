"""The reason node: the reasoner solves one delegated subtask under its output schema.

Its reply always passes through the schema layer (``aenforce``); with tools it works in
schema-enforced action mode (``agents.action_loop``). A reasoner that never satisfies its
schema within budget produces a tool *error* for the planner, which may retry or give up;
it does not end the run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import ToolMessage

from agents.action_loop import LoopOutcome, run_action_loop
from agents.context import AgentContext
from agents.schemas import DELEGATE_TOOL_SCHEMA, default_output_schema
from orchestrator.exceptions import BicameralError
from orchestrator.graph.state import DelegateTask, ReasonInput
from orchestrator.schema import validator_for
from orchestrator.types import Role

__all__ = ["make_reason_node", "subtask_prompt"]

ReasonNode = Callable[[ReasonInput], Awaitable[dict[str, Any]]]


def subtask_prompt(task: DelegateTask, schema: dict[str, Any]) -> str:
    """The user turn the reasoner sees: the subtask and the schema its answer must match."""
    schema_text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return f"{task['kind'].capitalize()} task:\n{task['task']}\n\nResult JSON Schema: {schema_text}"


def _delegate_problem(task: DelegateTask) -> str | None:
    args: dict[str, Any] = {"kind": task["kind"], "task": task["task"]}
    if task["output_schema"] is not None:
        args["output_schema"] = task["output_schema"]
    params = DELEGATE_TOOL_SCHEMA["function"]["parameters"]
    errors = sorted(validator_for(params).iter_errors(args), key=lambda e: list(e.path))
    if not errors:
        return None
    return "; ".join(f"$.{'.'.join(map(str, e.path))}: {e.message}" for e in errors)


def make_reason_node(ctx: AgentContext) -> ReasonNode:
    """Build the reason node (one task per ``delegate`` call, run in parallel by ``Send``)."""
    model_name = ctx.model_name(Role.REASONER)

    async def reason(inp: ReasonInput) -> dict[str, Any]:
        task = inp["delegate"]
        problem = _delegate_problem(task)
        if problem is None and ctx.reasoner is None:
            problem = "no reasoner is configured"
        if problem is not None:
            return _tool_reply(task, f"error: invalid delegate call: {problem}", LoopOutcome())
        schema = task["output_schema"] or default_output_schema(task["kind"])
        try:
            validator_for(schema)
        except BicameralError as exc:  # a caller-given schema that is itself invalid
            return _tool_reply(task, f"error: invalid output_schema: {exc}", LoopOutcome())
        assert ctx.reasoner is not None
        outcome = await run_action_loop(
            ctx.reasoner,
            system_prompt=ctx.reasoner_prompt,
            request=subtask_prompt(task, schema),
            result_schema=schema,
            schema_name=f"delegate_{task['kind']}" if not task["output_schema"] else "custom",
            toolset=ctx.reasoner_tools,
            role=Role.REASONER.value,
            model_name=model_name,
            max_turns=ctx.limits.max_reasoner_tool_steps,
            max_retries=ctx.max_enforce_retries,
        )
        if outcome.error is not None:
            text = (
                "error: the reasoner did not produce a valid result.\n" + outcome.error.describe()
            )
            return _tool_reply(task, text, outcome)
        update = _tool_reply(task, json.dumps(outcome.value, sort_keys=True), outcome, ok=True)
        update["outputs"] = [
            {
                "call_id": task["call_id"],
                "kind": task["kind"],
                "task": task["task"],
                "result": outcome.value,
            }
        ]
        return update

    return reason


def _tool_reply(
    task: DelegateTask, text: str, outcome: LoopOutcome, *, ok: bool = False
) -> dict[str, Any]:
    message = ToolMessage(
        content=text,
        tool_call_id=task["call_id"],
        name="delegate",
        status="success" if ok else "error",
    )
    return {
        "messages": [message],
        "usage": outcome.usage,
        "enforcement": outcome.enforcement,
        "steps": outcome.steps,
        "tool_results": [o.record() for o in outcome.tool_outcomes],
        "changed_files": [p for o in outcome.tool_outcomes for p in o.changed],
    }
