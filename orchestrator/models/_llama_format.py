"""The embedded model's wire format: LangChain messages and tools in, llama.cpp terms out.

Pure functions, no model and no I/O, shared by the sync, async and streaming paths of
:class:`~orchestrator.models.local.LocalChatModel`:

* :func:`to_llama_messages`: messages -> the ``{"role", "content"}`` dicts a GGUF chat
  template renders (tool calls and tool results become text: small models' templates ignore
  the structured fields);
* :func:`tool_plan` / :meth:`ToolPlan.schema` / :func:`parse_reply`: how bound tools and
  ``tool_choice`` turn into a grammar and back into ``AIMessage.tool_calls``;
* :func:`reply_message` / :func:`call_chunks`: generated text -> ``AIMessage`` (or, streaming,
  the tool-call chunks of the last chunk).

Grammars themselves are :mod:`orchestrator.models._llama_grammar`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata

from orchestrator.exceptions import ConfigError
from orchestrator.text.ids import call_id

__all__ = [
    "ToolMode",
    "ToolPlan",
    "call_chunks",
    "parse_reply",
    "reply_message",
    "to_llama_messages",
    "tool_plan",
]

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


class ToolMode(StrEnum):
    """How bound tools reach the model."""

    NONE = "none"  # no tools, or tool_choice="none"
    AUTO = "auto"  # tools described in the prompt; calls recovered from text
    FORCED = "forced"  # a grammar makes the reply a call (tool_choice=name | "required")


@dataclass(frozen=True)
class ToolPlan:
    """The bound tools that apply to one call and how.

    Attributes:
        mode: see :class:`ToolMode`.
        tools: OpenAI function objects (``name``, ``description``, ``parameters``).
    """

    mode: ToolMode
    tools: tuple[dict[str, Any], ...] = ()

    @property
    def names(self) -> list[str]:
        """The tools' names, in binding order."""
        return [str(t["name"]) for t in self.tools]

    def schema(self) -> dict[str, Any] | None:
        """The JSON Schema a forced call's reply must match (``None`` unless FORCED).

        One tool: its parameters (the reply is the arguments object). Several: one object
        ``{"name": <const>, "arguments": <parameters>}`` per tool, under ``anyOf``.
        """
        if self.mode is not ToolMode.FORCED:
            return None
        if len(self.tools) == 1:
            return _parameters(self.tools[0])
        return {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": t["name"]}, "arguments": _parameters(t)},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
                for t in self.tools
            ]
        }

    def note(self) -> str | None:
        """A system-prompt note describing the tools (``None`` when there are none)."""
        if self.mode is ToolMode.NONE:
            return None
        if self.mode is ToolMode.FORCED and len(self.tools) == 1:
            tool = self.tools[0]
            desc = f": {tool['description']}" if tool.get("description") else ""
            return (
                f"Call the tool `{tool['name']}`{desc}. "
                "Answer with only its arguments, as one JSON object."
            )
        listing = "\n".join(
            f"- {t['name']}: {t.get('description') or ''} "
            f"arguments: {json.dumps(_parameters(t), sort_keys=True)}"
            for t in self.tools
        )
        if self.mode is ToolMode.FORCED:
            head = "Call exactly one of these tools."
        else:
            head = "You may call one of these tools; otherwise answer normally."
        return (
            f'{head} To call a tool, answer with only {{"name": <tool>, "arguments": {{...}}}}.'
            f"\nTools:\n{listing}"
        )


def tool_plan(tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any) -> ToolPlan:
    """Decide how bound ``tools`` apply under ``tool_choice`` (LangChain/OpenAI forms).

    Args:
        tools: OpenAI tool dicts (``{"type": "function", "function": {...}}``) or bare
            function objects.
        tool_choice: ``None`` / ``"auto"``; ``"none"``; ``"required"`` / ``"any"`` / ``True``
            (any one tool, forced); a tool name; ``{"type": "function", "function":
            {"name": ...}}`` or ``{"name": ...}``.

    Raises:
        ConfigError: ``tool_choice`` names a tool that is not bound, or is not understood.
    """
    functions = tuple(_function(t) for t in tools or ())
    if not functions or tool_choice in ("none", False):
        return ToolPlan(ToolMode.NONE)
    if tool_choice in (None, "auto"):
        return ToolPlan(ToolMode.AUTO, functions)
    if tool_choice in ("required", "any", True):
        return ToolPlan(ToolMode.FORCED, functions)
    name = _choice_name(tool_choice)
    chosen = tuple(f for f in functions if f["name"] == name)
    if not chosen:
        bound = ", ".join(str(f["name"]) for f in functions)
        raise ConfigError(f"tool_choice names {name!r}, which is not bound (bound: {bound})")
    return ToolPlan(ToolMode.FORCED, chosen)


def _choice_name(tool_choice: Any) -> str:
    if isinstance(tool_choice, str):
        return tool_choice
    if isinstance(tool_choice, Mapping):
        inner = tool_choice.get("function", tool_choice)
        name = inner.get("name") if isinstance(inner, Mapping) else None
        if isinstance(name, str):
            return name
    raise ConfigError(f"tool_choice not understood: {tool_choice!r}")


def _function(tool: Mapping[str, Any]) -> dict[str, Any]:
    inner = tool.get("function", tool)
    if not isinstance(inner, Mapping) or not isinstance(inner.get("name"), str):
        raise ConfigError(f"a bound tool has no name: {tool!r}")
    return dict(inner)


def _parameters(function: Mapping[str, Any]) -> dict[str, Any]:
    params = function.get("parameters")
    return dict(params) if isinstance(params, Mapping) and params else dict(_ANY_OBJECT)


def to_llama_messages(
    messages: Sequence[BaseMessage], *, note: str | None = None
) -> list[dict[str, str]]:
    """LangChain messages -> ``{"role", "content"}`` dicts for a GGUF chat template.

    ``note`` (tool instructions) joins the first system message, or becomes one. An AI
    message's tool calls are appended to its text as ``{"name", "arguments"}`` JSON, the form
    the model is asked to use; a tool result becomes a ``tool`` message.
    """
    out: list[dict[str, str]] = []
    for message in messages:
        role, text = _role(message), _text(message.content)
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
            rendered = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
            text = f"{text}\n{rendered}" if text else rendered
        out.append({"role": role, "content": text})
    if note:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{note}"}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        return message.role
    return message.type


def _text(content: str | list[str | dict[Any, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def parse_reply(text: str, plan: ToolPlan) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """Split a reply into content, tool calls and unparseable calls according to ``plan``.

    FORCED replies are JSON by grammar (unless cut off by ``max_tokens``): the whole text is
    the call. AUTO replies are searched for calls written as text; only bound names count.
    """
    if plan.mode is ToolMode.NONE:
        return text, [], []
    if plan.mode is ToolMode.AUTO:
        return _recover_calls(text, plan)
    try:
        value = json.loads(text)
    except ValueError as err:
        name = plan.tools[0]["name"] if len(plan.tools) == 1 else None
        bad = InvalidToolCall(
            type="invalid_tool_call",
            name=name,
            args=text,
            id=call_id(0, name or "", text),
            error=f"reply is not complete JSON: {err}",
        )
        return "", [], [bad]
    if len(plan.tools) == 1:
        name, args = str(plan.tools[0]["name"]), value
    else:
        name, args = str(value.get("name")), value.get("arguments")
    if not isinstance(args, dict):
        bad = InvalidToolCall(
            type="invalid_tool_call",
            name=name,
            args=text,
            id=call_id(0, name, text),
            error="tool arguments are not a JSON object",
        )
        return "", [], [bad]
    call = ToolCall(type="tool_call", name=name, args=args, id=call_id(0, name, args))
    return "", [call], []


def _recover_calls(text: str, plan: ToolPlan) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    from orchestrator.models.toolcall_parsers import find_tool_calls

    found, rest = find_tool_calls(text)
    known = set(plan.names)
    calls = [
        ToolCall(type="tool_call", name=c.name, args=c.arguments, id=c.id)
        for c in found
        if c.name in known and c.error is None
    ]
    invalid = [
        InvalidToolCall(
            type="invalid_tool_call", name=c.name, args=c.raw_arguments, id=c.id, error=c.error
        )
        for c in found
        if c.name in known and c.error is not None
    ]
    if not (calls or invalid):
        return text, [], []
    return rest, calls, invalid


def reply_message(
    text: str,
    plan: ToolPlan,
    *,
    input_tokens: int,
    output_tokens: int,
    metadata: dict[str, Any],
) -> AIMessage:
    """The ``AIMessage`` for generated ``text``: content or tool calls, usage, metadata."""
    content, tool_calls, invalid = parse_reply(text, plan)
    return AIMessage(
        content=content,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        usage_metadata=UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        ),
        response_metadata=metadata,
    )


def call_chunks(message: AIMessage) -> list[ToolCallChunk]:
    """A whole message's tool calls (valid or not) as stream chunks: aggregating the chunks
    gives back the same ``tool_calls`` and ``invalid_tool_calls``."""
    chunks = [
        ToolCallChunk(
            type="tool_call_chunk", name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i
        )
        for i, c in enumerate(message.tool_calls)
    ]
    chunks.extend(
        ToolCallChunk(
            type="tool_call_chunk",
            name=c["name"],
            args=c["args"],
            id=c["id"],
            index=len(chunks) + i,
        )
        for i, c in enumerate(message.invalid_tool_calls)
    )
    return chunks
