"""ReplicaSet ordering and cool-down; InFlightLimiter bound and FIFO order."""

from __future__ import annotations

import asyncio
import threading

import pytest

from orchestrator.models._replicas import InFlightLimiter, ReplicaSet


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ties_are_taken_in_turn() -> None:
    replicas = ReplicaSet(["a", "b", "c"])
    assert [replicas.order()[0] for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_least_in_flight_first() -> None:
    replicas = ReplicaSet(["a", "b", "c"])
    replicas.started("a")
    replicas.started("a")
    replicas.started("b")
    assert replicas.order() == ["c", "b", "a"]
    replicas.finished("a", ok=True)
    replicas.finished("a", ok=True)
    assert replicas.order()[0] in ("a", "c")
    assert replicas.order()[-1] == "b"


def test_failed_replica_cools_down_then_returns() -> None:
    clock = Clock()
    replicas = ReplicaSet(["a", "b"], cooldown_s=5.0, clock=clock)
    replicas.started("a")
    replicas.finished("a", ok=False)
    assert [replicas.order()[0] for _ in range(4)] == ["b"] * 4
    assert replicas.order()[-1] == "a"  # still tried last: failover stays the fallback
    clock.now += 5.1
    assert {replicas.order()[0] for _ in range(4)} == {"a", "b"}


def test_retry_after_sets_that_replicas_pause_only() -> None:
    clock = Clock()
    replicas = ReplicaSet(["a", "b", "c"], cooldown_s=1.0, clock=clock)
    replicas.started("b")
    replicas.finished("b", ok=False, retry_after=30.0)
    clock.now += 10
    assert replicas.order()[-1] == "b"
    assert set(replicas.order()[:2]) == {"a", "c"}
    clock.now += 21
    assert "b" in {replicas.order()[0] for _ in range(3)}


def test_success_clears_cool_down_and_counts_sent() -> None:
    clock = Clock()
    replicas = ReplicaSet(["a", "b"], clock=clock)
    replicas.started("a")
    replicas.finished("a", ok=False)
    replicas.started("a")
    replicas.finished("a", ok=True)
    assert {replicas.order()[0] for _ in range(2)} == {"a", "b"}
    assert replicas.sent() == {"a": 2, "b": 0}


def test_limiter_rejects_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InFlightLimiter(0)


def test_limiter_bounds_async_holders_and_serves_fifo() -> None:
    limiter = InFlightLimiter(3)
    peak = 0
    order: list[int] = []

    async def call(i: int, gate: asyncio.Event) -> None:
        nonlocal peak
        await limiter.aacquire()
        try:
            order.append(i)
            peak = max(peak, limiter.held)
            await gate.wait()
        finally:
            limiter.release()

    async def main() -> None:
        gate = asyncio.Event()
        tasks = []
        for i in range(20):
            tasks.append(asyncio.create_task(call(i, gate)))
            await asyncio.sleep(0)  # arrival order = i
        await asyncio.sleep(0)
        assert limiter.held == 3
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert peak == 3
    assert order == list(range(20))
    assert limiter.held == 0


def test_limiter_shared_by_threads_and_loops() -> None:
    limiter = InFlightLimiter(2)
    peak = 0
    lock = threading.Lock()
    current = 0

    async def one() -> None:
        nonlocal peak, current
        await limiter.aacquire()
        with lock:
            current += 1
            peak = max(peak, current)
        await asyncio.sleep(0.001)
        with lock:
            current -= 1
        limiter.release()

    def loop_thread() -> None:
        async def many() -> None:
            await asyncio.gather(*(one() for _ in range(10)))

        asyncio.run(many())

    def sync_thread() -> None:
        nonlocal peak, current
        for _ in range(10):
            limiter.acquire()
            with lock:
                current += 1
                peak = max(peak, current)
            with lock:
                current -= 1
            limiter.release()

    threads = [threading.Thread(target=loop_thread) for _ in range(3)]
    threads.append(threading.Thread(target=sync_thread))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert peak <= 2
    assert limiter.held == 0


def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    limiter = InFlightLimiter(1)

    async def main() -> None:
        await limiter.aacquire()
        waiter = asyncio.create_task(limiter.aacquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release()
        assert limiter.held == 0
        await asyncio.wait_for(limiter.aacquire(), 5)
        limiter.release()

    asyncio.run(main())
