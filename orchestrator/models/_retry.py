"""Retries and failover for one request: the policy, the attempt plan, and its two drivers.

The retry decision is a pure generator, :func:`attempt_plan`, which yields what to do next
(send to a URL, or wait) and is told what happened; :func:`run_plan` drives it with blocking
I/O and :func:`arun_plan` with async I/O, so the two paths cannot drift (the pattern of
httpx's ``_auth.py``).

Policy: every round tries the base URLs in order; a connect/read error, 408, 429 or 5xx moves
on to the next URL; when a whole round failed, wait (exponential backoff with jitter, or the
server's ``Retry-After``) and start the next round, up to ``max_retries`` more rounds. Any other
4xx stops at once: the request itself is wrong and no server will like it better. So does a
5xx whose message is about the response format or grammar (a deterministic rejection).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx

from orchestrator.exceptions import ModelConnectionError, ModelHTTPError
from orchestrator.models._grammar_fallback import names_response_format

__all__ = ["RetryPolicy", "arun_plan", "attempt_plan", "retry_after", "run_plan"]

_EXCERPT = 200


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


def attempt_plan(
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
                if not policy.retryable(outcome.status_code) or _rejects_format(outcome):
                    raise _http_error(outcome, url, attempts)
                last_status, last_cause = outcome, f"HTTP {outcome.status_code}"
                after = retry_after(outcome.headers)
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


def _rejects_format(response: httpx.Response) -> bool:
    """A 5xx whose message is about the response format or grammar is deterministic
    (llama.cpp's servers answer a format they cannot take with a 500): not retried."""
    return names_response_format(_error_excerpt(response))


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


def retry_after(headers: httpx.Headers) -> float | None:
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


def run_plan(
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


async def arun_plan(
    plan: Generator[_Step, _Outcome, tuple[httpx.Response, str]],
    send: Callable[[str], Awaitable[httpx.Response]],
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[httpx.Response, str]:
    """Drive an attempt plan with async I/O (the twin of :func:`run_plan`, nothing more)."""
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
