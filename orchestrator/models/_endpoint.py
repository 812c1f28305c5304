"""The connection to an OpenAI-compatible server: pooled clients, one per side and loop.

This module knows HTTP and nothing about chat messages (that is :mod:`._wire`). One
:class:`Endpoint` holds one pooled :class:`httpx.Client` and one :class:`httpx.AsyncClient`
per event loop, created lazily; every request goes through the retry plan of :mod:`._retry`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager

import httpx

from orchestrator.models._replicas import InFlightLimiter, ReplicaSet
from orchestrator.models._retry import RetryPolicy, arun_plan, attempt_plan, retry_after, run_plan

__all__ = ["Endpoint", "RetryPolicy"]

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
    ) -> None:
        if not base_urls:
            raise ValueError("an endpoint needs at least one base URL")
        self.base_urls = [u.rstrip("/") for u in base_urls]
        self.replicas = ReplicaSet(self.base_urls, cooldown_s=replica_cooldown_s)
        self.limiter = InFlightLimiter(max_in_flight) if max_in_flight else None
        self.policy = policy
        self._headers = dict(headers)
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

    def post(self, path: str, body: bytes, *, timeout: float | None = None) -> tuple[bytes, str]:
        """POST ``body`` with retries; returns the response body and the base URL that answered.

        Raises:
            ModelConnectionError: no server could be reached.
            ModelHTTPError: a non-retryable status, or a retryable one after all retries.
        """
        client = self._sync_client()
        t = self._timeout if timeout is None else timeout

        def send(url: str) -> httpx.Response:
            self.replicas.started(url)
            try:
                response = client.send(self._request(client, url, path, body, t))
            except BaseException:
                self.replicas.finished(url, ok=False)
                raise
            self._settle(url, response)
            return response

        with self._slot():
            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = run_plan(plan, send, self.policy.sleep)
        return response.content, url

    async def apost(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> tuple[bytes, str]:
        """Async :meth:`post`."""
        client = await self._async_client()
        t = self._timeout if timeout is None else timeout

        async def send(url: str) -> httpx.Response:
            self.replicas.started(url)
            try:
                response = await client.send(self._request(client, url, path, body, t))
            except BaseException:
                self.replicas.finished(url, ok=False)
                raise
            self._settle(url, response)
            return response

        async with self._aslot():
            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = await arun_plan(plan, send, self.policy.asleep)
        return response.content, url

    @contextmanager
    def stream(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> Iterator[tuple[httpx.Response, str]]:
        """POST and hold the response open for streaming; retries happen before the first byte."""
        client = self._sync_client()
        t = self._timeout if timeout is None else timeout

        def send(url: str) -> httpx.Response:
            self.replicas.started(url)
            try:
                response = client.send(self._request(client, url, path, body, t), stream=True)
            except BaseException:
                self.replicas.finished(url, ok=False)
                raise
            if not response.is_success:
                try:
                    response.read()
                finally:
                    response.close()
                    self._settle(url, response)
            return response

        with self._slot():
            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = run_plan(plan, send, self.policy.sleep)
            try:
                yield response, url
            finally:
                response.close()
                self._settle(url, response)

    @asynccontextmanager
    async def astream(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> AsyncIterator[tuple[httpx.Response, str]]:
        """Async :meth:`stream`."""
        client = await self._async_client()
        t = self._timeout if timeout is None else timeout

        async def send(url: str) -> httpx.Response:
            self.replicas.started(url)
            try:
                request = self._request(client, url, path, body, t)
                response = await client.send(request, stream=True)
            except BaseException:
                self.replicas.finished(url, ok=False)
                raise
            if not response.is_success:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                    self._settle(url, response)
            return response

        async with self._aslot():
            plan = attempt_plan(self.policy, self.replicas.order())
            response, url = await arun_plan(plan, send, self.policy.asleep)
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
