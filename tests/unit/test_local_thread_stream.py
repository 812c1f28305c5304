"""iterate_in_thread: a blocking generator consumed from async code (the embedded model's
astream), without a model."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from orchestrator.models._thread_stream import iterate_in_thread


async def test_items_arrive_in_order_from_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    seen_threads: set[int] = set()

    def produce(cancel: threading.Event) -> Iterator[int]:
        for i in range(5):
            seen_threads.add(threading.get_ident())
            yield i

    assert [i async for i in iterate_in_thread(produce)] == [0, 1, 2, 3, 4]
    assert seen_threads and loop_thread not in seen_threads


async def test_errors_are_raised_in_the_consumer() -> None:
    def produce(cancel: threading.Event) -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    got: list[int] = []
    with pytest.raises(ValueError, match="boom"):
        async for i in iterate_in_thread(produce):
            got.append(i)
    assert got == [1]


async def test_stopping_early_cancels_and_closes_the_producer() -> None:
    events: list[str] = []
    release = threading.Event()

    def produce(cancel: threading.Event) -> Iterator[int]:
        try:
            for i in range(1000):
                if i == 1:
                    release.wait()  # hold the second item until the consumer has left
                if cancel.is_set():
                    events.append("cancelled")
                    return
                yield i
        finally:
            events.append("closed")

    stream = iterate_in_thread(produce)
    async for i in stream:
        assert i == 0
        break
    release.set()
    await stream.aclose()  # returns only once the producer has finished

    assert events[-1] == "closed"
    assert len(events) <= 2
