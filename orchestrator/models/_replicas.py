"""Several servers for one model: spread requests over them, and bound requests in flight.

:class:`ReplicaSet` orders a model's base URLs for each request: least requests in flight
first, ties taken in turn, and a replica that failed (connection error, 5xx, 429) cooling
down at the back of the line for a while (the server's ``Retry-After`` when it gave one).
The retry plan of :mod:`._retry` then tries them in that order, so failover stays the
fallback and a failing replica costs nothing while others answer.

:class:`InFlightLimiter` lets at most ``limit`` requests to one model be outstanding from
this process, whatever the number of runs, threads and event loops sending them; callers
past the limit wait in arrival order (FIFO).

Both are shared by every request of one :class:`~orchestrator.models._endpoint.Endpoint`
and are safe across threads and event loops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["InFlightLimiter", "ReplicaSet"]


@dataclass
class _Replica:
    url: str
    in_flight: int = 0
    cool_until: float = 0.0
    sent: int = 0


class ReplicaSet:
    """The replicas of one model and what each is doing.

    Args:
        urls: base URLs of the replicas (one URL: plain failover behaviour).
        cooldown_s: how long a failed replica waits at the back of the line.
        clock: monotonic seconds (injectable for tests).

    Example:
        >>> replicas = ReplicaSet(["http://a/v1", "http://b/v1"])
        >>> first = replicas.order()[0]
        >>> replicas.started(first); replicas.order()[0] != first
        True
    """

    def __init__(
        self,
        urls: list[str],
        *,
        cooldown_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._replicas = {url: _Replica(url) for url in urls}
        self._urls = list(self._replicas)
        self._turn = 0
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        """URLs to try for the next request, best first."""
        now = self._clock()
        with self._lock:
            count = len(self._urls)
            start, self._turn = self._turn, (self._turn + 1) % max(count, 1)
            rotated = self._urls[start:] + self._urls[:start]
            return sorted(
                rotated,
                key=lambda url: (
                    self._replicas[url].cool_until > now,
                    self._replicas[url].in_flight,
                ),
            )

    def started(self, url: str) -> None:
        """A request to ``url`` is now in flight."""
        with self._lock:
            replica = self._replicas[url]
            replica.in_flight += 1
            replica.sent += 1

    def finished(self, url: str, *, ok: bool, retry_after: float | None = None) -> None:
        """The request to ``url`` ended; a failure cools the replica down."""
        with self._lock:
            replica = self._replicas[url]
            replica.in_flight -= 1
            if ok:
                replica.cool_until = 0.0
            else:
                pause = self._cooldown_s if retry_after is None else retry_after
                replica.cool_until = max(replica.cool_until, self._clock() + pause)

    def sent(self) -> dict[str, int]:
        """Requests sent to each replica so far (for progress and tests)."""
        with self._lock:
            return {url: r.sent for url, r in self._replicas.items()}


class InFlightLimiter:
    """At most ``limit`` holders at once; waiters are served in arrival order.

    Works from sync code (:meth:`acquire`) and from any event loop (:meth:`aacquire`); a
    slot freed by one loop or thread wakes the longest waiter wherever it waits.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.limit = limit
        self._held = 0
        self._waiters: deque[
            threading.Event | tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]
        ]
        self._waiters = deque()
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Slots in use now."""
        return self._held

    def acquire(self) -> None:
        """Take a slot, blocking this thread until one is free."""
        with self._lock:
            if self._held < self.limit and not self._waiters:
                self._held += 1
                return
            event = threading.Event()
            self._waiters.append(event)
        event.wait()  # the releaser handed its slot over: _held already counts us

    async def aacquire(self) -> None:
        """Take a slot, waiting (without blocking the loop) until one is free."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._held < self.limit and not self._waiters:
                self._held += 1
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            await future
        except asyncio.CancelledError:
            with self._lock:
                waiting = (loop, future) in self._waiters
                if waiting:
                    self._waiters.remove((loop, future))
            # Handed a slot just before the cancellation landed: pass it on. (Had the hand-over
            # not run yet, the future is cancelled and _hand_over passes it on instead.)
            if not waiting and future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the longest waiter if any, else to the pool."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if isinstance(waiter, threading.Event):
                    waiter.set()
                    return
                loop, future = waiter
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_hand_over, future, self)
                    return
            self._held -= 1


def _hand_over(future: asyncio.Future[None], limiter: InFlightLimiter) -> None:
    if future.done():  # cancelled meanwhile: the slot goes to the next in line
        limiter.release()
    else:
        future.set_result(None)
