"""Server-sent events from a chat-completions stream -> langchain message chunks.

Pure and incremental: feed it lines as they arrive (from a sync or an async response alike),
get ``ChatGenerationChunk``\\ s back, then call :meth:`StreamDecoder.finish`, which emits the last
chunk (usage, metadata, calls recovered from the text) or raises if the stream was cut.

What real servers do that this handles:

* vLLM ends with a usage chunk whose ``choices`` is ``[]`` (with ``include_usage``);
* llama.cpp's server repeats the function name (and id) in every tool-call delta; langchain
  would concatenate them, so a name or id already sent for an index is not sent again;
* a reply cut off by the token limit (``finish_reason: "length"``) in the middle of a tool
  call: the last call's merged arguments are made unparseable, so it is an invalid call;
* no usage in the stream (llama.cpp's server): usage is estimated and labelled so;
* reasoning arrives as ``delta.reasoning`` (vLLM now) or ``delta.reasoning_content``; without
  a server reasoning parser it arrives inline as ``<think>...</think>`` and is split here as
  it streams. Think tags never reach content: a stray ``</think>`` after the server's split
  (seen on a real vLLM R1 server) is dropped. What a stream already sent cannot be taken
  back, so text before a lone ``</think>`` is known to be reasoning only when the model is
  configured with ``think_prefilled``; non-streaming replies have no such limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from orchestrator.exceptions import ModelResponseError
from orchestrator.models._reply import ReplyContext, recover_calls, reply_metadata
from orchestrator.models._usage import estimated_usage
from orchestrator.models._wire import excerpt
from orchestrator.text.think import CLOSE, OPEN

__all__ = ["StreamDecoder"]

_OPEN, _CLOSE = OPEN, CLOSE


class _ThinkSplitter:
    """Route streamed text to reasoning or content around inline think tags."""

    def __init__(self, *, prefilled: bool) -> None:
        self.state = "think" if prefilled else "start"
        self.held = ""
        self.thought = False  # some reasoning was sent already

    def server_split(self) -> None:
        """The server parses reasoning: what arrives as content starts as content."""
        self.thought = True
        if self.state == "start":
            self.state = "content"

    def feed(self, text: str) -> tuple[str, str]:
        """(reasoning, content) to emit now; a possible partial tag is held back."""
        reasoning = content = ""
        self.held += text
        while self.held:
            if self.state == "start":
                head = self.held.lstrip()
                if head.startswith(_OPEN):
                    self.state, self.held = "think", head[len(_OPEN) :]
                elif _OPEN.startswith(head):
                    break  # still might become "<think>"
                else:
                    self.state = "content"
            elif self.state == "think":
                at = self.held.find(_CLOSE)
                if at >= 0:
                    reasoning += self.held[:at]
                    self.state, self.held = "after", self.held[at + len(_CLOSE) :]
                    continue
                keep = _partial_suffix(self.held, _CLOSE)
                reasoning += self.held[: len(self.held) - keep]
                self.thought = self.thought or bool(reasoning)
                self.held = self.held[len(self.held) - keep :]
                break
            elif self.state == "after":
                self.held = self.held.lstrip()
                if self.held:
                    self.state = "content"
            else:
                opening, closing = self.held.find(_OPEN), self.held.find(_CLOSE)
                at = min(i for i in (opening, closing, len(self.held)) if i >= 0)
                if at < len(self.held):
                    # a new think block, or a stray closing tag (dropped: what came before
                    # it was already sent as content and cannot be taken back)
                    content += self.held[:at]
                    if at == opening:
                        self.state, self.held = "think", self.held[at + len(_OPEN) :]
                        reasoning += "\n\n" if self.thought or reasoning else ""
                    else:
                        self.held = self.held[at + len(_CLOSE) :]
                    continue
                keep = max(_partial_suffix(self.held, _OPEN), _partial_suffix(self.held, _CLOSE))
                content += self.held[: len(self.held) - keep]
                self.held = self.held[len(self.held) - keep :]
                break
        return reasoning, content

    def flush(self) -> tuple[str, str]:
        """What is still held at the end of the stream."""
        held, self.held = self.held, ""
        return (held, "") if self.state == "think" else ("", held)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def _unparseable(args: str) -> str:
    """A suffix that makes streamed arguments unparseable to langchain's partial-JSON parser
    (which would otherwise complete ``{"path":`` to ``{"path": ""}``): close an open string,
    then a bracket that does not match the innermost open one."""
    stack: list[str] = []
    quoted = escaped = False
    for ch in args:
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return ('"' if quoted else "") + ("}" if stack and stack[-1] == "[" else "]")


class _ToolSlot:
    __slots__ = ("args", "held", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.args = ""
        self.held: bool | None = None  # arguments held back: they start as a JSON string

    def hold(self) -> bool:
        """Whether to hold the arguments back: double-encoded ones (a JSON string holding the
        object) are decoded at the end, where langchain would see a string, not an object."""
        if self.held is None and self.args.strip():
            self.held = self.args.lstrip()[0] == '"'
        return bool(self.held)

    def decoded(self) -> str:
        """Held arguments, decoded when they are a JSON string of an object."""
        try:
            inner = json.loads(self.args)
            if isinstance(inner, str) and isinstance(json.loads(inner), dict):
                return inner
        except ValueError:
            pass
        return self.args


class StreamDecoder:
    """Turns SSE lines of one chat-completions stream into message chunks.

    Args:
        ctx: what the request offered (tools, think prefill).
        url: the base URL streaming (for metadata and errors).
        started: ``clock()`` when the request was sent, for ``latency_s``.
        clock: the clock (``time.perf_counter``).
    """

    def __init__(
        self,
        ctx: ReplyContext,
        *,
        url: str,
        started: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._ctx = ctx
        self._url = url
        self._started = started
        self._clock = clock
        self._data: list[str] = []
        self._done = False
        self._finish_reason: str | None = None
        self._model: str | None = None
        self._id: str | None = None
        self._usage: Any = None
        self._think = _ThinkSplitter(prefilled=ctx.think_prefilled)
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._slots: dict[int, _ToolSlot] = {}
        self._last_payload = ""

    # --- SSE framing ---------------------------------------------------------------------

    def feed_line(self, line: str) -> list[ChatGenerationChunk]:
        """One line of the body (without its newline)."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return []

    def _dispatch(self) -> list[ChatGenerationChunk]:
        if not self._data:
            return []
        payload, self._data = "\n".join(self._data), []
        return self._on_payload(payload)

    def finish(self) -> list[ChatGenerationChunk]:
        """End of body: the last chunk, or :class:`ModelResponseError` if the stream was cut."""
        out = self._dispatch()
        if not (self._done or self._finish_reason):
            raise ModelResponseError(
                f"stream from {self._url} ended before the reply was complete",
                url=self._url,
                excerpt=self._excerpt(),
            )
        reasoning, content = self._think.flush()
        self._content.append(content)
        self._reasoning.append(reasoning)
        cut_off = self._finish_reason == "length"
        recovered: list[ToolCallChunk] = []
        text = "".join(self._content)
        if not self._slots:
            calls, invalid, _ = recover_calls(text, self._ctx, cut_off=cut_off)
            recovered = [
                tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                for i, c in enumerate(calls)
            ]
            # langchain parses merged chunks itself: arguments that cannot parse keep an
            # invalid call invalid (a leading "]" is a mismatched bracket to its parser)
            recovered += [
                tool_call_chunk(name=c["name"], args="]" + (c["args"] or ""), id=c["id"], index=i)
                for i, c in enumerate(invalid, start=len(calls))
            ]
        else:
            final_index = max(self._slots)
            for index, slot in sorted(self._slots.items()):
                cut = cut_off and index == final_index
                if slot.held:
                    held = slot.args if cut else slot.decoded()
                    args = held + (_unparseable(held) if cut else "")
                elif cut:
                    args = _unparseable(slot.args)
                else:
                    continue
                recovered.append(tool_call_chunk(args=args, index=index))
        thought = "".join(self._reasoning)
        calls_text = "".join(slot.args for slot in self._slots.values())
        usage, estimated = estimated_usage(self._usage, self._ctx, text, thought, calls_text)
        last = AIMessageChunk(
            content=content,
            additional_kwargs={"reasoning": reasoning} if reasoning else {},
            tool_call_chunks=recovered,
            usage_metadata=usage,
            response_metadata=reply_metadata(
                self._model,
                self._finish_reason,
                self._clock() - self._started,
                self._url,
                self._ctx,
                estimated,
            ),
            id=self._id,
            chunk_position="last",
        )
        out.append(ChatGenerationChunk(message=last))
        return out

    def cut(self, cause: BaseException) -> ModelResponseError:
        """The error for a transport failure in the middle of the body."""
        return ModelResponseError(
            f"stream from {self._url} cut mid-stream: {type(cause).__name__}: {cause}",
            url=self._url,
            excerpt=self._excerpt(),
        )

    def _excerpt(self) -> str:
        return excerpt(self._last_payload or "".join(self._data) or "(nothing received)")

    # --- chat-completion chunks ----------------------------------------------------------

    def _on_payload(self, payload: str) -> list[ChatGenerationChunk]:
        if payload.strip() == "[DONE]":
            self._done = True
            return []
        self._last_payload = payload
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            raise ModelResponseError(
                f"stream from {self._url} sent a chunk that is not JSON",
                url=self._url,
                excerpt=excerpt(payload),
            ) from None
        if not isinstance(data, dict):
            raise ModelResponseError(
                f"stream from {self._url} sent a chunk that is not an object",
                url=self._url,
                excerpt=excerpt(payload),
            )
        if "error" in data:
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ModelResponseError(
                f"server error mid-stream from {self._url}: {message}",
                url=self._url,
                excerpt=excerpt(payload),
            )
        self._model = data.get("model") or self._model
        self._id = self._id or (data.get("id") if isinstance(data.get("id"), str) else None)
        if data.get("usage"):
            self._usage = data["usage"]
        out: list[ChatGenerationChunk] = []
        for choice in data.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
            delta = choice.get("delta")
            if isinstance(delta, dict) and (chunk := self._on_delta(delta)) is not None:
                out.append(chunk)
        return out

    def _on_delta(self, delta: dict[str, Any]) -> ChatGenerationChunk | None:
        raw = delta.get("reasoning") or delta.get("reasoning_content")
        reasoning = raw if isinstance(raw, str) else ""
        if reasoning:
            self._think.server_split()
        text = delta.get("content")
        content = text if isinstance(text, str) else ""
        if content:
            thought, content = self._think.feed(content)
            reasoning += thought
        self._content.append(content)
        self._reasoning.append(reasoning)
        calls = self._tool_deltas(delta.get("tool_calls"))
        return self._chunk(content, reasoning, calls)

    def _chunk(
        self, content: str, reasoning: str, calls: list[ToolCallChunk]
    ) -> ChatGenerationChunk | None:
        if not (content or reasoning or calls):
            return None
        extra = {"reasoning": reasoning} if reasoning else {}
        message = AIMessageChunk(
            content=content, additional_kwargs=extra, tool_call_chunks=calls, id=self._id
        )
        return ChatGenerationChunk(message=message)

    def _tool_deltas(self, raw: Any) -> list[ToolCallChunk]:
        if not isinstance(raw, list):
            return []
        out: list[ToolCallChunk] = []
        for position, item in enumerate(raw):
            if not isinstance(item, dict):
                continue
            index = item.get("index", position)
            index = index if isinstance(index, int) else position
            slot = self._slots.setdefault(index, _ToolSlot())
            function = item.get("function") if isinstance(item.get("function"), dict) else {}
            assert isinstance(function, dict)
            new_id = item.get("id") if isinstance(item.get("id"), str) else None
            call_id = new_id if new_id and slot.id is None else None
            slot.id = slot.id or call_id
            name = function.get("name") if isinstance(function.get("name"), str) else ""
            if name and name != slot.name:
                # a repeated whole name is dropped; a different piece continues the name
                slot.name += name
            else:
                name = ""
            args = function.get("arguments")
            piece = args if isinstance(args, str) else (json.dumps(args) if args else "")
            slot.args += piece
            if slot.hold():
                piece = ""
            if call_id or name or piece:
                out.append(tool_call_chunk(name=name or None, args=piece, id=call_id, index=index))
        return out
