"""A misbehaving OpenAI-compatible server on loopback: huge bodies, endless streams, slowloris.

Each connection reads one request and then runs the chosen behaviour. Every behaviour is
bounded by itself: it stops after :data:`MAX_SEND` bytes, after :data:`MAX_SECONDS`, or as soon
as the client hangs up, so a test never leaves a server running or a socket filling forever.
Bodies are generated as they are sent; the server never holds a big body in memory.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator

__all__ = ["BEHAVIOURS", "HostileServer"]

MAX_SEND = 1 << 30  # 1 GiB: the size of the attacks in issue 20
MAX_SECONDS = 60.0
PORTS = range(8700, 8720)
_CHUNK = 64 * 1024

Body = Iterator[bytes]


def _head(status: int = 200, ctype: str = "application/json", extra: str = "") -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 500: "Internal Server Error"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\n{extra}connection: close\r\n\r\n"
    ).encode()


def _repeat(prefix: bytes, unit: bytes) -> Body:
    yield prefix
    block = unit * (_CHUNK // len(unit))
    while True:
        yield block


def huge_body(auth: str) -> Body:
    """A 1 GiB JSON body (Content-Length announced)."""
    yield _head(extra=f"content-length: {MAX_SEND}\r\n")
    yield from _repeat(b'{"choices": [{"message": {"content": "', b"a")


def huge_error(auth: str) -> Body:
    """A 500 whose body is 1 GiB."""
    yield _head(500, extra=f"content-length: {MAX_SEND}\r\n")
    yield from _repeat(b'{"error": {"message": "', b"e")


def endless_sse_line(auth: str) -> Body:
    """A stream whose first line never ends."""
    yield _head(ctype="text/event-stream")
    yield from _repeat(b"data: ", b"x")


def endless_stream(auth: str) -> Body:
    """Valid SSE chunks, forever."""
    yield _head(ctype="text/event-stream")
    chunk = {"choices": [{"index": 0, "delta": {"content": "more "}}]}
    yield from _repeat(b"", b"data: " + json.dumps(chunk).encode() + b"\n\n")


def keepalive_comments(auth: str) -> Body:
    """SSE keep-alive comments, forever."""
    yield _head(ctype="text/event-stream")
    yield from _repeat(b"", b":\n")


def slowloris_body(auth: str) -> Body:
    """Headers, then one byte of body every 0.2 s."""
    yield _head(extra="content-length: 1000000\r\n")
    while True:
        time.sleep(0.2)
        yield b" "


def slowloris_headers(auth: str) -> Body:
    """The status line and headers one byte every 0.2 s."""
    for byte in _head(extra="x-pad: " + "p" * 10_000 + "\r\n"):
        time.sleep(0.2)
        yield bytes([byte])


def slowloris_stream(auth: str) -> Body:
    """A stream that sends one keep-alive comment every 0.2 s, forever."""
    yield _head(ctype="text/event-stream")
    while True:
        time.sleep(0.2)
        yield b":\n"


def gzip_bomb(auth: str) -> Body:
    """A gzip-encoded body that inflates to 1 GiB of zeros."""
    yield _head(extra="content-encoding: gzip\r\n")
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"0" * (1 << 20)
    yield squeeze.compress(b'{"x": "')
    while True:
        yield squeeze.compress(zeros) or squeeze.flush(zlib.Z_SYNC_FLUSH)


def echo_auth_error(auth: str) -> Body:
    """A 401 whose message quotes the Authorization header."""
    body = json.dumps({"error": {"message": f"bad credentials: {auth}"}}).encode()
    yield _head(401, extra=f"content-length: {len(body)}\r\n") + body


def echo_auth_reply(auth: str) -> Body:
    """A completion whose content quotes the Authorization header."""
    reply = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": f"you sent {auth}"}}],
        "finish_reason": "stop",
    }
    body = json.dumps(reply).encode()
    yield _head(extra=f"content-length: {len(body)}\r\n") + body


def echo_auth_stream(auth: str) -> Body:
    """A stream whose error event quotes the Authorization header."""
    yield _head(ctype="text/event-stream")
    yield b"data: " + json.dumps({"error": {"message": f"denied {auth}"}}).encode() + b"\n\n"


def deep_json(auth: str) -> Body:
    """A body nested 100,000 levels deep."""
    body = b"[" * 100_000 + b"]" * 100_000
    yield _head(extra=f"content-length: {len(body)}\r\n") + body


def deep_arguments(auth: str) -> Body:
    """A completion whose tool-call arguments are nested 200,000 levels deep."""
    args = '{"n": ' + "[" * 200_000 + "]" * 200_000 + "}"
    call = {"id": "c1", "type": "function", "function": {"name": "count", "arguments": args}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    reply = {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    body = json.dumps(reply).encode()
    yield _head(extra=f"content-length: {len(body)}\r\n") + body


BEHAVIOURS: dict[str, Callable[[str], Body]] = {
    f.__name__: f
    for f in (
        huge_body,
        huge_error,
        endless_sse_line,
        endless_stream,
        keepalive_comments,
        slowloris_body,
        slowloris_headers,
        slowloris_stream,
        gzip_bomb,
        echo_auth_error,
        echo_auth_reply,
        echo_auth_stream,
        deep_json,
        deep_arguments,
    )
}


class HostileServer:
    """Serves one behaviour to every connection, on a port from 8700-8719, in a thread."""

    def __init__(self, behaviour: str) -> None:
        self._behaviour = BEHAVIOURS[behaviour]
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for port in PORTS:
            try:
                self._sock.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        else:
            self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.sent = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> HostileServer:
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _serve(self, conn: socket.socket) -> None:
        started = time.monotonic()
        with conn:
            conn.settimeout(5)
            auth = _read_request(conn)
            try:
                for piece in self._behaviour(auth):
                    if self._stop.is_set() or time.monotonic() - started > MAX_SECONDS:
                        return
                    conn.sendall(piece)
                    self.sent += len(piece)
                    if self.sent > MAX_SEND:
                        return
            except OSError:
                return  # the client hung up: the attack is over


def _read_request(conn: socket.socket) -> str:
    """Read one request (headers and body); return its Authorization header."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return ""
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        auth, length = "", 0
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "authorization":
                auth = value.strip()
            elif name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(body) < length:
            more = conn.recv(65536)
            if not more:
                break
            body += more
    except OSError:
        return ""
    return auth
