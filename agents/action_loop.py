"""One agent solving one request under a result schema, using tools in action mode.

Shared by the reasoner (delegated subtasks) and custom-graph agent steps: each turn is a tool
action (validated, run, result shown back) or the final result, validated against the
result schema. Without tools it is a single enforced call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agents.action_mode import FINAL_ACTION, action_instructions, action_schema
from agents.enforced import EnforcedCall, enforce_role
from agents.tool_runner import ToolOutcome, run_tool_call
from orchestrator.exceptions import SchemaValidationError
from orchestrator.graph.state import merge_counts
from orchestrator.usage import UsageTable, merge_usage
from tools.base import Toolset

__all__ = ["LoopOutcome", "run_action_loop"]


@dataclass
class LoopOutcome:
    """The result (or why there is none) and what it cost."""

    value: Any = None
    error: SchemaValidationError | None = None
    usage: UsageTable = field(default_factory=dict)
    enforcement: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: int = 0
    tool_outcomes: list[ToolOutcome] = field(default_factory=list)

    def add(self, call: EnforcedCall) -> None:
        self.usage = merge_usage(self.usage, call.usage)
        self.enforcement = merge_counts(self.enforcement, call.enforcement)
        self.steps += max(call.attempts, 1)


async def run_action_loop(
    model: BaseChatModel,
    *,
    system_prompt: str,
    request: str,
    result_schema: dict[str, Any],
    schema_name: str,
    toolset: Toolset,
    role: str,
    model_name: str,
    max_turns: int,
    max_retries: int,
) -> LoopOutcome:
    """Solve ``request``; the value matches ``result_schema`` or ``error`` says why not."""
    out = LoopOutcome()
    tools = toolset.schemas()
    if not tools:
        messages: list[BaseMessage] = [SystemMessage(system_prompt), HumanMessage(request)]
        call = await enforce_role(
            model,
            messages,
            result_schema,
            role=role,
            schema_name=schema_name,
            model_name=model_name,
            max_retries=max_retries,
        )
        out.add(call)
        out.value, out.error = call.value, call.error
        return out

    union = action_schema(tools, result_schema)
    system = system_prompt + "\n\n" + action_instructions(tools, "<result JSON>")
    messages = [SystemMessage(system), HumanMessage(request)]
    for _ in range(max_turns):
        call = await enforce_role(
            model,
            messages,
            union,
            role=role,
            schema_name=f"{schema_name}_action",
            model_name=model_name,
            max_retries=max_retries,
        )
        out.add(call)
        if call.error is not None:
            out.error = call.error
            return out
        value = call.value
        if value["action"] == FINAL_ACTION:
            out.value = value["result"]
            return out
        outcome = await run_tool_call(toolset, value["action"], dict(value.get("arguments") or {}))
        out.tool_outcomes.append(outcome)
        messages.append(AIMessage(json.dumps(value, sort_keys=True)))
        label = "result" if outcome.ok else "error"
        messages.append(HumanMessage(f"Tool {value['action']} {label}:\n{outcome.text}"))
    out.error = SchemaValidationError(f"used {max_turns} tool turns without a final result")
    return out
