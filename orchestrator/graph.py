"""Build the planner/reasoner ``StateGraph``. Builds only; ``Pipeline`` compiles and runs it.

    START -> plan -> (END | act | reason x N | plan) ; act, reason -> plan

``plan`` decides; ``route_after_plan`` fans tool calls out with ``Send`` (one ``reason`` task
per ``delegate`` call, one ``act`` task for the ordinary calls). The plan node settles the
run itself (final answer, exhausted budget, too many invalid calls), and the route then ends
it: no separate finish step, which would cost a graph step and a checkpoint per run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from langgraph.graph import START, StateGraph

from agents.actor import make_act_node
from agents.context import AgentContext
from agents.planner import make_plan_node
from agents.reasoner import make_reason_node
from orchestrator.events import NodeEnd, NodeStart, emit
from orchestrator.routing import ACT, FINISH, PLAN, REASON, route_after_plan
from orchestrator.state import RunState

__all__ = ["Graph", "NodeFn", "build_graph", "inline_route", "instrumented"]

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


def build_graph(ctx: AgentContext, *, clock: Callable[[], float] = time.time) -> Graph:
    """The standard planner/reasoner graph for ``ctx`` (uncompiled)."""
    graph: Graph = StateGraph(RunState)
    graph.add_node(PLAN, instrumented(PLAN, make_plan_node(ctx, clock=clock)))
    graph.add_node(ACT, instrumented(ACT, make_act_node(ctx)))
    destinations = [PLAN, ACT, FINISH]
    if ctx.reasoner is not None:
        graph.add_node(REASON, instrumented(REASON, make_reason_node(ctx)))
        graph.add_edge(REASON, PLAN)
        destinations.append(REASON)
    graph.add_edge(START, PLAN)
    router = inline_route(partial(route_after_plan, has_reasoner=ctx.reasoner is not None))
    graph.add_conditional_edges(PLAN, router, destinations)
    graph.add_edge(ACT, PLAN)
    return graph
