"""Reading a model server's reply within bounds: size, line length, deadline, and secrets.

A server is untrusted: it may send a gigabyte body, an endless SSE line or stream, keep-alive
comments forever, or one byte a minute (slowloris). Everything the client reads from a
response goes through a :class:`ReadBounds`:

* at most ``max_bytes`` of body (a success body, a stream), at most :data:`ERROR_BODY_BYTES`
  of an error body (only an excerpt of it is ever shown);
* no line longer than ``max_bytes`` (the line buffer is the body's);
* nothing read after the call's deadline (``deadline`` on the monotonic clock), so per-read
  timeouts cannot add up to forever;
* the API key never comes back: a server that echoes the ``Authorization`` header has the
  key replaced by ``***`` in everything read, so it reaches no error, result or checkpoint.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx

from orchestrator.exceptions import ModelConnectionError, ModelResponseError

__all__ = [
    "CHUNK_COST",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ERROR_BODY_BYTES",
    "BoundedLines",
    "ReadBounds",
]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Largest response body (or whole stream, chunks charged as :data:`CHUNK_COST`) read by
default: 64 MiB, above any real chat completion (a 30,000-token stream costs about 60 MiB)."""
ERROR_BODY_BYTES = 64 * 1024
"""Most of an error body read; only its first characters are shown anyway."""
_NEWLINE = re.compile(r"\r\n|\r|\n")
_REDACTED = b"***"


@dataclass(frozen=True)
class ReadBounds:
    """The limits of one call's reads.

    Attributes:
        max_bytes: most body bytes (decoded) read from one response.
        deadline: ``time.monotonic()`` value after which nothing more is read.
        total_s: the call's whole budget in seconds (for messages).
        secret: the API key, replaced in everything read (None: no key).
    """

    max_bytes: int
    deadline: float
    total_s: float
    secret: bytes | None = None

    @classmethod
    def starting_now(cls, *, max_bytes: int, total_s: float, secret: str | None) -> ReadBounds:
        """Bounds for a call that starts now."""
        key = secret.encode() if secret else None
        return cls(max_bytes, time.monotonic() + total_s, total_s, key)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(self.deadline - time.monotonic(), 0.0)

    def check_time(self, url: str) -> None:
        """Raise when the deadline has passed."""
        if time.monotonic() >= self.deadline:
            raise self.late(url)

    def late(self, url: str) -> ModelConnectionError:
        """The error for a call that ran past its deadline."""
        return ModelConnectionError(
            f"no complete reply from {url} within the call's deadline of {self.total_s:g}s",
            url=url,
        )

    def too_large(self, url: str, limit: int) -> ModelResponseError:
        """The error for a body over ``limit`` bytes."""
        return ModelResponseError(
            f"response from {url} is larger than {limit} bytes (max_response_bytes)", url=url
        )

    def scrub(self, data: bytes) -> bytes:
        """``data`` with the API key replaced."""
        return data.replace(self.secret, _REDACTED) if self.secret and self.secret in data else data

    def scrub_text(self, text: str) -> str:
        """``text`` with the API key replaced."""
        if self.secret:
            return text.replace(self.secret.decode(), _REDACTED.decode())
        return text

    # --- whole bodies --------------------------------------------------------------------

    def read(self, response: httpx.Response, url: str) -> bytes:
        """The body of a streamed sync response, within bounds (closes the response)."""
        limit = self.max_bytes if response.is_success else ERROR_BODY_BYTES
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                parts.append(chunk)
                if size > limit:
                    if not response.is_success:
                        break
                    raise self.too_large(url, limit)
                self.check_time(url)
        finally:
            response.close()
        return self.scrub(b"".join(parts)[:limit])

    async def aread(self, response: httpx.Response, url: str) -> bytes:
        """Async :meth:`read`."""
        limit = self.max_bytes if response.is_success else ERROR_BODY_BYTES
        parts: list[bytes] = []
        size = 0
        try:
            chunks = response.aiter_bytes()
            while True:
                try:
                    async with asyncio.timeout(self.remaining()):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise self.late(url) from None
                size += len(chunk)
                parts.append(chunk)
                if size > limit:
                    if not response.is_success:
                        break
                    raise self.too_large(url, limit)
        finally:
            await response.aclose()
        return self.scrub(b"".join(parts)[:limit])

    def replayable(self, response: httpx.Response, body: bytes) -> httpx.Response:
        """A response holding ``body`` already read (what the retry plan and callers need)."""
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=response.request,
            extensions=response.extensions,
        )

    # --- streams -------------------------------------------------------------------------

    def lines(self, response: httpx.Response, url: str) -> BoundedLines:
        """The lines of a streamed body, within bounds, in batches (see :class:`BoundedLines`)."""
        return BoundedLines(self, response, url)


CHUNK_COST = 2048
"""Bytes of the cap charged for each message chunk a stream hands on: LangChain keeps every
chunk of a streamed reply (about 2 KB of objects each), so a flood of tiny events costs far
more memory than its bytes."""


class BoundedLines:
    """The lines of one streamed response, one batch per network read.

    Iterate it (``for``/``async for``); each item is the list of complete lines one read
    finished. Lines from one read can be handed on as one chunk, so a server that floods
    tiny events makes few chunks; :meth:`charge` counts each chunk handed on toward the cap.
    """

    def __init__(self, bounds: ReadBounds, response: httpx.Response, url: str) -> None:
        self._bounds = bounds
        self._response = response
        self._url = url
        self._splitter = _LineSplitter(bounds, url)

    def charge(self, chunks: int = 1) -> None:
        """Count ``chunks`` handed-on chunks toward the cap (:data:`CHUNK_COST` each)."""
        self._splitter.add(chunks * CHUNK_COST)

    def __iter__(self) -> Iterator[list[str]]:
        for chunk in self._response.iter_bytes():
            self._bounds.check_time(self._url)
            if batch := self._splitter.feed(chunk):
                yield batch
        if tail := self._splitter.finish():
            yield tail

    async def __aiter__(self) -> AsyncIterator[list[str]]:
        chunks = self._response.aiter_bytes()
        while True:
            try:
                async with asyncio.timeout(self._bounds.remaining()):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise self._bounds.late(self._url) from None
            if batch := self._splitter.feed(chunk):
                yield batch
        if tail := self._splitter.finish():
            yield tail


class _LineSplitter:
    """Bytes -> text lines (``\\n``, ``\\r\\n`` or ``\\r``), counting toward the body cap."""

    def __init__(self, bounds: ReadBounds, url: str) -> None:
        self._bounds = bounds
        self._url = url
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held: list[str] = []  # the line so far, in pieces: joined once, at its end
        self._size = 0

    def add(self, size: int) -> None:
        self._size += size
        if self._size > self._bounds.max_bytes:
            raise self._bounds.too_large(self._url, self._bounds.max_bytes)

    def feed(self, chunk: bytes) -> list[str]:
        self.add(len(chunk))
        decoded = self._decoder.decode(chunk)
        if "\n" not in decoded and "\r" not in decoded:
            self._held.append(decoded)
            return []
        text = "".join(self._held) + decoded
        # a "\r" at the end may be the first half of "\r\n": keep it for the next chunk
        cut = len(text) - 1 if text.endswith("\r") else len(text)
        parts = _NEWLINE.split(text[:cut])
        self._held = [parts.pop() + text[cut:]]
        return [self._bounds.scrub_text(p) for p in parts]

    def finish(self) -> list[str]:
        tail = "".join(self._held) + self._decoder.decode(b"", final=True)
        self._held = []
        lines = _NEWLINE.split(tail.removesuffix("\r"))
        return [self._bounds.scrub_text(line) for line in lines if line]
