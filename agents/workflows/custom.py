"""Build a custom graph from a pipeline file's ``graph:`` section.

Each step runs an agent (its model, prompt, tools in its tool mode, and ``output_schema``
enforced by the schema layer) or a tool (arguments rendered from ``{{ }}`` templates and
checked against the tool's schema). A step's result is stored under its ``output`` name;
edges are tried in order and the first whose condition holds is taken (``end`` ends the
run). Conditions and templates see the step outputs plus ``task``, ``steps`` and ``last``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from langgraph.graph import END as GRAPH_END
from langgraph.graph import START, StateGraph

from agents.action_loop import run_action_loop
from agents.agent import AgentContext
from agents.budget import budget_stop, stopped
from agents.tool_runner import run_tool_call, tool_stats
from orchestrator.config.expressions import render_value
from orchestrator.config.spec import END, GraphSpec, StepSpec
from orchestrator.exceptions import BudgetExhaustedError, ConfigError
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.state import RunState, merge_dicts
from orchestrator.result import error_entry
from orchestrator.types import RunStatus
from tools.base import Toolset

__all__ = ["CustomState", "custom_graph_builder", "namespace", "route_step", "run_step"]

_FINISH = "__finish__"
_TEXT_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 8000}


class CustomState(RunState, total=False):
    """The run state of a custom graph.

    Attributes:
        results: each step's result under its ``output`` name.
        last: the latest step's result (what ``last`` means in conditions and templates).
    """

    results: Annotated[dict[str, Any], merge_dicts]
    last: Any


def namespace(state: CustomState) -> dict[str, Any]:
    """What conditions and templates see: step outputs, ``task``, ``steps``, ``last``."""
    results = dict(state.get("results") or {})
    return {
        **results,
        "task": state.get("task", ""),
        "steps": state.get("steps", 0),
        "last": state.get("last"),
    }


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def run_step(
    state: CustomState,
    *,
    name: str,
    step: StepSpec,
    entry: str,
    ctx: AgentContext,
    tools: Toolset,
    clock: Callable[[], float],
) -> dict[str, Any]:
    """Run one graph step: a tool call, or an agent's loop under its result schema."""
    stop = budget_stop(ctx, state, clock())
    if stop is not None:
        return stop
    ns = namespace(state)
    if step.tool is not None:
        args = dict(render_value(step.args, ns))
        outcome = await run_tool_call(tools, step.tool, args)
        value = _parsed(outcome.text) if outcome.ok else {"error": outcome.text}
        return {
            "results": {step.output: value},
            "last": value,
            "tool_results": [outcome.record()],
            "changed_files": outcome.changed,
            "enforcement": tool_stats([outcome]),
        }
    agent = ctx.agents[str(step.agent)]
    if step.input is not None:
        request = step.input.render(ns)
    elif name == entry or ns["last"] is None:
        request = str(ns["task"])
    else:
        request = _as_text(ns["last"])
    loop = await run_action_loop(
        agent,
        request=request,
        result_schema=step.output_schema or agent.output_schema or _TEXT_SCHEMA,
        schema_name=name,
        max_turns=ctx.limits.max_reasoner_tool_steps,
        max_retries=ctx.max_enforce_retries,
        step_budget=ctx.limits.max_steps - int(state.get("steps", 0)),
    )
    update = loop.update()
    if loop.out_of_turns:
        steps_limit = ctx.limits.max_reasoner_tool_steps
        exc = BudgetExhaustedError(
            f"step {name!r}: {loop.error} (limits.max_reasoner_tool_steps is {steps_limit})",
            limit="max_reasoner_tool_steps",
        )
        return {**update, **stopped(exc)}
    if loop.error is not None:
        exhausted = isinstance(loop.error, BudgetExhaustedError)
        status = RunStatus.BUDGET_EXHAUSTED if exhausted else RunStatus.FAILED
        failure = type(loop.error)(f"step {name!r}: {loop.error}", **_limit(loop.error))
        update["status"] = status.value
        update["error"] = error_entry(failure)
        return update
    update["results"] = {step.output: loop.value}
    update["last"] = loop.value
    if step.output_schema is not None or agent.output_schema is not None:
        update["outputs"] = [{"step": name, "result": loop.value}]
    return update


def _limit(exc: Exception) -> dict[str, Any]:
    return {"limit": exc.limit} if isinstance(exc, BudgetExhaustedError) else {}


def route_step(state: CustomState, *, graph: GraphSpec, name: str) -> str:
    """The next step after ``name``: the first edge whose condition holds (or the end)."""
    if state.get("status", RunStatus.RUNNING.value) != RunStatus.RUNNING.value:
        return _FINISH
    ns = namespace(state)
    for edge in graph.edges:
        if edge.from_ == name and (edge.when is None or edge.when.test(ns)):
            return _FINISH if edge.to == END else edge.to
    return _FINISH


async def finish(state: CustomState) -> dict[str, Any]:
    """Settle the run: completed unless a step ended it; the answer is the last result."""
    status = state.get("status") or RunStatus.RUNNING.value
    last = state.get("last")
    if status == RunStatus.RUNNING.value:
        status = RunStatus.COMPLETED.value
    return {"status": status, "answer": None if last is None else _as_text(last)}


def custom_graph_builder(
    graph: GraphSpec, tools: Toolset, *, clock: Callable[[], float] = time.time
) -> Callable[[AgentContext], Graph]:
    """A ``Pipeline`` graph builder for ``graph``; agents, limits and prices come from the
    context (``Pipeline(agents=[...])``), step tools from ``tools``."""

    def build(ctx: AgentContext) -> Graph:
        for name, step in graph.steps.items():
            if step.agent is not None and step.agent not in ctx.agents:
                raise ConfigError(f"graph step {name!r} uses unknown agent {step.agent!r}")
        builder: Any = StateGraph(CustomState)
        for name, step in graph.steps.items():
            node = partial(
                run_step, name=name, step=step, entry=graph.entry, ctx=ctx, tools=tools, clock=clock
            )
            builder.add_node(name, instrumented(name, node))
            targets = sorted(
                {e.to if e.to != END else _FINISH for e in graph.edges if e.from_ == name}
                | {_FINISH}
            )
            route = partial(route_step, graph=graph, name=name)
            builder.add_conditional_edges(name, inline_route(route), targets)
        builder.add_node(_FINISH, instrumented("finish", finish))
        builder.add_edge(START, graph.entry)
        builder.add_edge(_FINISH, GRAPH_END)
        result: Graph = builder
        return result

    return build
