"""Iterate a blocking generator from async code without blocking the event loop.

The generator runs in a worker thread and hands each item over through an ``asyncio.Queue``;
the event loop only ever waits on the queue. Stopping early (``break``, ``aclose``,
cancellation) sets an event the generator checks between items, then waits for the thread to
finish so the resources it holds (a model's lock) are released before the caller goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TypeVar, cast

__all__ = ["iterate_in_thread"]

T = TypeVar("T")
_DONE = object()


class _Raised:
    """An exception from the producer, carried to the consumer to be raised there."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


async def iterate_in_thread(
    produce: Callable[[threading.Event], Iterator[T]],
) -> AsyncGenerator[T, None]:
    """Yield what ``produce(cancel)`` yields, running it in a worker thread.

    Args:
        produce: called once, in the worker thread, with an event that is set when the
            consumer stops early; the iterator it returns should check it between items.

    Example:
        >>> async def main() -> list[int]:
        ...     return [i async for i in iterate_in_thread(lambda cancel: iter(range(3)))]
        >>> asyncio.run(main())
        [0, 1, 2]
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us: nobody listens
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        items = produce(cancel)
        try:
            for item in items:
                put(item)
                if cancel.is_set():
                    break
        except BaseException as err:  # raised again in the consumer
            put(_Raised(err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's finally blocks (releasing locks) run here, now
            put(_DONE)

    worker = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, _Raised):
                raise item.error
            yield cast(T, item)
    finally:
        cancel.set()
        await worker
