"""The connection to an OpenAI-compatible server: pooled clients, retries, failover.

This module knows HTTP and nothing about chat messages (that is :mod:`._wire`). One
:class:`Endpoint` holds one pooled :class:`httpx.Client` and one :class:`httpx.AsyncClient`
per event loop, created lazily. The retry decision is a pure generator, :func:`_attempt_plan`,
which yields what to do next (send to a URL, or wait) and is told what happened; a sync and an
async driver run it, so the two paths cannot drift (the pattern of httpx's ``_auth.py``).

Policy: every round tries the base URLs in order; a connect/read error, 408, 429 or 5xx moves
on to the next URL; when a whole round failed, wait (exponential backoff with jitter, or the
server's ``Retry-After``) and start the next round, up to ``max_retries`` more rounds. Any other
4xx stops at once: the request itself is wrong and no server will like it better.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import random
import threading
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from orchestrator.exceptions import ModelConnectionError, ModelHTTPError

__all__ = ["Endpoint", "RetryPolicy"]

_EXCERPT = 200
_CONNECT_TIMEOUT = 10.0  # a server that takes longer to accept is as good as down


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a request.

    Delays grow as ``backoff_base * 2**round`` up to ``backoff_max``; ``jitter`` is the
    fraction of each delay drawn at random so that many clients do not retry in step. A
    ``Retry-After`` header replaces the computed delay (capped at ``retry_after_max``).
    ``sleep``/``asleep`` and ``random`` are injectable so tests never really wait.

    Example:
        >>> RetryPolicy(max_retries=0).retryable(503)
        True
        >>> RetryPolicy(backoff_base=0.0).delay(3, None)
        0.0
    """

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.5
    retry_after_max: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    asleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def retryable(self, status: int) -> bool:
        """Whether an HTTP status is worth retrying (408, 429, any 5xx)."""
        return status in (408, 429) or 500 <= status <= 599

    def delay(self, round_: int, retry_after: float | None) -> float:
        """Seconds to wait after failed round ``round_`` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        full = min(self.backoff_max, self.backoff_base * 2.0**round_)
        return full * (1.0 - self.jitter * self.random())


@dataclass(frozen=True)
class _Send:
    url: str


@dataclass(frozen=True)
class _Wait:
    seconds: float


_Step = _Send | _Wait
_Outcome = httpx.Response | httpx.TransportError | None


def _attempt_plan(
    policy: RetryPolicy, urls: list[str]
) -> Generator[_Step, _Outcome, tuple[httpx.Response, str]]:
    """Decide, attempt after attempt, what to do; returns the good response and its URL.

    The response of a failed attempt must already be read (its body is quoted in errors).
    """
    last_cause, last_url = "no attempt made", urls[-1]
    last_status: httpx.Response | None = None
    attempts = 0
    for round_ in range(policy.max_retries + 1):
        hint: float | None = None
        for url in urls:
            outcome = yield _Send(url)
            attempts, last_url = attempts + 1, url
            if isinstance(outcome, httpx.Response):
                if outcome.is_success:
                    return outcome, url
                if not policy.retryable(outcome.status_code):
                    raise _http_error(outcome, url, attempts)
                last_status, last_cause = outcome, f"HTTP {outcome.status_code}"
                after = _retry_after(outcome.headers)
                if after is not None:
                    hint = after if hint is None else max(hint, after)
            else:
                last_status, last_cause = None, _describe(outcome)
        if round_ < policy.max_retries:
            yield _Wait(policy.delay(round_, hint))
    if last_status is not None:
        raise _http_error(last_status, last_url, attempts)
    raise ModelConnectionError(
        f"cannot reach {', '.join(urls)} after {attempts} attempt(s): {last_cause}",
        url=last_url,
    )


_JSON = {"content-type": "application/json"}


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, _CONNECT_TIMEOUT))


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no response"
    text = str(exc) or "(no message)"
    return f"{type(exc).__name__}: {text}"


def _http_error(response: httpx.Response, url: str, attempts: int) -> ModelHTTPError:
    status = response.status_code
    retried = f" after {attempts} attempt(s)" if attempts > 1 else ""
    message = f"HTTP {status} from {url}{retried}: {_error_excerpt(response)}"
    return ModelHTTPError(message, url=url, status=status)


def _error_excerpt(response: httpx.Response) -> str:
    """The server's own error message when it sent one, else the start of the body."""
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        message = err.get("message") if isinstance(err, dict) else err
        if isinstance(message, str) and message:
            return message[:_EXCERPT]
    return response.text[:_EXCERPT] or "(empty body)"


def _retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class Endpoint:
    """One OpenAI-compatible server (or several mirrors of it) behind pooled HTTP clients.

    Sync calls go through one :class:`httpx.Client`. Async calls go through one
    :class:`httpx.AsyncClient` per event loop whose transport is aiohttp's connection pool
    (:class:`~orchestrator.models._aiohttp_transport.AiohttpTransport`): httpcore's own pool
    does work proportional to connections x queued requests on every request
    (encode/httpcore#1035), which made 100 concurrent calls cost 23x the server's latency.
    A loop's client is closed by :meth:`aclose`, or at the latest when the loop shuts down
    (``asyncio.run`` and other well-behaved runners).

    Args:
        base_urls: base URLs ending in ``/v1``, tried in order on failure.
        headers: sent with every request (authorization lives here, never in logs).
        policy: the retry policy.
        timeout: default per-request timeout in seconds.
        transport: an injected httpx transport (a ``MockTransport`` in unit tests); a
            transport that is only sync or only async serves only that side.
        max_connections: pool size per client.
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
    ) -> None:
        if not base_urls:
            raise ValueError("an endpoint needs at least one base URL")
        self.base_urls = [u.rstrip("/") for u in base_urls]
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
            return client.send(self._request(client, url, path, body, t))

        response, url = _run(_attempt_plan(self.policy, self.base_urls), send, self.policy.sleep)
        return response.content, url

    async def apost(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> tuple[bytes, str]:
        """Async :meth:`post`."""
        client = await self._async_client()
        t = self._timeout if timeout is None else timeout

        async def send(url: str) -> httpx.Response:
            return await client.send(self._request(client, url, path, body, t))

        plan = _attempt_plan(self.policy, self.base_urls)
        response, url = await _arun(plan, send, self.policy.asleep)
        return response.content, url

    @contextmanager
    def stream(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> Iterator[tuple[httpx.Response, str]]:
        """POST and hold the response open for streaming; retries happen before the first byte."""
        client = self._sync_client()
        t = self._timeout if timeout is None else timeout

        def send(url: str) -> httpx.Response:
            response = client.send(self._request(client, url, path, body, t), stream=True)
            if not response.is_success:
                try:
                    response.read()
                finally:
                    response.close()
            return response

        response, url = _run(_attempt_plan(self.policy, self.base_urls), send, self.policy.sleep)
        try:
            yield response, url
        finally:
            response.close()

    @asynccontextmanager
    async def astream(
        self, path: str, body: bytes, *, timeout: float | None = None
    ) -> AsyncIterator[tuple[httpx.Response, str]]:
        """Async :meth:`stream`."""
        client = await self._async_client()
        t = self._timeout if timeout is None else timeout

        async def send(url: str) -> httpx.Response:
            request = self._request(client, url, path, body, t)
            response = await client.send(request, stream=True)
            if not response.is_success:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            return response

        plan = _attempt_plan(self.policy, self.base_urls)
        response, url = await _arun(plan, send, self.policy.asleep)
        try:
            yield response, url
        finally:
            await response.aclose()

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


def _run(
    plan: Generator[_Step, _Outcome, tuple[httpx.Response, str]],
    send: Callable[[str], httpx.Response],
    sleep: Callable[[float], None],
) -> tuple[httpx.Response, str]:
    """Drive an attempt plan with blocking I/O."""
    step = next(plan)
    while True:
        outcome: _Outcome = None
        if isinstance(step, _Wait):
            sleep(step.seconds)
        else:
            try:
                outcome = send(step.url)
            except httpx.TransportError as exc:
                outcome = exc
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            result: tuple[httpx.Response, str] = done.value
            return result


async def _arun(
    plan: Generator[_Step, _Outcome, tuple[httpx.Response, str]],
    send: Callable[[str], Awaitable[httpx.Response]],
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[httpx.Response, str]:
    """Drive an attempt plan with async I/O (the twin of :func:`_run`, nothing more)."""
    step = next(plan)
    while True:
        outcome: _Outcome = None
        if isinstance(step, _Wait):
            await sleep(step.seconds)
        else:
            try:
                outcome = await send(step.url)
            except httpx.TransportError as exc:
                outcome = exc
        try:
            step = plan.send(outcome)
        except StopIteration as done:
            result: tuple[httpx.Response, str] = done.value
            return result
