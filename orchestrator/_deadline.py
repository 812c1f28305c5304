"""A wall-time deadline that interrupts work in flight, not only between steps.

The graph checks ``max_wall_time_s`` before each model call, which cannot stop a call (or a
tool) that is already running: a slow or hostile server could keep a run alive forever.
:func:`until_deadline` iterates an async iterator and, when the deadline passes while it is
waiting for the next item, cancels that wait and raises
:class:`~orchestrator.exceptions.BudgetExhaustedError`. The cancellation only ever lands
inside the wrapped iterator: while the caller handles an item the deadline is merely noted
and raised at the next wait, so the caller's own code is never interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

from orchestrator.exceptions import BudgetExhaustedError

__all__ = ["until_deadline"]

T = TypeVar("T")


async def until_deadline(
    items: AsyncIterator[T], seconds: float | None, *, limit: str = "max_wall_time_s"
) -> AsyncIterator[T]:
    """``items``, ending with :class:`BudgetExhaustedError` once ``seconds`` have passed.

    Args:
        items: the async iterator to drive (closed when this one ends).
        seconds: the budget from now; ``None`` means no deadline.
        limit: the name of the limit, for the error.
    """
    if seconds is None:
        async for item in items:
            yield item
        return
    loop = asyncio.get_running_loop()
    waiting: asyncio.Task[object] | None = None
    fired = False

    def on_deadline() -> None:
        nonlocal fired
        fired = True
        if waiting is not None:
            waiting.cancel()

    def exhausted() -> BudgetExhaustedError:
        return BudgetExhaustedError(
            f"{limit} reached ({seconds:g}s) while a model or tool call was in flight",
            limit=limit,
        )

    handle = loop.call_later(seconds, on_deadline)
    try:
        while True:
            if fired:
                raise exhausted()
            waiting = asyncio.current_task()
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if fired and task is not None and task.uncancel() == 0:
                    raise exhausted() from None
                raise
            finally:
                waiting = None
            yield item
    finally:
        handle.cancel()
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
