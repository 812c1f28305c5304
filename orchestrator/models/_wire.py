"""The OpenAI chat-completions wire format, going out: langchain messages and tools -> JSON.

Pure functions, no I/O (replies coming back are :mod:`._reply`'s).

Requests are serialised deterministically (sorted keys except schema ``properties``, fixed
separators, tool-call arguments re-encoded the same way every time) so that the prompt a
server renders from step N is a byte-identical prefix of step N+1's, which is what vLLM's
prefix cache needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.utils.function_calling import convert_to_openai_tool

from orchestrator.exceptions import ModelResponseError

__all__ = [
    "dumps",
    "encode_messages",
    "encode_tool_choice",
    "encode_tools",
    "excerpt",
    "loads",
]

_EXCERPT = 200
# Old vLLM guided-decoding fields, which current vLLM silently ignores, and their
# ``structured_outputs`` equivalents.
_GUIDED = {
    "guided_json": "json",
    "guided_regex": "regex",
    "guided_choice": "choice",
    "guided_grammar": "grammar",
}


def _canonical(value: Any, *, keep_order: bool = False) -> Any:
    if isinstance(value, dict):
        keys = list(value) if keep_order else sorted(value)
        return {k: _canonical(value[k], keep_order=k == "properties") for k in keys}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


# Top-level fields whose values this module builds itself in a fixed key order (or that hold
# no objects at all): they need no canonical walk, which matters for long conversations.
_BUILT_HERE = frozenset({"messages", "model", "stream", "stream_options", "stop"})


def dumps(body: Mapping[str, Any]) -> bytes:
    """Serialise a request body deterministically: sorted keys, compact, UTF-8.

    The one exception to sorting is a JSON Schema's ``properties``: constrained decoders
    (xgrammar, outlines) emit fields in that order, and a schema that puts ``steps`` before
    ``answer`` means "think first"; alphabetical order would make the model answer first.
    """
    canonical = {k: body[k] if k in _BUILT_HERE else _canonical(body[k]) for k in sorted(body)}
    return json.dumps(canonical, ensure_ascii=False, separators=(",", ":")).encode()


def _dump_args(args: Mapping[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, ensure_ascii=False)


def excerpt(raw: bytes | str) -> str:
    """The first characters of a body, for error messages."""
    text = raw[: _EXCERPT * 4].decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text[:_EXCERPT]


def loads(raw: bytes, url: str) -> dict[str, Any]:
    """Parse a JSON object body or raise :class:`ModelResponseError` with an excerpt."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ModelResponseError(
            f"non-JSON or truncated body from {url}: {exc}", url=url, excerpt=excerpt(raw)
        ) from None
    except RecursionError:
        raise ModelResponseError(
            f"body from {url} is nested too deeply to read", url=url, excerpt=excerpt(raw)
        ) from None
    if not isinstance(data, dict):
        raise ModelResponseError(
            f"expected a JSON object from {url}", url=url, excerpt=excerpt(raw)
        )
    return data


# --- requests ---------------------------------------------------------------------------


def _text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else str(p.get("text", "")) for p in content]
    return "".join(parts)


def _user_content(content: str | list[str | dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain text stays a string (every chat template renders that); other parts pass on."""
    if isinstance(content, str):
        return content
    if all(isinstance(p, str) or p.get("type") == "text" for p in content):
        return _text(content)
    return [{"type": "text", "text": p} if isinstance(p, str) else p for p in content]


def _encode_message(message: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any]
    if isinstance(message, SystemMessage):
        out = {"role": "system", "content": _text(message.content)}
    elif isinstance(message, HumanMessage):
        out = {"role": "user", "content": _user_content(message.content)}
    elif isinstance(message, AIMessage):
        # Reasoning is never sent back: servers ignore it and it would break prefix caching.
        out = {"role": "assistant", "content": _text(message.content)}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": _dump_args(call["args"])},
                }
                for call in message.tool_calls
            ]
    elif isinstance(message, ToolMessage):
        out = {
            "role": "tool",
            "content": _text(message.content),
            "tool_call_id": message.tool_call_id,
        }
    elif isinstance(message, FunctionMessage):
        out = {"role": "tool", "content": _text(message.content), "name": message.name}
    elif isinstance(message, ChatMessage):
        out = {"role": message.role, "content": _text(message.content)}
    else:
        raise TypeError(f"cannot send a {type(message).__name__} to a chat-completions server")
    if message.name and "name" not in out and not isinstance(message, ToolMessage):
        out["name"] = message.name
    return out


def encode_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Langchain messages -> OpenAI chat messages."""
    return [_encode_message(m) for m in messages]


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_VALUES = ("items", "additionalItems", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


def _close_objects(schema: Any) -> Any:
    """A copy of a JSON Schema with ``additionalProperties: false`` on every object schema
    that does not say otherwise. ``required`` is left alone: optional stays optional."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: _close_objects(v) for k, v in out[key].items()}
    for key in _SCHEMA_VALUES:
        if key in out:
            out[key] = _close_objects(out[key])
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_close_objects(s) for s in out[key]]
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _close_objects(out["additionalProperties"])
    is_object = out.get("type") == "object" or "properties" in out
    if is_object and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def encode_tools(tools: Sequence[Any], *, strict: bool) -> list[dict[str, Any]]:
    """Tools (dicts, pydantic classes, functions, ``BaseTool``) -> OpenAI tool dicts.

    With ``strict`` each function gets ``"strict": true`` and closed object schemas, which
    vLLM enforces with constrained decoding.
    """
    out: list[dict[str, Any]] = []
    for tool in tools:
        spec = convert_to_openai_tool(tool)
        function = spec.get("function")
        if strict and spec.get("type") == "function" and isinstance(function, dict):
            function = dict(function)
            function["parameters"] = _close_objects(
                function.get("parameters") or {"type": "object", "properties": {}}
            )
            function["strict"] = True
            spec = {**spec, "function": function}
        out.append(spec)
    return out


def tool_names(tools: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Names of OpenAI tool dicts."""
    names = (t.get("function", {}).get("name") for t in tools if isinstance(t, Mapping))
    return frozenset(n for n in names if isinstance(n, str))


def encode_tool_choice(choice: Any) -> str | dict[str, Any] | None:
    """``tool_choice`` in langchain's conventions -> the OpenAI value.

    ``None`` (server default), ``"auto"``, ``"none"``, ``"required"`` (also ``"any"`` and
    ``True``), a tool name (forces that tool), or an OpenAI dict passed through.
    """
    if choice is None or isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        return "required"
    if choice is False:
        return "none"
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, str):
        return {"type": "function", "function": {"name": choice}}
    raise ValueError(f"unsupported tool_choice: {choice!r}")


def move_guided_fields(body: dict[str, Any]) -> None:
    """Rewrite removed ``guided_*`` fields into ``structured_outputs`` (in place)."""
    for old, new in _GUIDED.items():
        if old in body:
            value = body.pop(old)
            structured = dict(body.get("structured_outputs") or {})
            structured.setdefault(new, value)
            body["structured_outputs"] = structured
