"""An httpx transport that sends through aiohttp: the async client's connection pool.

httpx stays the client API (request building, status handling, streaming, the retry plan of
:mod:`._retry` and the ``MockTransport`` of unit tests are unchanged); only the bytes go
through an :class:`aiohttp.ClientSession`. The reason is cost under concurrency: httpcore 1.0's
pool does work proportional to open connections x queued requests on every request
(encode/httpcore#1035), while aiohttp's connector hands out keep-alive connections in O(1) and
parses HTTP in C. With 100 concurrent agent runs the client's CPU per run fell from about 8 ms
to about 5.5 ms (``benchmarks/concurrency.py``).

Errors come back as httpx's exception types, so the retry plan and callers see one
vocabulary: ``ConnectError``/``ConnectTimeout`` when no connection was made,
``ReadError``/``ReadTimeout``/``RemoteProtocolError`` after.
(The ``httpx-aiohttp`` package does the same job, but reports a server that disconnects as
``ConnectTimeout`` and lets malformed responses escape as aiohttp's own exceptions.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx

__all__ = ["AiohttpTransport"]

# aiohttp computes these from the URL and the body; httpx's values would be sent twice.
_DROP_REQUEST_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
# aiohttp has already undone the chunked framing; httpx must not try again.
_DROP_RESPONSE_HEADERS = frozenset({b"transfer-encoding"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    """A pooled HTTP/1.1 transport on aiohttp, for use on one event loop.

    Args:
        max_connections: connections open at most (all hosts together); further requests
            wait for a free one, bounded by the request's pool timeout.
    """

    def __init__(self, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes content-encoding itself
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open()
        headers = [
            (k, v)
            for k, v in request.headers.multi_items()
            if k.lower() not in _DROP_REQUEST_HEADERS
        ]
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        try:
            response = await session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                timeout=_timeout(request.extensions.get("timeout")),
                allow_redirects=False,
            )
        except Exception as exc:
            raise _httpx_error(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=[
                (k, v) for k, v in response.raw_headers if k.lower() not in _DROP_RESPONSE_HEADERS
            ],
            stream=_ResponseStream(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _ResponseStream(httpx.AsyncByteStream):
    """One aiohttp response body as httpx's byte stream, chunks as they arrive."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        # A fully read body has already gone back to the pool; a partly read one is closed.
        self._response.release()


def _timeout(value: Any) -> aiohttp.ClientTimeout:
    """httpx's per-request timeout extension as aiohttp's."""
    if not isinstance(value, dict):
        return aiohttp.ClientTimeout(total=None)
    return aiohttp.ClientTimeout(
        total=None,
        connect=value.get("pool"),
        sock_connect=value.get("connect"),
        sock_read=value.get("read"),
    )


def _httpx_error(exc: Exception, request: httpx.Request) -> Exception:
    """The httpx exception that means what an aiohttp (or socket) exception means."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's read timeouts subclass it
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientResponseError):  # a response that is not HTTP
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return httpx.ReadError(message, request=request)
    return exc
