"""N concurrent runs against the loopback fake vLLM server with 50 ms latency per call.

Every run is the two-call workflow of ``benchmarks._common`` (the planner calls ``add``, then
answers) through ONE ``OpenAICompatChatModel`` (one pooled ``httpx.AsyncClient``). The fake
server runs in its own process, so its CPU is not charged to the client's event loop, and
answers each request after 50 ms. The ideal wall time of N concurrent runs is the critical
path of one run: 2 calls x 50 ms = 100 ms. For N = 1, 10, 100, 500 the table shows the
median wall time over interleaved repetitions and its ratio to the ideal (target at
N = 100: <= 1.25x), side by side with two references on the same server, model and pool:

* ``langgraph``: the minimal hand-written graph of ``benchmarks.overhead``;
* ``httpx``: two sequential raw POSTs per run (no framework at all), the transport floor.

On one event loop a batch cannot finish before the loop has done all of its CPU work, so the
ratio at large N measures CPU per run: wall >= N x (CPU per run) once that exceeds 100 ms.
The CPU column is the process CPU time of the batch.

Memory: a first pass, in increasing N, records the process's peak RSS after each N (and the
RSS growth), before the timed repetitions.

The pool is sized ``max(N, 100)`` (100 is the client's default); one extra row runs N = 500
with the default pool, where runs queue for connections.

Usage: ``python -m benchmarks.concurrency [--reps N]`` from the repo root (under a minute).
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
from typing import Any

import httpx
from langchain_core.messages import HumanMessage

from benchmarks._common import (
    ADD_ARGS,
    ANSWER,
    TASK,
    add,
    peak_rss_mb,
    platform_info,
    rss_mb,
    serve_workflow,
    write_results,
)
from benchmarks.overhead import minimal_graph
from orchestrator import Pipeline
from orchestrator.models.openai_compat import OpenAICompatChatModel

LATENCY_MS = 50.0
CALLS_PER_RUN = 2
IDEAL_S = CALLS_PER_RUN * LATENCY_MS / 1000
SIZES = (1, 10, 100, 500)
TARGET_N = 100
TARGET_RATIO = 1.25
DEFAULT_POOL = 100

Batch = Callable[[int], Awaitable[int]]


class Side:
    """One way of running the workflow N times at once, over its own pooled client."""

    def __init__(self, url: str, pool: int) -> None:
        self.model = OpenAICompatChatModel(base_urls=[url], model="bench", max_connections=pool)
        self.pipeline = Pipeline(planner=self.model, tools=[add])
        self.graph = minimal_graph(self.model, [add])
        self.http = httpx.AsyncClient(
            base_url=url,
            trust_env=False,
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )

    async def bicameral(self, n: int) -> int:
        results = await asyncio.gather(*(self.pipeline.arun(TASK) for _ in range(n)))
        return sum(r.answer == ANSWER for r in results)

    async def langgraph(self, n: int) -> int:
        async def one() -> bool:
            config = {"configurable": {"thread_id": uuid.uuid4().hex}}
            state = await self.graph.ainvoke({"messages": [HumanMessage(TASK)]}, config)
            return bool(state["messages"][-1].content == ANSWER)

        return sum(await asyncio.gather(*(one() for _ in range(n))))

    async def httpx_floor(self, n: int) -> int:
        async def one() -> bool:
            for body in _BODIES:
                response = await self.http.post(
                    "/chat/completions", content=body, headers=_JSON
                )
                reply = json.loads(response.content)
            return bool(reply["choices"][0]["message"]["content"] == ANSWER)

        return sum(await asyncio.gather(*(one() for _ in range(n))))

    async def aclose(self) -> None:
        await self.model.aclose()
        await self.http.aclose()


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


async def _timed(batch: Batch, n: int) -> tuple[float, float, int]:
    """Wall seconds, process CPU seconds and successful runs of one batch of ``n`` runs."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    ok = await batch(n)
    return time.perf_counter() - wall, time.process_time() - cpu, ok


async def measure(url: str, reps: int) -> dict[str, Any]:
    pools = {n: max(n, DEFAULT_POOL) for n in SIZES}
    sides = {pool: Side(url, pool) for pool in sorted(set(pools.values()))}
    memory: dict[str, Any] = {}
    try:
        # Memory pass (and warm-up), smallest N first, Bicameral only.
        for n in SIZES:
            before = rss_mb()
            wall, _, ok = await _timed(sides[pools[n]].bicameral, n)
            if ok != n:
                raise RuntimeError(f"only {ok}/{n} runs answered {ANSWER!r}")
            memory[str(n)] = {
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "rss_growth_mb": round(rss_mb() - before, 1),
            }
        for side in sides.values():  # warm the references' pools too
            await side.langgraph(10)
            await side.httpx_floor(10)

        kinds = ("bicameral", "langgraph", "httpx")
        samples: dict[str, dict[str, list[tuple[float, float, int]]]] = {
            str(n): {k: [] for k in kinds} for n in SIZES
        }
        samples["500/pool100"] = {"bicameral": []}
        for rep in range(reps):
            for n in SIZES if rep % 2 == 0 else reversed(SIZES):
                side = sides[pools[n]]
                batches: dict[str, Batch] = {
                    "bicameral": side.bicameral,
                    "langgraph": side.langgraph,
                    "httpx": side.httpx_floor,
                }
                order = list(batches.items())
                for kind, batch in order if rep % 2 == 0 else reversed(order):
                    samples[str(n)][kind].append(await _timed(batch, n))
            samples["500/pool100"]["bicameral"].append(
                await _timed(sides[DEFAULT_POOL].bicameral, 500)
            )
    finally:
        for side in sides.values():
            await side.aclose()

    rows: dict[str, Any] = {}
    for key, by_kind in samples.items():
        n = int(key.split("/")[0])
        row: dict[str, Any] = {"n": n, "pool": DEFAULT_POOL if "/" in key else pools[n]}
        for kind, runs in by_kind.items():
            wall = statistics.median(r[0] for r in runs)
            row[kind] = {
                "wall_ms": round(wall * 1000, 1),
                "ratio": round(wall / IDEAL_S, 3),
                "cpu_ms": round(statistics.median(r[1] for r in runs) * 1000, 1),
                "succeeded": min(r[2] for r in runs),
            }
        row["memory"] = memory.get(key)
        rows[key] = row
    return rows


def _print(rows: dict[str, Any]) -> None:
    print(
        f"{'N runs':<12}{'pool':>5}{'bicameral ms':>14}{'ratio':>7}{'cpu ms':>8}"
        f"{'langgraph ms':>14}{'ratio':>7}{'httpx ms':>10}{'ratio':>7}{'peak RSS MB':>13}"
    )
    for key, row in rows.items():
        b = row["bicameral"]
        lg = row.get("langgraph")
        hx = row.get("httpx")
        refs = (
            f"{lg['wall_ms']:>14.1f}{lg['ratio']:>6.2f}x{hx['wall_ms']:>10.1f}{hx['ratio']:>6.2f}x"
            if lg and hx
            else f"{'':>14}{'':>7}{'':>10}{'':>7}"
        )
        mem = f"{row['memory']['peak_rss_mb']:>13.1f}" if row["memory"] else f"{'':>13}"
        print(
            f"{key:<12}{row['pool']:>5}{b['wall_ms']:>14.1f}{b['ratio']:>6.2f}x"
            f"{b['cpu_ms']:>8.0f}{refs}{mem}"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed batches per N and side")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with serve_workflow(latency_ms=LATENCY_MS) as url:
        rows = asyncio.run(measure(url, args.reps))
    target = rows[str(TARGET_N)]["bicameral"]["ratio"]
    failures = [
        f"{key}/{kind}"
        for key, row in rows.items()
        for kind in ("bicameral", "langgraph", "httpx")
        if kind in row and row[kind]["succeeded"] != row["n"]
    ]
    report: dict[str, Any] = {
        "benchmark": "concurrency",
        "platform": platform_info(),
        "latency_ms": LATENCY_MS,
        "calls_per_run": CALLS_PER_RUN,
        "ideal_ms": IDEAL_S * 1000,
        "reps": args.reps,
        "target": {"n": TARGET_N, "ratio": TARGET_RATIO},
        "rows": rows,
        "headline": {"ratio_at_100": target, "failures": failures},
        "passed": target <= TARGET_RATIO and not failures,
        "elapsed_s": 0.0,
    }
    print(
        f"N concurrent arun() of a 2-call workflow, fake server {LATENCY_MS:.0f} ms/call, "
        f"ideal {IDEAL_S * 1000:.0f} ms (median of {args.reps})"
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
