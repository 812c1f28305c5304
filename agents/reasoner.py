"""The reason node: the reasoner solves one delegated subtask under its output schema.

Its reply always passes through the schema layer (``aenforce``); with tools it works in
schema-enforced action mode (``agents.action_loop``). A reasoner that never satisfies its
schema within budget produces a tool *error* for the planner, which may retry or give up;
it does not end the run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from langchain_core.messages import ToolMessage

from agents.action_loop import LoopOutcome, run_action_loop
from agents.agent import AgentContext
from agents.schemas import DELEGATE_TOOL_SCHEMA, default_output_schema
from orchestrator.exceptions import BicameralError, SchemaValidationError
from orchestrator.graph.state import DelegateTask, ReasonInput
from orchestrator.schema import validator_for

__all__ = ["make_reason_node", "reason", "subtask_prompt"]

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


async def reason(inp: ReasonInput, *, ctx: AgentContext) -> dict[str, Any]:
    """Solve one delegated subtask (one task per ``delegate`` call, run in parallel by
    ``Send``) within the task's step budget; the result goes back as the tool's reply."""
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
        request=subtask_prompt(task, schema),
        result_schema=schema,
        schema_name=f"delegate_{task['kind']}" if not task["output_schema"] else "custom",
        max_turns=ctx.limits.max_reasoner_tool_steps,
        max_retries=ctx.max_enforce_retries,
        step_budget=inp.get("step_budget"),
    )
    if outcome.error is not None:
        detail = (
            outcome.error.describe()
            if isinstance(outcome.error, SchemaValidationError)
            else str(outcome.error)
        )
        text = "error: the reasoner did not produce a valid result.\n" + detail
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


def make_reason_node(ctx: AgentContext) -> ReasonNode:
    """The reason node for a pipeline's context."""
    return partial(reason, ctx=ctx)


def _tool_reply(
    task: DelegateTask, text: str, outcome: LoopOutcome, *, ok: bool = False
) -> dict[str, Any]:
    message = ToolMessage(
        content=text,
        tool_call_id=task["call_id"],
        name="delegate",
        status="success" if ok else "error",
    )
    return {"messages": [message], **outcome.update()}
