"""A fake vLLM: an OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

Real sockets, real HTTP/1.1 keep-alive, real SSE (chunked), stdlib only (asyncio), so it
serves hundreds of concurrent connections. Each request to ``/v1/chat/completions`` takes
the next queued reply (or the default reply) and renders it the way vLLM does: a JSON
completion, or SSE chunks when the request says ``"stream": true``.

Replies (defined in tests/fake_openai_replies.py, re-exported here):

* :class:`ChatReply` -- an assistant message (content, reasoning, tool calls, usage) rendered
  as JSON or as a stream, vLLM-shaped;
* :class:`JSONReply` / :class:`SSEReply` -- a fixed body (e.g. one recorded from a real server);
* :class:`ErrorReply` -- an error status (500, 429 with ``Retry-After``...);
* :class:`Fault` -- reset before answering, reset or cut mid-stream, truncated body, garbage.

In tests::

    with FakeOpenAIServer() as server:
        server.enqueue(ErrorReply(500), ChatReply("hi"))
        ...  # point a client at server.base_url

Benchmarks can run it in a separate process: ``python -m tests.fake_openai_server --port 0``
prints ``READY <port>`` and serves until stdin closes (see :func:`serve_in_subprocess`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fake_openai_replies import (
    ChatReply,
    ErrorReply,
    Fault,
    JSONReply,
    Reply,
    SSEReply,
    ToolCallSpec,
    load_fixture,
)

__all__ = [
    "ChatReply",
    "ErrorReply",
    "FakeOpenAIServer",
    "Fault",
    "JSONReply",
    "RecordedRequest",
    "Reply",
    "SSEReply",
    "ToolCallSpec",
    "load_fixture",
    "serve_in_subprocess",
    "serve_module_in_subprocess",
]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body).encode()
    head = {"content-type": "application/json", "content-length": str(len(data))}
    return _head(status, {**head, **(headers or {})}) + data


def _chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_SSE_HEAD = _head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})


class FakeOpenAIServer:
    """The fake server; runs its own event loop in a daemon thread.

    Args:
        latency_ms: delay added to every chat request.
        default_reply: answers when no reply is queued; without one such a request gets a
            400 saying so (a test that sends more requests than it scripted fails loudly).
        host: loopback only.
        port: 0 for an ephemeral port.
    """

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        default_reply: Reply | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        served_models: tuple[str, ...] = ("fake",),
    ) -> None:
        self.latency_ms = latency_ms
        self.served_models = served_models
        self.default_reply = default_reply
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        """The most chat requests this server was answering at one time."""
        self._in_flight = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies for the next chat requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.max_in_flight = 0

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests received, in order."""
        with self._lock:
            return [r.json for r in self.requests if r.path.endswith("/chat/completions")]

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port, backlog=4096)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def shutdown() -> None:
            server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        loop.close()
        self._loop = self._server = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # shutting down; ending normally keeps asyncio quiet
            writer.transport.abort()
        finally:
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        recorded = RecordedRequest(method, path, headers, body)
        with self._lock:
            self.requests.append(recorded)
        if method == "GET" and path.endswith("/models"):
            data = [{"id": name, "object": "model"} for name in self.served_models]
            models = {"object": "list", "data": data}
            writer.write(_json_response(200, models))
        elif method == "POST" and path.endswith("/chat/completions"):
            return await self._chat(recorded, writer)
        else:
            writer.write(_json_response(404, {"error": {"message": f"no route {path}"}}))
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    async def _chat(self, recorded: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        self._in_flight += 1  # only this server's loop touches it
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await self._answer(recorded, writer)
        finally:
            self._in_flight -= 1

    async def _answer(self, recorded: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        with self._lock:
            reply = self._queue.popleft() if self._queue else self.default_reply
        try:
            request = json.loads(recorded.body)
        except ValueError:
            request = {}
        if reply is None:
            body = {"error": {"message": "fake server: no reply queued", "code": 400}}
            writer.write(_json_response(400, body))
            await writer.drain()
            return True
        delay = (self.latency_ms + reply.latency_ms) / 1000
        if delay:
            await asyncio.sleep(delay)
        stream = bool(request.get("stream"))
        if isinstance(reply, ChatReply) and stream:
            await self._write_stream(writer, SSEReply(reply.render_events(request)).body())
        elif isinstance(reply, ChatReply):
            writer.write(_json_response(200, reply.render_json(request)))
        elif isinstance(reply, JSONReply):
            writer.write(_json_response(reply.status, reply.body, reply.headers))
        elif isinstance(reply, SSEReply):
            await self._write_stream(writer, reply.body())
        elif isinstance(reply, ErrorReply):
            extra = {"retry-after": reply.retry_after} if reply.retry_after else {}
            error = {"object": "error", "message": reply.message, "code": reply.status}
            writer.write(_json_response(reply.status, {"error": error}, extra))
        else:
            await self._fault(reply, request, stream, writer)
            return False
        await writer.drain()
        return True

    async def _write_stream(self, writer: asyncio.StreamWriter, body: bytes) -> None:
        writer.write(_SSE_HEAD)
        for event in body.split(b"\n\n"):
            if event:
                writer.write(_chunked(event + b"\n\n"))
        writer.write(b"0\r\n\r\n")

    async def _fault(
        self, fault: Fault, request: dict[str, Any], stream: bool, writer: asyncio.StreamWriter
    ) -> None:
        if fault.kind == "garbage":
            head = {"content-type": "application/json", "content-length": str(len(fault.body))}
            writer.write(_head(200, head) + fault.body)
            await writer.drain()
            return
        if fault.kind == "truncated_body":
            data = json.dumps(fault.reply.render_json(request)).encode()
            writer.write(_head(200, {"content-type": "application/json", "connection": "close"}))
            writer.write(data[: len(data) // 2])
            await writer.drain()
            return
        if fault.kind in ("reset_mid_stream", "cut_mid_stream"):
            writer.write(_SSE_HEAD)
            for event in fault.reply.render_events(request)[: fault.after]:
                writer.write(_chunked(f"data: {json.dumps(event)}\n\n".encode()))
            await writer.drain()
            if fault.kind == "cut_mid_stream":
                return
        sock = writer.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


@contextlib.contextmanager
def serve_in_subprocess(latency_ms: float = 0.0, content: str = "ok") -> Iterator[str]:
    """Run the server in its own process (own GIL) with a default reply; yields the base URL."""
    args = ["--latency-ms", str(latency_ms), "--content", content]
    with serve_module_in_subprocess("tests.fake_openai_server", args) as url:
        yield url


@contextlib.contextmanager
def serve_module_in_subprocess(module: str, args: list[str]) -> Iterator[str]:
    """Run ``python -m module --port 0 ARGS`` from the repo root; it must print ``READY <port>``
    and serve until its stdin closes. Yields the base URL."""
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", module, "--port", "0", *args]
    proc = subprocess.Popen(cmd, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"fake server failed to start: {line}")
        yield f"http://127.0.0.1:{line[1]}/v1"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--content", default="ok", help="content of the default reply")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        latency_ms=args.latency_ms, default_reply=ChatReply(args.content), port=args.port
    )
    with server:
        print(f"READY {server.port}", flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
