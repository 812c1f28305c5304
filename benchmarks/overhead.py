"""Orchestration overhead per step: ``Pipeline`` against a minimal hand-written LangGraph graph.

Both sides make the same scripted model calls through the same ``FunctionChatModel``
(in process, no HTTP), so what differs is only the orchestration around them:

* ``bicameral``: ``await Pipeline(planner=..., tools=[add]).arun(task)`` with its defaults
  (in-memory checkpointer, events, limits, usage accounting, argument validation, the
  ``RunResult``);
* ``langgraph``: a ``StateGraph`` over plain ``add_messages`` state with one model node and
  one tool node, compiled once with an ``InMemorySaver`` (what Pipeline uses by default) and
  run with ``ainvoke`` on a fresh thread id.

Workflows (a step is one model call):

* ``tool``: the planner calls ``add``, then answers (2 steps, 1 tool call);
* ``delegate``: the planner delegates the sum to the reasoner, whose JSON reply is parsed and
  validated against the math schema (Bicameral's reason node; a ``delegate`` branch in the
  baseline's tool node), then answers (3 steps).

The two sides alternate (ABBA) over many repetitions after a warm-up, and the table shows
medians per step and their ratio (target: <= 1.3x). ``--profile`` adds a cProfile of
Bicameral's runs (top functions by own time).

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

    def route(state: MinimalState) -> str:
        return "tools" if getattr(state["messages"][-1], "tool_calls", None) else END

    graph = StateGraph(MinimalState)
    graph.add_node("model", model)
    graph.add_node("tools", run_tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=InMemorySaver())


# -- the two sides of each workflow -----------------------------------------------------------


def workflows() -> dict[str, tuple[int, Run, Run]]:
    """name -> (steps per run, bicameral run, langgraph run); each run returns the answer."""
    out: dict[str, tuple[int, Run, Run]] = {}

    planner = FunctionChatModel(planner_reply)
    pipeline = Pipeline(planner=planner, tools=[add])
    app = minimal_graph(planner, [add])
    out["tool"] = (2, _bicameral(pipeline), _langgraph(app))

    d_planner = FunctionChatModel(delegating_planner_reply)
    d_reasoner = FunctionChatModel(reasoner_reply)
    d_pipeline = Pipeline(planner=d_planner, reasoner=d_reasoner, tools=[add])
    d_app = minimal_graph(d_planner, [add], reasoner=d_reasoner)
    out["delegate"] = (3, _bicameral(d_pipeline), _langgraph(d_app))
    return out


def _bicameral(pipeline: Pipeline) -> Run:
    async def run() -> str | None:
        result = await pipeline.arun(TASK)
        return result.answer

    return run


def _langgraph(app: Any) -> Run:
    async def run() -> str | None:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        state = await app.ainvoke({"messages": [HumanMessage(TASK)]}, config)
        return str(state["messages"][-1].content)

    return run


def _forget_requests(*models: Any) -> None:
    for model in models:
        requests = getattr(model, "requests", None)
        if isinstance(requests, list):
            requests.clear()


async def _interleave(bic: Run, base: Run, reps: int) -> tuple[list[float], list[float]]:
    """ABBA order over ``reps`` rounds, so drift and order effects hit both sides alike."""
    t_bic: list[float] = []
    t_base: list[float] = []
    for rep in range(reps):
        pairs = ((bic, t_bic), (base, t_base))
        for fn, out in pairs if rep % 2 == 0 else reversed(pairs):
            start = time.perf_counter()
            answer = await fn()
            out.append(time.perf_counter() - start)
            if answer != ANSWER:
                raise RuntimeError(f"workflow gave {answer!r}, expected {ANSWER!r}")
    return t_bic, t_base


async def measure(reps: int, warmup: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, (steps, bic, base) in workflows().items():
        await _interleave(bic, base, warmup)
        t_bic, t_base = await _interleave(bic, base, reps)
        bic_ms, base_ms = median_ms(t_bic), median_ms(t_base)
        rows[name] = {
            "steps": steps,
            "bicameral_run_ms": round(bic_ms, 3),
            "langgraph_run_ms": round(base_ms, 3),
            "bicameral_step_ms": round(bic_ms / steps, 3),
            "langgraph_step_ms": round(base_ms / steps, 3),
            "extra_per_step_ms": round((bic_ms - base_ms) / steps, 3),
            "ratio": round(bic_ms / base_ms, 3),
        }
    return rows


def profile(reps: int, top: int = 25) -> str:
    """cProfile of ``reps`` Bicameral runs of the tool workflow; the top functions by own time."""
    _, bic, _ = workflows()["tool"]

    async def many() -> None:
        for _ in range(reps):
            await bic()

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
    print("Pipeline vs minimal LangGraph graph, same FunctionChatModel calls (median, ms)")
    print(
        f"{'workflow':<10}{'steps':>6}{'bicameral/run':>15}{'langgraph/run':>15}"
        f"{'bicameral/step':>16}{'langgraph/step':>16}{'extra/step':>12}{'ratio':>8}"
    )
    for name, r in rows.items():
        print(
            f"{name:<10}{r['steps']:>6}{r['bicameral_run_ms']:>15.3f}{r['langgraph_run_ms']:>15.3f}"
            f"{r['bicameral_step_ms']:>16.3f}{r['langgraph_step_ms']:>16.3f}"
            f"{r['extra_per_step_ms']:>12.3f}{r['ratio']:>7.2f}x"
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
