"""The graph kit every workflow is built with: the graph type, node instrumentation, routes.

Builds only; ``Pipeline`` compiles and runs. Workflows (``agents/workflows/``) use these to
assemble their ``StateGraph``; nothing here knows any particular workflow.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from langgraph.graph import StateGraph

from orchestrator import telemetry
from orchestrator.events import NodeEnd, NodeStart, emit
from orchestrator.graph.state import RunState

__all__ = ["Graph", "NodeFn", "inline_route", "instrumented"]

T = TypeVar("T")
R = TypeVar("R")
T_contra = TypeVar("T_contra", contravariant=True)

Graph = StateGraph[RunState, None, RunState, RunState]
"""The type of every graph Bicameral builds: nodes read and write ``RunState``."""


class NodeFn(Protocol[T_contra]):
    """A node: takes its input state, returns a state update."""

    def __call__(self, state: T_contra) -> Awaitable[dict[str, Any]]: ...


def instrumented(name: str, fn: Callable[[T], Awaitable[dict[str, Any]]]) -> NodeFn[T]:
    """Wrap a node so it emits ``NodeStart``/``NodeEnd`` events."""

    async def node(state: T) -> dict[str, Any]:
        step = int(state.get("steps", 0)) if isinstance(state, dict) else 0
        emit(NodeStart(node=name, step=step))
        start = time.perf_counter()
        try:
            with telemetry.node(name, step):
                return await fn(state)
        finally:
            emit(NodeEnd(node=name, duration_s=time.perf_counter() - start))

    node.__name__ = name
    return node


def inline_route(route: Callable[[T], R]) -> Callable[[T], Awaitable[R]]:
    """A routing function as a coroutine function, so that LangGraph runs it on the loop.

    LangGraph runs a plain (sync) conditional-edge function in a worker thread when the
    graph runs async, to keep slow functions off the event loop. Routing is a pure look at
    the state: the two thread hops per step cost more than the routing itself, add several
    milliseconds of wake-up latency to every step on an idle machine, and contend for the
    GIL under load.
    """

    async def inline(state: T) -> R:
        return route(state)

    named = getattr(route, "func", route)  # a functools.partial goes by its function's name
    inline.__name__ = getattr(named, "__name__", "route")
    return inline
