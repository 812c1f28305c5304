"""The OpenAI chat-completions wire format, coming back: a reply's JSON -> ``AIMessage``.

Pure functions, no I/O. The same decoding serves non-streaming replies and the end of a
stream (:mod:`._sse`): tool calls (native, or recovered from ``content`` for the tools
offered; cut-off or unreadable calls become invalid calls, never run), reasoning split from
content, the finish reason, and usage (estimated, and labelled so, when the server gives none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call

from orchestrator.exceptions import ModelResponseError
from orchestrator.models._usage import estimated_usage
from orchestrator.models._wire import excerpt
from orchestrator.models.toolcall_parsers import find_tool_calls
from orchestrator.text.ids import call_id
from orchestrator.text.think import split_reasoning

__all__ = [
    "TRUNCATED_CALL",
    "ReplyContext",
    "decode_completion",
    "decode_tool_calls",
    "finish_text",
    "recover_calls",
    "reply_metadata",
]

TRUNCATED_CALL = (
    "the reply was cut off by the token limit (finish_reason: length) before this call was "
    "complete; it was not run"
)


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
