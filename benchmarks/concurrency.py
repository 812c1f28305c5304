"""N concurrent runs against the loopback fake vLLM server with 50 ms latency per call.

Every run is the two-call workflow of ``benchmarks._common`` (the planner calls ``add``, then
answers) through ONE ``OpenAICompatChatModel``. The fake server runs in its own process, so
its CPU is not charged to the client's event loop (on 2 cores it still competes for the
machine), and answers each request after 50 ms. The ideal wall time of N concurrent runs is
the critical path of one run: 2 calls x 50 ms = 100 ms. The table shows, for N = 1, 10, 100,
500, the wall time of a batch of N runs started together and its ratio to the ideal (target
at N = 100: <= 1.25x), side by side with references that place the cost:

* ``bicameral``: ``Pipeline.arun`` on the model as shipped (async calls through aiohttp's
  connection pool, see ``orchestrator/models/_aiohttp_transport.py``);
* ``bic/httpcore``: the same with httpx's default transport injected (httpcore 1.0, whose
  pool does work proportional to connections x queued requests, encode/httpcore#1035);
* ``langgraph``: the minimal hand-written graph of ``benchmarks.overhead`` on the same model;
* ``bic no-I/O``: ``Pipeline.arun`` on an in-process model that sleeps 50 ms per call (no
  HTTP at all): the orchestration's own cost;
* ``lg bare``: a bare LangGraph graph of the same three steps (model, tool, model) whose nodes
  only sleep 50 ms or return a constant: no langchain model, no HTTP, no tools. The floor of
  ANY design built on LangGraph on this machine;
* ``aiohttp`` / ``httpx``: two sequential raw POSTs per run (no framework at all).

On one event loop a batch cannot end before the loop has done all of its CPU work, so at
large N the ratio measures CPU per run: wall >= N x (CPU per run) once that passes 100 ms.
The ``cpu/run`` column is Bicameral's process CPU time per run.

N = 1, 10, 100 are medians over ``--reps`` interleaved repetitions (after a warm-up pass
that also records memory); N = 500 is a single batch of ``bicameral`` and ``aiohttp`` (a cold
pool of 500 connections; the other sides take up to 20 s each there, and tell nothing new).
Peak RSS is the process's high-water mark (``getrusage``) after Bicameral's batch of that
size, taken in increasing N.

Usage: ``python -m benchmarks.concurrency [--reps N]`` from the repo root (about 1.5 min).
Prints a table; writes ``benchmarks/results/concurrency.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict

import aiohttp
import httpx
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from benchmarks._common import (
    ADD_ARGS,
    ANSWER,
    TASK,
    add,
    peak_rss_mb,
    planner_reply,
    platform_info,
    rss_mb,
    serve_workflow,
    write_results,
)
from benchmarks.overhead import minimal_graph
from orchestrator import Pipeline
from orchestrator.models.openai_compat import OpenAICompatChatModel
from orchestrator.models.testing import FunctionChatModel

LATENCY_MS = 50.0
CALLS_PER_RUN = 2
IDEAL_S = CALLS_PER_RUN * LATENCY_MS / 1000
SIZES = (1, 10, 100, 500)
TARGET_N = 100
TARGET_RATIO = 1.25
DEFAULT_POOL = 100

Batch = Callable[[int], Awaitable[int]]
Sample = tuple[float, float, int]


async def _sleeping_planner(messages: list[BaseMessage], options: dict[str, Any]) -> Any:
    """The workflow's planner, in process: 50 ms of 'latency', then the scripted reply."""
    await asyncio.sleep(LATENCY_MS / 1000)
    return planner_reply(messages, options)


class _BareState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def bare_graph() -> Any:
    """model -> tool -> model on LangGraph alone: nodes that sleep or return a constant."""
    call = {"name": "add", "args": dict(ADD_ARGS), "id": "call_add"}

    async def model(state: _BareState) -> dict[str, Any]:
        await asyncio.sleep(LATENCY_MS / 1000)
        done = len(state["messages"]) > 1
        return {"messages": [AIMessage(ANSWER) if done else AIMessage("", tool_calls=[call])]}

    async def tool(state: _BareState) -> dict[str, Any]:
        return {"messages": [AIMessage("5")]}

    async def route(state: _BareState) -> str:  # async: a sync one runs in a worker thread
        return END if len(state["messages"]) > 2 else "tool"

    graph = StateGraph(_BareState)
    graph.add_node("model", model)
    graph.add_node("tool", tool)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route, ["tool", END])
    graph.add_edge("tool", "model")
    return graph.compile(checkpointer=InMemorySaver())


class Side:
    """Every way of running the workflow N times at once, each over its own pool of ``pool``."""

    def __init__(self, url: str, pool: int) -> None:
        self.url = url
        self.model = OpenAICompatChatModel(base_urls=[url], model="bench", max_connections=pool)
        self.pipeline = Pipeline(planner=self.model, tools=[add])
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        self.model_httpcore = OpenAICompatChatModel(
            base_urls=[url], model="bench", transport=httpx.AsyncHTTPTransport(limits=limits)
        )
        self.pipeline_httpcore = Pipeline(planner=self.model_httpcore, tools=[add])
        self.graph = minimal_graph(self.model, [add])
        self.pipeline_no_io = Pipeline(planner=FunctionChatModel(_sleeping_planner), tools=[add])
        self.bare = bare_graph()
        self.http = httpx.AsyncClient(base_url=url, trust_env=False, limits=limits)
        self.aio: aiohttp.ClientSession | None = None
        self.pool = pool

    def batches(self) -> dict[str, Batch]:
        """The sides, by name, in table order."""
        return {
            "bicameral": lambda n: _pipeline_batch(self.pipeline, n),
            "bic/httpcore": lambda n: _pipeline_batch(self.pipeline_httpcore, n),
            "langgraph": lambda n: _graph_batch(self.graph, n),
            "bic no-I/O": lambda n: _pipeline_batch(self.pipeline_no_io, n),
            "lg bare": lambda n: _graph_batch(self.bare, n),
            "aiohttp": lambda n: _raw_batch(self.send_aiohttp, n),
            "httpx": lambda n: _raw_batch(self.send_httpx, n),
        }

    async def send_httpx(self, body: bytes) -> bytes:
        response = await self.http.post("/chat/completions", content=body, headers=_JSON)
        return response.content

    async def send_aiohttp(self, body: bytes) -> bytes:
        if self.aio is None:
            self.aio = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.pool))
        url = f"{self.url}/chat/completions"
        async with self.aio.post(url, data=body, headers=_JSON) as response:
            return await response.read()

    async def aclose(self) -> None:
        await self.model.aclose()
        await self.model_httpcore.aclose()
        await self.http.aclose()
        if self.aio is not None:
            await self.aio.close()


async def _graph_batch(graph: Any, n: int) -> int:
    async def one() -> bool:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        state = await graph.ainvoke({"messages": [HumanMessage(TASK)]}, config)
        return bool(state["messages"][-1].content == ANSWER)

    return sum(await asyncio.gather(*(one() for _ in range(n))))


async def _pipeline_batch(pipeline: Pipeline, n: int) -> int:
    results = await asyncio.gather(*(pipeline.arun(TASK) for _ in range(n)))
    return sum(r.answer == ANSWER for r in results)


async def _raw_batch(send: Callable[[bytes], Awaitable[bytes]], n: int) -> int:
    """``n`` concurrent runs of two sequential raw POSTs (the workflow's two requests)."""

    async def one() -> bool:
        for body in _BODIES:
            reply = json.loads(await send(body))
        return bool(reply["choices"][0]["message"]["content"] == ANSWER)

    return sum(await asyncio.gather(*(one() for _ in range(n))))


_JSON = {"content-type": "application/json"}
_TOOL_CALL = {
    "id": "call_add",
    "type": "function",
    "function": {"name": "add", "arguments": json.dumps(ADD_ARGS)},
}
_BODIES = [
    json.dumps({"model": "bench", "messages": messages}).encode()
    for messages in (
        [{"role": "user", "content": TASK}],
        [
            {"role": "user", "content": TASK},
            {"role": "assistant", "content": None, "tool_calls": [_TOOL_CALL]},
            {"role": "tool", "tool_call_id": "call_add", "content": "5"},
        ],
    )
]


async def _timed(batch: Batch, n: int) -> Sample:
    """Wall seconds, process CPU seconds and successful runs of one batch of ``n`` runs."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    ok = await batch(n)
    return time.perf_counter() - wall, time.process_time() - cpu, ok


async def measure(url: str, reps: int) -> dict[str, Any]:
    pools = {n: max(n, DEFAULT_POOL) for n in SIZES}
    sides = {pool: Side(url, pool) for pool in sorted(set(pools.values()))}
    small = [n for n in SIZES if n <= DEFAULT_POOL]
    big = [n for n in SIZES if n > DEFAULT_POOL]
    samples: dict[int, dict[str, list[Sample]]] = {n: {} for n in SIZES}
    memory: dict[int, dict[str, float]] = {}

    async def record(n: int, kind: str) -> None:
        before = rss_mb()
        sample = await _timed(sides[pools[n]].batches()[kind], n)
        samples[n].setdefault(kind, []).append(sample)
        if kind == "bicameral" and n not in memory:
            memory[n] = {
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "rss_growth_mb": round(rss_mb() - before, 1),
            }

    try:
        for n in small:  # warm-up, in increasing N: the memory figures come from here
            for kind in sides[pools[n]].batches():
                await record(n, kind)
        for samples_n in samples.values():
            samples_n.clear()
        for rep in range(reps):
            for n in small if rep % 2 == 0 else reversed(small):
                kinds = list(sides[pools[n]].batches())
                for kind in kinds if rep % 2 == 0 else reversed(kinds):
                    await record(n, kind)
        for n in big:  # one batch each; the slow references are left out (see above)
            for kind in sides[pools[n]].batches():
                if kind in _BIG_N_SIDES:
                    await record(n, kind)
    finally:
        for side in sides.values():
            await side.aclose()

    rows: dict[str, Any] = {}
    for n, by_kind in samples.items():
        row: dict[str, Any] = {"n": n, "pool": pools[n], "batches": len(by_kind["bicameral"])}
        for kind, runs in by_kind.items():
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            row[kind] = {
                "wall_ms": round(wall * 1000, 1),
                "ratio": round(wall / IDEAL_S, 3),
                "cpu_ms": round(cpu * 1000, 1),
                "cpu_per_run_ms": round(cpu * 1000 / n, 3),
                "succeeded": min(r[2] for r in runs),
            }
        row["memory"] = memory.get(n)
        rows[str(n)] = row
    return rows


KINDS = ("bicameral", "bic/httpcore", "langgraph", "bic no-I/O", "lg bare", "aiohttp", "httpx")
_BIG_N_SIDES = ("bicameral", "aiohttp")


def _print(rows: dict[str, Any]) -> None:
    head = f"{'N':>4}{'pool':>5}{'batches':>8}"
    for kind in KINDS:
        head += f"{kind + ' ms':>{max(12, len(kind) + 4)}}{'ratio':>8}"
    print(head + f"{'cpu/run ms':>11}{'peak RSS MB':>12}")
    for row in rows.values():
        line = f"{row['n']:>4}{row['pool']:>5}{row['batches']:>8}"
        for kind in KINDS:
            width = max(12, len(kind) + 4)
            cell = row.get(kind)
            line += (
                f"{cell['wall_ms']:>{width}.1f}{cell['ratio']:>7.2f}x"
                if cell
                else f"{'-':>{width}}{'':>8}"
            )
        mem = row["memory"]
        line += f"{row['bicameral']['cpu_per_run_ms']:>11.2f}"
        line += f"{mem['peak_rss_mb']:>12.1f}" if mem else f"{'-':>12}"
        print(line)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4, help="timed batches per N <= 100")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with serve_workflow(latency_ms=LATENCY_MS) as url:
        rows = asyncio.run(measure(url, args.reps))
    target = rows[str(TARGET_N)]["bicameral"]["ratio"]
    failures = [
        f"N={key}/{kind}"
        for key, row in rows.items()
        for kind in KINDS
        if kind in row and row[kind]["succeeded"] != row["n"]
    ]
    at_target = rows[str(TARGET_N)]
    largest = rows[str(max(SIZES))]
    report: dict[str, Any] = {
        "benchmark": "concurrency",
        "platform": platform_info(),
        "latency_ms": LATENCY_MS,
        "calls_per_run": CALLS_PER_RUN,
        "ideal_ms": IDEAL_S * 1000,
        "reps": args.reps,
        "target": {"n": TARGET_N, "ratio": TARGET_RATIO},
        "rows": rows,
        "headline": {
            "ratio_at_100": target,
            "cpu_per_run_ms_at_100": at_target["bicameral"]["cpu_per_run_ms"],
            **{f"{kind}_ratio_at_100": at_target[kind]["ratio"] for kind in KINDS[1:]},
            "ratio_at_500": largest["bicameral"]["ratio"],
            "peak_rss_mb": (largest["memory"] or {}).get("peak_rss_mb"),
            "failures": failures,
        },
        "passed": target <= TARGET_RATIO and not failures,
        "elapsed_s": 0.0,
    }
    print(
        f"N concurrent Pipeline.arun() of a 2-call workflow, one OpenAICompatChatModel, fake "
        f"server {LATENCY_MS:.0f} ms/call: ideal {IDEAL_S * 1000:.0f} ms; wall ms = median of "
        f"{args.reps} batches (N=500: one)"
    )
    _print(rows)
    if failures:
        print(f"runs that did not all succeed: {', '.join(failures)}")
    verdict = "PASS" if report["passed"] else "FAIL"
    print(f"target at N={TARGET_N}: <= {TARGET_RATIO}x: {verdict} ({target:.2f}x)")
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    path = write_results("concurrency", report)
    print(f"wrote {path} in {report['elapsed_s']:.1f} s")
    return report


if __name__ == "__main__":
    main()
