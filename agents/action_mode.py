"""Schema-enforced action mode: tool use for models that can't be trusted with native calls.

The model answers with exactly one JSON object from a union schema::

    {"action": "<tool name>", "arguments": {...tool parameters...}}
    {"action": "final", "result": <result schema>}

The schema goes to the server for constrained decoding where supported and is always validated
client-side by ``orchestrator.schema``. A chosen action becomes an ordinary ``AIMessage`` with
``tool_calls``, so the rest of the graph does not care which mode produced it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from orchestrator.text.ids import call_id

__all__ = [
    "FINAL_ACTION",
    "action_instructions",
    "action_schema",
    "action_to_message",
    "history_for_action_mode",
]

FINAL_ACTION = "final"


def action_schema(tools: Sequence[dict[str, Any]], result_schema: dict[str, Any]) -> dict[str, Any]:
    """The union schema for OpenAI-format ``tools`` plus a final answer of ``result_schema``."""
    variants: list[dict[str, Any]] = []
    for tool in tools:
        fn = tool.get("function", tool)
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        variants.append(
            {
                "type": "object",
                "properties": {"action": {"const": fn["name"]}, "arguments": params},
                "required": ["action", "arguments"],
                "additionalProperties": False,
            }
        )
    variants.append(
        {
            "type": "object",
            "properties": {"action": {"const": FINAL_ACTION}, "result": result_schema},
            "required": ["action", "result"],
            "additionalProperties": False,
        }
    )
    if len(variants) == 1:
        return variants[0]
    return {"oneOf": variants}


def action_instructions(tools: Sequence[dict[str, Any]], result_hint: str) -> str:
    """Plain-text description of the JSON protocol, appended to the system prompt."""
    lines = [
        "Reply with exactly one JSON object and nothing else.",
        'To use a tool: {"action": "<tool name>", "arguments": {...}}.',
        f'To finish: {{"action": "final", "result": {result_hint}}}.',
    ]
    if tools:
        lines.append("Tools:")
        for tool in tools:
            fn = tool.get("function", tool)
            params = json.dumps(fn.get("parameters", {}), sort_keys=True, separators=(",", ":"))
            lines.append(f"- {fn['name']}: {fn.get('description', '').strip()} arguments: {params}")
    return "\n".join(lines)


def action_to_message(value: dict[str, Any], reply: AIMessage, *, salt: int = 0) -> AIMessage:
    """Turn a validated action into the ``AIMessage`` the graph routes on.

    A tool action becomes a tool call; ``final`` becomes content (a string result as is, any
    other result as JSON). Usage and metadata of the model's reply are kept.
    """
    action = value["action"]
    common: dict[str, Any] = {
        "usage_metadata": reply.usage_metadata,
        "response_metadata": reply.response_metadata,
        "additional_kwargs": {k: v for k, v in reply.additional_kwargs.items() if k == "reasoning"},
    }
    if action == FINAL_ACTION:
        result = value.get("result")
        content = result if isinstance(result, str) else json.dumps(result, sort_keys=True)
        return AIMessage(content=content, **common)
    arguments = dict(value.get("arguments") or {})
    call = {"name": action, "args": arguments, "id": call_id(salt, action, arguments)}
    return AIMessage(content="", tool_calls=[call], **common)


def history_for_action_mode(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Rewrite a native tool-calling history as plain turns an action-mode model understands."""
    out: list[BaseMessage] = []
    for msg in messages:
        if isinstance(msg, AIMessage) and msg.tool_calls:
            text = "\n".join(
                json.dumps({"action": c["name"], "arguments": c["args"]}, sort_keys=True)
                for c in msg.tool_calls
            )
            out.append(AIMessage(content=text))
        elif isinstance(msg, ToolMessage):
            label = "error" if msg.status == "error" else "result"
            out.append(HumanMessage(content=f"Tool {msg.name or ''} {label}:\n{msg.content}"))
        else:
            out.append(msg)
    return out
