"""One call's request: what a model's settings and the call's options make of the messages.

The body bytes to send, how to decode the reply (which tools were offered, whether the
prompt opened a think block), the per-call timeout, and whether decoding was constrained
(so that a server rejecting the format can be retried with a simpler one). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from orchestrator.models._grammar_fallback import GrammarState, rewrite_constraints
from orchestrator.models._reply import ReplyContext, decode_completion
from orchestrator.models._wire import (
    dumps,
    encode_messages,
    encode_tool_choice,
    encode_tools,
    loads,
    move_guided_fields,
    tool_names,
)

__all__ = ["ModelSettings", "Request", "build_request"]

# Call options that configure the client, never sent to the server.
_CLIENT_OPTIONS = ("timeout", "stream", "strict", "extra_body", "tools", "tool_choice")
_PLAIN = ReplyContext()
_THINK_PREFILLED = ReplyContext(think_prefilled=True)


class ModelSettings(Protocol):
    """The fields of :class:`~orchestrator.models.openai_compat.OpenAICompatChatModel` that
    shape a request."""

    model: str
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    extra_body: dict[str, Any]
    strict_tools: bool
    think_prefilled: bool


@dataclass(frozen=True)
class Request:
    """One prepared request: the bytes to send and what decoding the reply needs."""

    body: bytes
    ctx: ReplyContext
    timeout: float | None
    constrained: bool = False

    def result(self, raw: bytes, url: str, latency_s: float) -> ChatResult:
        """The reply's bytes as langchain's ``ChatResult``."""
        message = decode_completion(loads(raw, url), self.ctx, url=url, latency_s=latency_s)
        return ChatResult(generations=[ChatGeneration(message=message)])


def build_request(
    settings: ModelSettings,
    messages: list[BaseMessage],
    stop: list[str] | None,
    options: Mapping[str, Any],
    *,
    stream: bool,
    grammar: GrammarState,
) -> Request:
    """The request for ``messages`` with the call's ``options`` (bound tools, ``tool_choice``,
    ``timeout``, ``extra_body``, any other request field)."""
    strict = options.get("strict")
    tools = encode_tools(
        options.get("tools") or (), strict=settings.strict_tools if strict is None else strict
    )
    choice = encode_tool_choice(options.get("tool_choice")) if tools else None
    body: dict[str, Any] = {"model": settings.model, "messages": encode_messages(messages)}
    for name in ("temperature", "top_p", "max_tokens"):
        if (value := getattr(settings, name)) is not None:
            body[name] = value
    body.update(settings.extra_body)
    body.update(options.get("extra_body") or {})
    body.update((k, v) for k, v in options.items() if k not in _CLIENT_OPTIONS and v is not None)
    if stop:
        body["stop"] = stop
    if tools:
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
    move_guided_fields(body)
    fallback = rewrite_constraints(body, grammar)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if tools:
        ctx = ReplyContext(tool_names(tools), choice != "none", settings.think_prefilled)
    else:
        ctx = _THINK_PREFILLED if settings.think_prefilled else _PLAIN
    prompt_chars = sum(len(str(m.get("content") or "")) for m in body["messages"])
    ctx = replace(ctx, grammar_fallback=fallback, prompt_chars=prompt_chars)
    timeout = options.get("timeout")
    return Request(
        dumps(body),
        ctx,
        float(timeout) if timeout is not None else None,
        constrained="response_format" in body or "structured_outputs" in body,
    )
