"""Orchestration overhead per step: ``Pipeline`` against a minimal hand-written LangGraph graph.

All sides make the same scripted model calls through the same ``FunctionChatModel``
(in process, no HTTP) and call the same async tool, so what differs is only the
orchestration around them:

* ``bicameral``: ``await Pipeline(planner=..., tools=[add]).arun(task)`` with its defaults
  (in-memory checkpointer, limits, usage accounting, argument validation, the ``RunResult``);
* ``graph``: the very graph ``arun`` drives (``Pipeline.compile()``, in-memory checkpointer)
  run bare with ``ainvoke``: what Bicameral's graph design costs, apart from the driver;
* ``langgraph``: a ``StateGraph`` over plain ``add_messages`` state with one model node and
  one tool node, compiled once with an ``InMemorySaver`` (what Pipeline uses by default) and
  run with ``ainvoke`` on a fresh thread id.

Workflows (a step is one model call):

* ``tool``: the planner calls ``add``, then answers (2 steps, 1 tool call);
* ``delegate``: the planner delegates the sum to the reasoner, whose JSON reply is parsed and
  validated against the math schema (Bicameral's reason node; a ``delegate`` branch in the
  baseline's tool node), then answers (3 steps).

The sides alternate (forward, then reverse order) over many repetitions after a warm-up;
the table shows medians per step and the ratio to the minimal graph (target: <= 1.3x).
``--profile`` adds a cProfile of Bicameral's runs (top functions by own and cumulative time).

Usage: ``python -m benchmarks.overhead [--reps N] [--profile]`` from the repo root. Prints a
table; writes ``benchmarks/results/overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from jsonschema import Draft202012Validator
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from agents.prompts import load_prompt
from agents.reasoner import subtask_prompt
from agents.schemas import DELEGATE_TOOL_SCHEMA, default_output_schema
from benchmarks._common import (
    ANSWER,
    TASK,
    add,
    delegating_planner_reply,
    median_ms,
    planner_reply,
    platform_info,
    reasoner_reply,
    write_results,
)
from orchestrator import Pipeline
from orchestrator.models.testing import FunctionChatModel
from tools.base import Toolset

TARGET_RATIO = 1.3
Run = Callable[[], Awaitable[str | None]]


# -- the baseline: a minimal hand-written LangGraph graph -------------------------------------


class MinimalState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def minimal_graph(
    planner: BaseChatModel, tools: list[BaseTool], reasoner: BaseChatModel | None = None
) -> Any:
    """One model node, one tool node, ``add_messages`` state, in-memory checkpoints."""
    schemas = Toolset(tools).schemas()
    if reasoner is not None:
        schemas = [*schemas, DELEGATE_TOOL_SCHEMA]
    bound = planner.bind_tools(schemas)
    system = SystemMessage(load_prompt("planner"))
    by_name = {t.name: t for t in tools}
    math_schema = default_output_schema("math")
    validator = Draft202012Validator(math_schema)
    reasoner_system = SystemMessage(load_prompt("reasoner"))

    async def model(state: MinimalState) -> dict[str, Any]:
        return {"messages": [await bound.ainvoke([system, *state["messages"]])]}

    async def run_tools(state: MinimalState) -> dict[str, Any]:
        ai = state["messages"][-1]
        out: list[ToolMessage] = []
        for call in getattr(ai, "tool_calls", []):
            if call["name"] == "delegate" and reasoner is not None:
                task = {"call_id": "", "kind": "math", "task": call["args"]["task"]}
                prompt = subtask_prompt({**task, "output_schema": None}, math_schema)
                reply = await reasoner.ainvoke([reasoner_system, HumanMessage(prompt)])
                value = json.loads(str(reply.content))
                validator.validate(value)
                content = json.dumps(value, sort_keys=True)
            else:
                content = str(await by_name[call["name"]].ainvoke(call["args"]))
            out.append(ToolMessage(content, tool_call_id=call["id"], name=call["name"]))
        return {"messages": out}

    # async, as Bicameral's routes are: LangGraph runs a sync route in a worker thread
    async def route(state: MinimalState) -> str:
        return "tools" if getattr(state["messages"][-1], "tool_calls", None) else END

    graph = StateGraph(MinimalState)
    graph.add_node("model", model)
    graph.add_node("tools", run_tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=InMemorySaver())


# -- the sides of each workflow ---------------------------------------------------------------


@dataclass(frozen=True)
class Workflow:
    steps: int  # model calls per run
    sides: dict[str, Run]  # bicameral (arun), graph (Bicameral's compiled graph), langgraph


def workflows() -> dict[str, Workflow]:
    """The two workflows, each with its three sides; each run returns the answer."""
    planner = FunctionChatModel(planner_reply)
    pipeline = Pipeline(planner=planner, tools=[add])
    tool = Workflow(2, _sides(pipeline, minimal_graph(planner, [add])))

    d_planner = FunctionChatModel(delegating_planner_reply)
    d_reasoner = FunctionChatModel(reasoner_reply)
    d_pipeline = Pipeline(planner=d_planner, reasoner=d_reasoner, tools=[add])
    delegate = Workflow(3, _sides(d_pipeline, minimal_graph(d_planner, [add], d_reasoner)))
    return {"tool": tool, "delegate": delegate}


def _sides(pipeline: Pipeline, app: Any) -> dict[str, Run]:
    graph = pipeline.compile()  # the same graph arun drives, run bare with ainvoke

    async def bicameral() -> str | None:
        return (await pipeline.arun(TASK)).answer

    async def bicameral_graph() -> str | None:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        state = await graph.ainvoke(
            {
                "task": TASK,
                "messages": [HumanMessage(TASK)],
                "status": "running",
                "started_at": time.time(),
            },
            config,
        )
        return state["answer"]

    async def langgraph() -> str | None:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        state = await app.ainvoke({"messages": [HumanMessage(TASK)]}, config)
        return str(state["messages"][-1].content)

    return {"bicameral": bicameral, "graph": bicameral_graph, "langgraph": langgraph}


async def _interleave(sides: dict[str, Run], reps: int) -> dict[str, list[float]]:
    """Forward then reverse order in turn, so drift and order effects hit every side alike."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides.items())
    for rep in range(reps):
        for name, fn in order if rep % 2 == 0 else reversed(order):
            start = time.perf_counter()
            answer = await fn()
            samples[name].append(time.perf_counter() - start)
            if answer != ANSWER:
                raise RuntimeError(f"{name} gave {answer!r}, expected {ANSWER!r}")
    return samples


async def measure(reps: int, warmup: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, workflow in workflows().items():
        await _interleave(workflow.sides, warmup)
        samples = await _interleave(workflow.sides, reps)
        bic, graph, base = (median_ms(samples[k]) for k in ("bicameral", "graph", "langgraph"))
        steps = workflow.steps
        rows[name] = {
            "steps": steps,
            "bicameral_run_ms": round(bic, 3),
            "graph_run_ms": round(graph, 3),
            "langgraph_run_ms": round(base, 3),
            "bicameral_step_ms": round(bic / steps, 3),
            "graph_step_ms": round(graph / steps, 3),
            "langgraph_step_ms": round(base / steps, 3),
            "extra_per_step_ms": round((bic - base) / steps, 3),
            "ratio": round(bic / base, 3),
            "graph_ratio": round(graph / base, 3),
        }
    return rows


def profile(reps: int, top: int = 25) -> str:
    """cProfile of ``reps`` Bicameral runs of the tool workflow; the top functions by own time."""
    bicameral = workflows()["tool"].sides["bicameral"]

    async def many() -> None:
        for _ in range(reps):
            await bicameral()

    asyncio.run(many())  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(many())
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300, help="timed runs per side and workflow")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of Pipeline")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = asyncio.run(measure(args.reps, args.warmup))
    passed = all(r["ratio"] <= TARGET_RATIO for r in rows.values())
    report: dict[str, Any] = {
        "benchmark": "overhead",
        "platform": platform_info(),
        "reps_per_side": args.reps,
        "target_ratio": TARGET_RATIO,
        "workflows": rows,
        "headline": {
            "ratio_tool": rows["tool"]["ratio"],
            "ratio_delegate": rows["delegate"]["ratio"],
        },
        "passed": passed,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(
        "Per step (one model call): Pipeline.arun vs a minimal hand-written LangGraph graph, "
        "same FunctionChatModel calls; median ms"
    )
    print(
        f"{'workflow':<10}{'steps':>6}{'bicameral':>11}{'graph':>9}{'langgraph':>11}"
        f"{'extra':>9}{'ratio':>8}{'graph ratio':>13}"
    )
    for name, r in rows.items():
        print(
            f"{name:<10}{r['steps']:>6}{r['bicameral_step_ms']:>11.3f}{r['graph_step_ms']:>9.3f}"
            f"{r['langgraph_step_ms']:>11.3f}{r['extra_per_step_ms']:>9.3f}{r['ratio']:>7.2f}x"
            f"{r['graph_ratio']:>12.2f}x"
        )
    print(
        "bicameral: Pipeline.arun (events off, RunResult); graph: the same compiled graph "
        "(Pipeline.compile()) run bare with ainvoke; extra: bicameral - langgraph per step"
    )
    print(f"target ratio <= {TARGET_RATIO}x: {'PASS' if passed else 'FAIL'}")
    if args.profile:
        report["profile"] = profile(max(50, args.reps // 2))
        print(report["profile"])
    path = write_results("overhead", report)
    print(f"wrote {path} in {report['elapsed_s']:.1f} s")
    return report


if __name__ == "__main__":
    main()
