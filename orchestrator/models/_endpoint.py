"""The connection to an OpenAI-compatible server: pooled clients, one per side and loop.

This module knows HTTP and nothing about chat messages (that is :mod:`._wire`). One
:class:`Endpoint` holds one pooled :class:`httpx.Client` and one :class:`httpx.AsyncClient`
per event loop, created lazily; every request goes through the retry plan of :mod:`._retry`,
and every read through the bounds of :mod:`._bounded_io` (body size, a deadline for the whole
call, retries and waits included, and the API key scrubbed from what comes back).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
)
from contextlib import asynccontextmanager, contextmanager

import httpx

from orchestrator.models._bounded_io import DEFAULT_MAX_RESPONSE_BYTES, BoundedLines, ReadBounds
from orchestrator.models._replicas import InFlightLimiter, ReplicaSet
from orchestrator.models._retry import RetryPolicy, arun_plan, attempt_plan, retry_after, run_plan

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "Endpoint", "RetryPolicy"]

_BOUNDS = "bicameral.read_bounds"  # where a streamed response carries its call's bounds

_CONNECT_TIMEOUT = 10.0  # a server that takes longer to accept is as good as down
_JSON = {"content-type": "application/json"}


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, _CONNECT_TIMEOUT))


class Endpoint:
    """One OpenAI-compatible server (or several mirrors of it) behind pooled HTTP clients.

    Sync calls go through one :class:`httpx.Client`. Async calls go through one
    :class:`httpx.AsyncClient` per event loop whose transport is aiohttp's connection pool
    (:class:`~orchestrator.models._aiohttp_transport.AiohttpTransport`): httpcore's own pool
    does work proportional to connections x queued requests on every request
    (encode/httpcore#1035), which made 100 concurrent calls cost 23x the server's latency.
    A loop's client is closed by :meth:`aclose`, or at the latest when the loop shuts down
    (``asyncio.run`` and other well-behaved runners).

    Several base URLs are replicas of one model: each request tries them least-loaded first
    (:class:`~orchestrator.models._replicas.ReplicaSet`), a failed one cooling down, and at
    most ``max_in_flight`` requests are outstanding at once from this process.

    Args:
        base_urls: base URLs ending in ``/v1``: replicas, tried least-loaded first.
        headers: sent with every request (authorization lives here, never in logs).
        policy: the retry policy.
        timeout: default per-request timeout in seconds.
        transport: an injected httpx transport (a ``MockTransport`` in unit tests); a
            transport that is only sync or only async serves only that side.
        max_connections: pool size per client.
        max_in_flight: most requests outstanding at once (``None``: no bound).
        replica_cooldown_s: how long a failed replica goes to the back of the line.
        max_response_bytes: largest body (or whole stream) read from one response.
        deadline: seconds one call may take in all (every attempt, wait and read); default
            ``timeout * (max_retries + 1)``. Async calls are cut at it exactly; sync ones at
            their next read.
    """

    def __init__(
        self,
        base_urls: list[str],
        *,
        headers: Mapping[str, str],
        policy: RetryPolicy,
        timeout: float,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        max_in_flight: int | None = None,
        replica_cooldown_s: float = 5.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float | None = None,
    ) -> None:
        if not base_urls:
            raise ValueError("an endpoint needs at least one base URL")
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.replicas = ReplicaSet(self.base_urls, cooldown_s=replica_cooldown_s)
        self.limiter = InFlightLimiter(max_in_flight) if max_in_flight else None
        self.policy = policy
        self.max_response_bytes = max_response_bytes
        self.deadline = deadline if deadline is not None else timeout * (policy.max_retries + 1)
        self._headers = dict(headers)
        auth = next((v for k, v in self._headers.items() if k.lower() == "authorization"), "")
        self._secret = auth.removeprefix("Bearer ").strip() or None
        self._timeout = timeout
        self._transport = transport
        self._max_connections = max_connections
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        # An async pool belongs to the loop that opened it: one client per loop, each with
        # the async generator that closes it when the loop shuts down.
        self._aclients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                transport = self._transport
                self._client = httpx.Client(
                    headers=self._headers,
                    timeout=self._timeout,
                    limits=self._limits,
                    transport=transport if isinstance(transport, httpx.BaseTransport) else None,
                    trust_env=False,
                )
            return self._client

    async def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(loop)
        if entry is not None:
            return entry[0]
        transport = self._transport
        if not isinstance(transport, httpx.AsyncBaseTransport):
            from orchestrator.models._aiohttp_transport import AiohttpTransport

            transport = AiohttpTransport(max_connections=self._max_connections)
        client = httpx.AsyncClient(
            headers=self._headers, timeout=self._timeout, transport=transport, trust_env=False
        )
        closer = _close_at_loop_shutdown(client)
        self._aclients[loop] = (client, closer)
        await closer.asend(None)  # started: from now on the loop closes it at shutdown
        return client

    def _request(
        self, client: httpx.Client | httpx.AsyncClient, url: str, path: str, body: bytes, t: float
    ) -> httpx.Request:
        return client.build_request(
            "POST", url + path, content=body, headers=_JSON, timeout=_timeout(t)
        )

    def _bounds(self) -> ReadBounds:
        return ReadBounds.starting_now(
            max_bytes=self.max_response_bytes, total_s=self.deadline, secret=self._secret
        )

    def _sleeper(self, bounds: ReadBounds) -> Callable[[float], None]:
        return lambda seconds: self.policy.sleep(min(seconds, bounds.remaining()))

    def _attempt_timeout(self, t: float, bounds: ReadBounds) -> float:
        return max(min(t, bounds.remaining()), 0.001)

    def post(self, path: str, body: bytes, *, timeout: float | None = None) -> tuple[bytes, str]:
        """POST ``body`` with retries; returns the response body and the base URL that answered.

        The deadline starts once the call holds an in-flight slot (waiting for one is free).

        Raises:
            ModelConnectionError: no server could be reached, or not within the deadline.
            ModelHTTPError: a non-retryable status, or a retryable one after all retries.
            ModelResponseError: a body larger than ``max_response_bytes``.
        """
        client = self._sync_client()
        t = self._timeout if timeout is None else timeout
        with self._slot():
            bounds = self._bounds()

            def send(url: str) -> httpx.Response:
                bounds.check_time(url)
                self.replicas.started(url)
                try:
                    timeout_s = self._attempt_timeout(t, bounds)
                    response = client.send(
                        self._request(client, url, path, body, timeout_s), stream=True
                    )
                    response = bounds.replayable(response, bounds.read(response, url))
                except BaseException:
                    self.replicas.finished(url, ok=False)
                    raise
                self._settle(url, response)
                return response

            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = run_plan(plan, send, self._sleeper(bounds))
        return response.content, url

    async def apost(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> tuple[bytes, str]:
        """Async :meth:`post`; the deadline interrupts a request in flight."""
        client = await self._async_client()
        t = self._timeout if timeout is None else timeout
        async with self._aslot():
            bounds = self._bounds()

            async def send(url: str) -> httpx.Response:
                self.replicas.started(url)
                try:
                    timeout_s = self._attempt_timeout(t, bounds)
                    request = self._request(client, url, path, body, timeout_s)
                    response = await _within(bounds, url, client.send(request, stream=True))
                    response = bounds.replayable(response, await bounds.aread(response, url))
                except BaseException:
                    self.replicas.finished(url, ok=False)
                    raise
                self._settle(url, response)
                return response

            async def sleep(seconds: float) -> None:
                await self.policy.asleep(min(seconds, bounds.remaining()))

            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = await arun_plan(plan, send, sleep)
        return response.content, url

    @contextmanager
    def stream(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> Iterator[tuple[httpx.Response, str]]:
        """POST and hold the response open for streaming; retries happen before the first byte.

        Read the body with :meth:`lines`, which keeps to the call's bounds.
        """
        client = self._sync_client()
        t = self._timeout if timeout is None else timeout
        with self._slot():
            bounds = self._bounds()

            def send(url: str) -> httpx.Response:
                bounds.check_time(url)
                self.replicas.started(url)
                try:
                    timeout_s = self._attempt_timeout(t, bounds)
                    response = client.send(
                        self._request(client, url, path, body, timeout_s), stream=True
                    )
                except BaseException:
                    self.replicas.finished(url, ok=False)
                    raise
                if not response.is_success:
                    try:
                        response = bounds.replayable(response, bounds.read(response, url))
                    finally:
                        self._settle(url, response)
                return response

            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = run_plan(plan, send, self._sleeper(bounds))
            response.extensions[_BOUNDS] = bounds
            try:
                yield response, url
            finally:
                response.close()
                self._settle(url, response)

    @asynccontextmanager
    async def astream(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> AsyncIterator[tuple[httpx.Response, str]]:
        """Async :meth:`stream`; read the body with :meth:`lines` (``async for``)."""
        client = await self._async_client()
        t = self._timeout if timeout is None else timeout
        async with self._aslot():
            bounds = self._bounds()

            async def send(url: str) -> httpx.Response:
                self.replicas.started(url)
                try:
                    timeout_s = self._attempt_timeout(t, bounds)
                    request = self._request(client, url, path, body, timeout_s)
                    response = await _within(bounds, url, client.send(request, stream=True))
                except BaseException:
                    self.replicas.finished(url, ok=False)
                    raise
                if not response.is_success:
                    try:
                        response = bounds.replayable(response, await bounds.aread(response, url))
                    finally:
                        self._settle(url, response)
                return response

            async def sleep(seconds: float) -> None:
                await self.policy.asleep(min(seconds, bounds.remaining()))

            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = await arun_plan(plan, send, sleep)
            response.extensions[_BOUNDS] = bounds
            try:
                yield response, url
            finally:
                await response.aclose()
                self._settle(url, response)

    def _settle(self, url: str, response: httpx.Response) -> None:
        """Book the end of a request to ``url``: a retryable status cools the replica down."""
        failed = self.policy.retryable(response.status_code)
        after = retry_after(response.headers) if failed else None
        self.replicas.finished(url, ok=not failed, retry_after=after)

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if self.limiter is None:
            yield
            return
        self.limiter.acquire()
        try:
            yield
        finally:
            self.limiter.release()

    @asynccontextmanager
    async def _aslot(self) -> AsyncIterator[None]:
        if self.limiter is None:
            yield
            return
        await self.limiter.aacquire()
        try:
            yield
        finally:
            self.limiter.release()

    def lines(self, response: httpx.Response, url: str) -> BoundedLines:
        """The lines of a response from :meth:`stream` or :meth:`astream`, in batches per
        network read, within the call's bounds (iterate with ``for`` or ``async for``)."""
        bounds: ReadBounds = response.extensions.get(_BOUNDS) or self._bounds()
        return bounds.lines(response, url)

    def close(self) -> None:
        """Close the sync pool (async pools close with :meth:`aclose`)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the async pool of the running loop and the sync pool."""
        entry = self._aclients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()
        self.close()


async def _within(bounds: ReadBounds, url: str, call: Awaitable[httpx.Response]) -> httpx.Response:
    """Await ``call`` (connect, send, read the headers) within what is left of the deadline."""
    try:
        async with asyncio.timeout(bounds.remaining()):
            return await call
    except TimeoutError:
        raise bounds.late(url) from None


async def _close_at_loop_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Suspends until closed; closing it closes ``client``.

    Once started, the event loop tracks it (``sys.set_asyncgen_hooks``) and closes it in
    ``loop.shutdown_asyncgens()``, which ``asyncio.run`` calls before closing the loop: a
    client nobody closed still releases its connections on the loop that owns them.
    """
    try:
        yield
    finally:
        await client.aclose()
