"""The reason node: the reasoner solves one delegated subtask under its output schema.

Its reply always passes through the schema layer (``aenforce``). With tools, the reasoner
works in schema-enforced action mode: each turn is either a tool action (validated, run, and
its result shown to the reasoner) or the final result, validated against the output schema.
A reasoner that never satisfies its schema within budget produces a tool *error* for the
planner, which may retry or give up; it does not end the run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agents.action_mode import FINAL_ACTION, action_instructions, action_schema
from agents.context import AgentContext
from agents.enforced import EnforcedCall, enforce_role
from agents.schemas import DELEGATE_TOOL_SCHEMA, default_output_schema
from agents.tool_runner import run_tool_call
from orchestrator.exceptions import SchemaValidationError
from orchestrator.schema import validator_for
from orchestrator.state import DelegateTask, ReasonInput
from orchestrator.types import Role
from orchestrator.usage import UsageTable, merge_usage
from orchestrator.state import merge_counts

__all__ = ["make_reason_node", "subtask_prompt"]

ReasonNode = Callable[[ReasonInput], Awaitable[dict[str, Any]]]


def subtask_prompt(task: DelegateTask, schema: dict[str, Any]) -> str:
    """The user turn the reasoner sees: the subtask and the schema its answer must match."""
    schema_text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return f"{task['kind'].capitalize()} task:\n{task['task']}\n\nResult JSON Schema: {schema_text}"


def _delegate_errors(task: DelegateTask) -> str | None:
    args: dict[str, Any] = {"kind": task["kind"], "task": task["task"]}
    if task["output_schema"] is not None:
        args["output_schema"] = task["output_schema"]
    params = DELEGATE_TOOL_SCHEMA["function"]["parameters"]
    errors = sorted(validator_for(params).iter_errors(args), key=lambda e: list(e.path))
    if not errors:
        return None
    return "; ".join(f"$.{'.'.join(map(str, e.path))}: {e.message}" for e in errors)


class _Accumulator:
    """Usage and enforcement counts over the reasoner's turns in one subtask."""

    def __init__(self) -> None:
        self.usage: UsageTable = {}
        self.enforcement: dict[str, dict[str, int]] = {}
        self.steps = 0

    def add(self, call: EnforcedCall) -> None:
        self.usage = merge_usage(self.usage, call.usage)
        self.enforcement = merge_counts(self.enforcement, call.enforcement)
        self.steps += max(call.attempts, 1)


def make_reason_node(ctx: AgentContext) -> ReasonNode:
    """Build the reason node (one task per ``delegate`` call, run in parallel by ``Send``)."""
    tool_schemas = ctx.reasoner_tools.schemas()
    model_name = ctx.model_name(Role.REASONER)
    role = Role.REASONER.value

    async def reason(inp: ReasonInput) -> dict[str, Any]:
        task = inp["delegate"]
        acc = _Accumulator()
        problem = _delegate_errors(task)
        if problem is not None or ctx.reasoner is None:
            msg = problem or "no reasoner is configured"
            return _tool_reply(task, f"error: invalid delegate call: {msg}", ok=False, acc=acc)
        try:
            schema = task["output_schema"] or default_output_schema(task["kind"])
            validator_for(schema)
        except Exception as exc:  # a caller-given schema that is itself invalid
            return _tool_reply(task, f"error: invalid output_schema: {exc}", ok=False, acc=acc)
        system = SystemMessage(ctx.reasoner_prompt)
        messages: list[BaseMessage] = [system, HumanMessage(subtask_prompt(task, schema))]

        if not tool_schemas:
            call = await enforce_role(
                ctx.reasoner,
                messages,
                schema,
                role=role,
                schema_name=f"delegate_{task['kind']}" if not task["output_schema"] else "custom",
                model_name=model_name,
                max_retries=ctx.max_enforce_retries,
            )
            acc.add(call)
            return _finish(task, call.value, call.error, acc)

        union = action_schema(tool_schemas, schema)
        messages[0] = SystemMessage(
            ctx.reasoner_prompt + "\n\n" + action_instructions(tool_schemas, "<result JSON>")
        )
        for _ in range(ctx.limits.max_reasoner_tool_steps):
            call = await enforce_role(
                ctx.reasoner,
                messages,
                union,
                role=role,
                schema_name="reasoner_action",
                model_name=model_name,
                max_retries=ctx.max_enforce_retries,
            )
            acc.add(call)
            if call.error is not None:
                return _finish(task, None, call.error, acc)
            value = call.value
            if value["action"] == FINAL_ACTION:
                return _finish(task, value["result"], None, acc)
            args = dict(value.get("arguments") or {})
            outcome = await run_tool_call(ctx.reasoner_tools, value["action"], args)
            messages.append(AIMessage(json.dumps(value, sort_keys=True)))
            label = "result" if outcome.ok else "error"
            messages.append(HumanMessage(f"Tool {value['action']} {label}:\n{outcome.text}"))
        err = SchemaValidationError(
            f"the reasoner used {ctx.limits.max_reasoner_tool_steps} tool turns without a result"
        )
        return _finish(task, None, err, acc)

    return reason


def _finish(
    task: DelegateTask, value: Any, error: SchemaValidationError | None, acc: _Accumulator
) -> dict[str, Any]:
    if error is not None:
        text = "error: the reasoner did not produce a valid result.\n" + error.describe()
        return _tool_reply(task, text, ok=False, acc=acc)
    update = _tool_reply(task, json.dumps(value, sort_keys=True), ok=True, acc=acc)
    update["outputs"] = [
        {"call_id": task["call_id"], "kind": task["kind"], "task": task["task"], "result": value}
    ]
    return update


def _tool_reply(task: DelegateTask, text: str, *, ok: bool, acc: _Accumulator) -> dict[str, Any]:
    message = ToolMessage(
        content=text,
        tool_call_id=task["call_id"],
        name="delegate",
        status="success" if ok else "error",
    )
    return {
        "messages": [message],
        "usage": acc.usage,
        "enforcement": acc.enforcement,
        "steps": acc.steps,
        "outputs": [],
    }
