"""Replies the fake vLLM server can give, rendered the way vLLM 0.32 renders them.

The shapes (field names, nulls, the finish chunk's empty delta, the usage chunk whose
``choices`` is ``[]``) were checked against a real vLLM 0.32 server; its recorded answers live
in ``tests/fixtures/vllm/`` and load with :func:`load_fixture`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ChatReply",
    "ErrorReply",
    "Fault",
    "FaultKind",
    "JSONReply",
    "Reply",
    "SSEReply",
    "ToolCallSpec",
    "load_fixture",
]

_CREATED = 1_750_000_000
_FINGERPRINT = "vllm-0.32.0-fake"
_ids = itertools.count(1)


@dataclass(frozen=True)
class ToolCallSpec:
    """A tool call the fake model makes; ``arguments`` is sent verbatim when a string."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    id: str | None = None

    def args_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


@dataclass
class ChatReply:
    """An assistant reply, rendered like vLLM's OpenAI server renders one.

    Args:
        content: the message content (``None`` renders as JSON null).
        reasoning: reasoning text, in the field ``reasoning_field``.
        reasoning_field: ``"reasoning"`` (vLLM now) or ``"reasoning_content"`` (older).
        tool_calls: native tool calls.
        finish_reason: defaults to ``"tool_calls"`` with calls, else ``"stop"``.
        usage: the usage object; by default word counts.
        reasoning_tokens: adds ``completion_tokens_details.reasoning_tokens`` to usage.
        chunk_chars: characters per streamed content/reasoning/arguments delta.
        repeat_name: stream the tool name and id in every delta (llama.cpp's server does).
        latency_ms: extra delay before answering.
    """

    content: str | None = ""
    reasoning: str | None = None
    reasoning_field: str = "reasoning"
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    reasoning_tokens: int | None = None
    chunk_chars: int = 4
    repeat_name: bool = False
    latency_ms: float = 0.0

    def _finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    def _usage(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.usage is not None:
            return self.usage
        prompt = sum(_words(str(m.get("content") or "")) for m in request.get("messages", []))
        done = _words(self.content) + _words(self.reasoning)
        done += sum(_words(c.args_text()) + 1 for c in self.tool_calls)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "total_tokens": prompt + done,
            "completion_tokens": done,
            "prompt_tokens_details": None,
            "completion_tokens_details": None,
        }
        if self.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage

    def _call_ids(self) -> list[str]:
        return [c.id or f"chatcmpl-tool-{next(_ids):08x}" for c in self.tool_calls]

    def render_json(self, request: dict[str, Any]) -> dict[str, Any]:
        """The completion as vLLM 0.32 returns it (recorded in tests/fixtures/vllm/)."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.content,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if self.tool_calls:  # vLLM leaves the key out when there are none
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": c.name, "arguments": a}}
                for i, c, a in zip(
                    self._call_ids(),
                    self.tool_calls,
                    [c.args_text() for c in self.tool_calls],
                    strict=True,
                )
            ]
        message[self.reasoning_field] = self.reasoning
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self._finish(),
            "stop_reason": None,
            "token_ids": None,
            "routed_experts": None,
        }
        return {
            "id": f"chatcmpl-{next(_ids):016x}",
            "object": "chat.completion",
            "created": _CREATED,
            "model": request.get("model", "fake"),
            "choices": [choice],
            "service_tier": None,
            "system_fingerprint": _FINGERPRINT,
            "usage": self._usage(request),
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "prompt_text": None,
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }

    def render_events(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The stream as vLLM 0.32 sends it: role chunk, deltas, finish chunk, usage chunk."""
        base = {
            "id": f"chatcmpl-{next(_ids):016x}",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": request.get("model", "fake"),
        }

        def chunk(delta: dict[str, Any]) -> dict[str, Any]:
            choice = {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": None,
                "token_ids": None,
            }
            return {**base, "choices": [choice]}

        first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None}
        events = [{**base, "choices": [{**first, "finish_reason": None}]}]
        events[0].update(prompt_token_ids=None, prompt_text=None)
        for piece in _pieces(self.reasoning or "", self.chunk_chars):
            events.append(chunk({self.reasoning_field: piece}))
        for piece in _pieces(self.content or "", self.chunk_chars):
            events.append(chunk({"content": piece}))
        for index, (call_id, call) in enumerate(
            zip(self._call_ids(), self.tool_calls, strict=True)
        ):
            head = {"id": call_id, "type": "function", "index": index}
            name_delta = {**head, "function": {"name": call.name}}
            events.append(chunk({"content": None, "tool_calls": [name_delta]}))
            for piece in _pieces(call.args_text(), self.chunk_chars):
                delta: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
                if self.repeat_name:
                    delta = {**head, "function": {"name": call.name, "arguments": piece}}
                events.append(chunk({"content": None, "tool_calls": [delta]}))
        finish = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": self._finish()}
        events.append({**base, "choices": [{**finish, "stop_reason": None, "token_ids": None}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = {k: v for k, v in self._usage(request).items() if v is not None}
            events.append(
                {**base, "choices": [], "usage": usage, "system_fingerprint": _FINGERPRINT}
            )
        return events


@dataclass
class JSONReply:
    """A fixed JSON body (a recorded completion, or any object)."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    latency_ms: float = 0.0


@dataclass
class SSEReply:
    """A fixed stream: each event a JSON object or raw payload string, or ``raw`` bytes."""

    events: list[Any] = field(default_factory=list)
    done: bool = True
    raw: bytes | None = None
    latency_ms: float = 0.0

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        lines = [e if isinstance(e, str) else json.dumps(e) for e in self.events]
        if self.done:
            lines.append("[DONE]")
        return "".join(f"data: {line}\n\n" for line in lines).encode()


@dataclass
class ErrorReply:
    """An error status with a vLLM-style error body."""

    status: int = 500
    message: str = "Internal Server Error"
    retry_after: str | None = None
    latency_ms: float = 0.0


FaultKind = Literal["reset", "reset_mid_stream", "cut_mid_stream", "truncated_body", "garbage"]


@dataclass
class Fault:
    """A misbehaving server.

    ``reset``: the connection is reset before any response. ``reset_mid_stream`` /
    ``cut_mid_stream``: the ``reply`` streams ``after`` events, then the connection is reset
    (RST) / closed without ending the chunked body. ``truncated_body``: the JSON of ``reply``
    cut in half, then the connection closes. ``garbage``: ``body`` with status 200.
    """

    kind: FaultKind
    reply: ChatReply = field(default_factory=lambda: ChatReply("partial answer here"))
    after: int = 2
    body: bytes = b"<html><body>502 Bad Gateway</body></html>"
    latency_ms: float = 0.0


Reply = ChatReply | JSONReply | SSEReply | ErrorReply | Fault


def load_fixture(path: str | Path) -> Reply:
    """A recorded real-server response as a reply.

    The file is JSON: ``{"request": ..., "status": ..., "response": {...}}`` for a completion,
    ``{"request": ..., "sse": "data: ...\\n\\n..."}`` for a stream (the body as received).
    """
    data = json.loads(Path(path).read_text())
    if "sse" in data:
        return SSEReply(raw=data["sse"].encode())
    return JSONReply(data["response"], status=data.get("status", 200))
