"""The one sync door onto the async core: run a coroutine or an async iterator from sync code.

Works with or without an event loop already running in this thread (a notebook, say): in
that case the work runs on a fresh loop in a helper thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["iterate_in_thread", "run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


_DONE = object()


def iterate_in_thread(make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate an async iterator from sync code; it runs on its own loop in a thread."""
    items: queue.Queue[Any] = queue.Queue(maxsize=256)
    stop = threading.Event()

    async def pump() -> None:
        try:
            async for item in make():
                items.put((True, item))
                if stop.is_set():
                    break
        except BaseException as exc:
            items.put((False, exc))
        finally:
            items.put((True, _DONE))

    worker = threading.Thread(target=lambda: asyncio.run(pump()), daemon=True)
    worker.start()
    try:
        while True:
            ok, item = items.get()
            if item is _DONE:
                break
            if not ok:
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                items.get(timeout=0.05)
            except queue.Empty:
                continue
        worker.join()
