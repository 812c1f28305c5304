"""Build a custom graph from a pipeline file's ``graph:`` section.

Each step runs an agent (its model, prompt, tools in action mode, and ``output_schema``
enforced by the schema layer) or a tool (arguments rendered from ``{{ }}`` templates and
validated against the tool's schema). A step's result is stored under its ``output`` name;
edges are tried in order and the first whose condition holds is taken (``end`` ends the
run). Conditions and templates see the step outputs plus ``task``, ``steps`` and ``last``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END as GRAPH_END
from langgraph.graph import START, StateGraph

from agents.action_loop import run_action_loop
from agents.budget import budget_stop
from agents.context import AgentContext
from agents.tool_runner import run_tool_call
from orchestrator.config.expressions import render_value
from orchestrator.config.spec import END, GraphSpec, StepSpec
from orchestrator.exceptions import ConfigError
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.state import RunState
from orchestrator.types import RunStatus
from tools.base import Toolset

__all__ = ["AgentRuntime", "custom_graph_builder", "namespace"]

_FINISH = "__finish__"
_TEXT_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 8000}


@dataclass(frozen=True)
class AgentRuntime:
    """An agent ready to run: model, prompt, tools, result schema."""

    name: str
    model: BaseChatModel
    model_name: str
    prompt: str
    toolset: Toolset
    output_schema: dict[str, Any] | None = None


def namespace(state: RunState) -> dict[str, Any]:
    """What conditions and templates see: step outputs, ``task``, ``steps``, ``last``."""
    results = dict(state.get("results") or {})
    last = results.pop("__last__", None)
    return {**results, "task": state.get("task", ""), "steps": state.get("steps", 0), "last": last}


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def custom_graph_builder(
    graph: GraphSpec,
    agents: Mapping[str, AgentRuntime],
    tools: Toolset,
    *,
    clock: Callable[[], float] = time.time,
) -> Callable[[AgentContext], Graph]:
    """A ``Pipeline`` graph builder for ``graph`` (limits and prices come from the context)."""
    for name, step in graph.steps.items():
        if step.agent is not None and step.agent not in agents:
            raise ConfigError(f"graph step {name!r} uses unknown agent {step.agent!r}")

    def build(ctx: AgentContext) -> Graph:
        def budget(state: RunState) -> dict[str, Any] | None:
            return budget_stop(ctx, state, clock())

        def make_step(name: str, step: StepSpec) -> Callable[[RunState], Awaitable[dict[str, Any]]]:
            async def run_step(state: RunState) -> dict[str, Any]:
                stop = budget(state)
                if stop is not None:
                    return stop
                ns = namespace(state)
                if step.tool is not None:
                    args = render_value(step.args, ns)
                    outcome = await run_tool_call(tools, step.tool, dict(args))
                    value = _parsed(outcome.text) if outcome.ok else {"error": outcome.text}
                    return {
                        "results": {step.output: value, "__last__": value},
                        "tool_results": [outcome.record()],
                        "changed_files": outcome.changed,
                    }
                agent = agents[str(step.agent)]
                if step.input is not None:
                    request = step.input.render(ns)
                elif name == graph.entry or ns["last"] is None:
                    request = str(ns["task"])
                else:
                    request = _as_text(ns["last"])
                schema = step.output_schema or agent.output_schema or _TEXT_SCHEMA
                loop = await run_action_loop(
                    agent.model,
                    system_prompt=agent.prompt,
                    request=request,
                    result_schema=schema,
                    schema_name=name,
                    toolset=agent.toolset,
                    role=agent.name,
                    model_name=agent.model_name,
                    max_turns=ctx.limits.max_reasoner_tool_steps,
                    max_retries=ctx.max_enforce_retries,
                )
                update: dict[str, Any] = {
                    "usage": loop.usage,
                    "enforcement": loop.enforcement,
                    "steps": loop.steps,
                    "tool_results": [o.record() for o in loop.tool_outcomes],
                    "changed_files": [p for o in loop.tool_outcomes for p in o.changed],
                }
                if loop.error is not None:
                    update["status"] = RunStatus.FAILED.value
                    update["error"] = {
                        "type": "SchemaValidationError",
                        "message": f"step {name!r}: {loop.error}",
                    }
                    return update
                update["results"] = {step.output: loop.value, "__last__": loop.value}
                if step.output_schema is not None or agent.output_schema is not None:
                    update["outputs"] = [{"step": name, "result": loop.value}]
                return update

            return run_step

        def make_router(name: str) -> Callable[[RunState], str]:
            edges = [e for e in graph.edges if e.from_ == name]

            def route(state: RunState) -> str:
                if state.get("status", RunStatus.RUNNING.value) != RunStatus.RUNNING.value:
                    return _FINISH
                ns = namespace(state)
                for edge in edges:
                    if edge.when is None or edge.when.test(ns):
                        return _FINISH if edge.to == END else edge.to
                return _FINISH

            return route

        async def finish(state: RunState) -> dict[str, Any]:
            status = state.get("status") or RunStatus.RUNNING.value
            last = (state.get("results") or {}).get("__last__")
            answer = None if last is None else _as_text(last)
            if status == RunStatus.RUNNING.value:
                status = RunStatus.COMPLETED.value
            return {"status": status, "answer": answer}

        builder: Graph = StateGraph(RunState)
        for name, step in graph.steps.items():
            builder.add_node(name, instrumented(name, make_step(name, step)))
            targets = sorted(
                {e.to if e.to != END else _FINISH for e in graph.edges if e.from_ == name}
                | {_FINISH}
            )
            builder.add_conditional_edges(name, inline_route(make_router(name)), targets)
        builder.add_node(_FINISH, instrumented("finish", finish))
        builder.add_edge(START, graph.entry)
        builder.add_edge(_FINISH, GRAPH_END)
        return builder

    return build
