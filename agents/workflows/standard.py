"""The standard planner/reasoner workflow. Builds only; ``Pipeline`` compiles and runs it.

    START -> plan -> (END | act | reason x N | plan) ; act, reason -> plan

``plan`` decides; ``route_after_plan`` fans tool calls out with ``Send`` (one ``reason`` task
per ``delegate`` call, one ``act`` task for the ordinary calls). The plan node settles the
run itself (final answer, exhausted budget, too many invalid calls), and the route then ends
it: no separate finish step, which would cost a graph step and a checkpoint per run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from langgraph.graph import START, StateGraph

from agents.actor import make_act_node
from agents.agent import AgentContext
from agents.planner import make_plan_node
from agents.reasoner import make_reason_node
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.routing import ACT, FINISH, PLAN, REASON, route_after_plan
from orchestrator.graph.state import StandardState

__all__ = ["build_graph"]


def build_graph(ctx: AgentContext, *, clock: Callable[[], float] = time.time) -> Graph:
    """The standard planner/reasoner graph for ``ctx`` (uncompiled)."""
    graph: Any = StateGraph(StandardState)
    graph.add_node(PLAN, instrumented(PLAN, make_plan_node(ctx, clock=clock)))
    graph.add_node(ACT, instrumented(ACT, make_act_node(ctx)))
    destinations = [PLAN, ACT, FINISH]
    if ctx.reasoner is not None:
        graph.add_node(REASON, instrumented(REASON, make_reason_node(ctx)))
        graph.add_edge(REASON, PLAN)
        destinations.append(REASON)
    graph.add_edge(START, PLAN)
    router = inline_route(
        partial(
            route_after_plan,
            has_reasoner=ctx.reasoner is not None,
            max_steps=ctx.limits.max_steps,
        )
    )
    graph.add_conditional_edges(PLAN, router, destinations)
    graph.add_edge(ACT, PLAN)
    built: Graph = graph
    return built
