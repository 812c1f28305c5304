"""The OpenAI chat-completions wire format: langchain messages and tools <-> JSON.

Pure functions, no I/O: the request body going out and the ``AIMessage`` coming back. The
same decoding serves non-streaming replies here and the end of a stream in :mod:`._sse`.

Requests are serialised deterministically (sorted keys except schema ``properties``, fixed
separators, tool-call arguments re-encoded the same way every time) so that the prompt a
server renders from step N is a byte-identical prefix of step N+1's, which is what vLLM's
prefix cache needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.utils.function_calling import convert_to_openai_tool

from orchestrator.exceptions import ModelResponseError
from orchestrator.models._usage import estimated_usage
from orchestrator.models.toolcall_parsers import find_tool_calls
from orchestrator.text.ids import call_id
from orchestrator.text.think import split_reasoning

__all__ = [
    "TRUNCATED_CALL",
    "ReplyContext",
    "decode_completion",
    "decode_tool_calls",
    "dumps",
    "encode_messages",
    "encode_tool_choice",
    "encode_tools",
    "excerpt",
    "finish_text",
    "loads",
    "recover_calls",
    "reply_metadata",
]

_EXCERPT = 200
TRUNCATED_CALL = (
    "the reply was cut off by the token limit (finish_reason: length) before this call was "
    "complete; it was not run"
)
# Old vLLM guided-decoding fields, which current vLLM silently ignores, and their
# ``structured_outputs`` equivalents.
_GUIDED = {
    "guided_json": "json",
    "guided_regex": "regex",
    "guided_choice": "choice",
    "guided_grammar": "grammar",
}


@dataclass(frozen=True)
class ReplyContext:
    """What decoding a reply needs to know about the request that produced it.

    Attributes:
        tool_names: the tools offered; calls left in ``content`` are recovered only for these.
        recover_calls: False when no tools were offered or ``tool_choice`` was ``"none"``.
        think_prefilled: the chat template opens ``<think>`` in the prompt, so the reply starts
            inside reasoning.
        grammar_fallback: the response-format fallback in effect, recorded in the reply's
            metadata (``None``: the configured form is in use).
        prompt_chars: the length of the messages sent, to estimate prompt tokens when the
            server reports no usage (llama.cpp's server streams none).
    """

    tool_names: frozenset[str] = frozenset()
    recover_calls: bool = False
    think_prefilled: bool = False
    grammar_fallback: dict[str, Any] | None = None
    prompt_chars: int = 0


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


# --- replies ------------------------------------------------------------------------------


def decode_tool_calls(raw: Any) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """OpenAI ``tool_calls`` -> valid langchain tool calls and the ones that did not parse."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    if not isinstance(raw, list):
        return calls, invalid
    for index, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            continue
        name = function.get("name") or ""
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        cid = item.get("id") or call_id(index, name, text)
        if isinstance(arguments, dict):
            calls.append(tool_call(name=name, args=arguments, id=cid))
            continue
        try:
            args = json.loads(text) if text and text.strip() else {}
            if isinstance(args, str) and args.strip()[:1] == "{":
                args = json.loads(args)  # double-encoded: a JSON string holding the object
        except RecursionError:
            deep = "arguments are nested too deeply"
            invalid.append(invalid_tool_call(name=name, args=excerpt(text), id=cid, error=deep))
            continue
        except ValueError as exc:
            invalid.append(invalid_tool_call(name=name, args=text, id=cid, error=str(exc)))
            continue
        if isinstance(args, dict) and name:
            calls.append(tool_call(name=name, args=args, id=cid))
        else:
            error = "arguments are not a JSON object" if name else "tool call without a name"
            invalid.append(invalid_tool_call(name=name, args=text, id=cid, error=error))
    return calls, invalid


def recover_calls(
    content: str, ctx: ReplyContext, *, cut_off: bool = False
) -> tuple[list[ToolCall], list[InvalidToolCall], str]:
    """Tool calls the server left in ``content`` (valid and invalid), and the rest of it.

    Only for offered tools, and only if every call found names one: a JSON answer that merely
    looks like a call stays an answer. A call whose arguments cannot be read is returned
    invalid (its siblings stay valid); with ``cut_off`` (``finish_reason: "length"``) so is a
    call that was not complete when the reply stopped.
    """
    if not (ctx.recover_calls and content):
        return [], [], content
    found, rest = find_tool_calls(content)
    if not found or not all(c.name in ctx.tool_names for c in found):
        return [], [], content
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for c in found:
        if cut_off and not c.complete:
            args = c.raw_arguments or json.dumps(c.arguments, ensure_ascii=False)
            invalid.append(invalid_tool_call(name=c.name, args=args, id=c.id, error=TRUNCATED_CALL))
        elif c.error is not None:
            invalid.append(
                invalid_tool_call(name=c.name, args=c.raw_arguments, id=c.id, error=c.error)
            )
        else:
            calls.append(tool_call(name=c.name, args=c.arguments, id=c.id))
    return calls, invalid, rest


def finish_text(
    content: str, reasoning: str | None, ctx: ReplyContext, *, cut_off: bool = False
) -> tuple[str, str | None, list[ToolCall], list[InvalidToolCall]]:
    """Content and reasoning as the server gave them -> (content, reasoning, recovered calls).

    Think tags never stay in content, even after a server's reasoning parser has split the
    reply: a real vLLM R1 server left a second ``</think>`` in ``content``, and text before such
    a tag is the model still thinking.
    """
    more, content = split_reasoning(content)
    if reasoning and more:
        reasoning = f"{reasoning}\n\n{more}"
    elif not reasoning:
        reasoning = more
        if reasoning is None and ctx.think_prefilled:
            reasoning, content = content, ""
    calls, invalid, content = recover_calls(content, ctx, cut_off=cut_off)
    return content, (reasoning or None), calls, invalid


def reply_metadata(
    model: Any,
    finish_reason: Any,
    latency_s: float,
    url: str,
    ctx: ReplyContext,
    estimated: list[str] | None = None,
) -> dict[str, Any]:
    """A reply's ``response_metadata``: model, finish reason, latency, URL, and where they
    apply the grammar fallback and the usage fields that are estimates."""
    meta: dict[str, Any] = {
        "model_name": model,
        "finish_reason": finish_reason,
        "latency_s": latency_s,
        "base_url": url,
    }
    if ctx.grammar_fallback is not None:
        meta["grammar_fallback"] = ctx.grammar_fallback
    if estimated:
        meta["usage_estimated"] = estimated
    return meta


def cut_last_call(
    calls: list[ToolCall], invalid: list[InvalidToolCall]
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Under ``finish_reason: "length"`` the last native call is the one being written when
    the reply stopped: it becomes invalid, whatever its arguments parse to."""
    if not calls:
        return calls, invalid
    last = calls[-1]
    args = json.dumps(last["args"], ensure_ascii=False)
    cut = invalid_tool_call(name=last["name"], args=args, id=last["id"], error=TRUNCATED_CALL)
    return calls[:-1], [*invalid, cut]


def decode_completion(
    data: Mapping[str, Any], ctx: ReplyContext, *, url: str, latency_s: float
) -> AIMessage:
    """A chat-completion JSON object -> ``AIMessage``.

    Raises:
        ModelResponseError: the object has no ``choices[0].message``.
    """
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise ModelResponseError(
            f"reply from {url} has no choices[0].message",
            url=url,
            excerpt=excerpt(json.dumps(data)),
        )
    raw_reasoning = message.get("reasoning") or message.get("reasoning_content")
    server_reasoning = raw_reasoning if isinstance(raw_reasoning, str) else None
    assert isinstance(choice, dict)
    finish = choice.get("finish_reason")
    cut_off = finish == "length"
    calls, invalid = decode_tool_calls(message.get("tool_calls"))
    if cut_off:
        calls, invalid = cut_last_call(calls, invalid)
    native = bool(calls or invalid)
    context = ctx if not native else ReplyContext(think_prefilled=ctx.think_prefilled)
    raw_content = message.get("content")
    content, reasoning, recovered, bad = finish_text(
        raw_content if isinstance(raw_content, str) else "",
        server_reasoning,
        context,
        cut_off=cut_off,
    )
    additional: dict[str, Any] = {"reasoning": reasoning} if reasoning else {}
    raw_calls = message.get("tool_calls")
    calls_text = json.dumps(raw_calls) if raw_calls else ""
    usage, estimated = estimated_usage(data.get("usage"), ctx, content, reasoning, calls_text)
    return AIMessage(
        content=content,
        additional_kwargs=additional,
        tool_calls=calls if native else recovered,
        invalid_tool_calls=invalid if native else bad,
        usage_metadata=usage,
        response_metadata=reply_metadata(data.get("model"), finish, latency_s, url, ctx, estimated),
        id=data.get("id") if isinstance(data.get("id"), str) else None,
    )
