"""What observability costs: tracing on and off, the run log, the UI's runs list.

* **Tracing** (target: on <= 1.10x the CPU of off per run): the orchestration-overhead
  workflows (``benchmarks/overhead.py``: a tool round trip; a delegation to the reasoner with
  schema enforcement) run with tracing off and with tracing on into the SDK's in-memory
  exporter, interleaved; CPU time per run (``time.process_time``), medians. For scale, the
  tool workflow also runs against the fake vLLM server in its own process (``tool_http``:
  real HTTP on loopback, a server that answers at once; only this process's CPU counts).
  Tracing off is the hooks finding no tracer: their cost per call is measured directly and
  multiplied by the hooks a run makes.
  A second, four-sided run shows where the cost lies: tracing off; on; the same spans with
  no attributes given at start (what the OpenTelemetry SDK charges for the spans alone, at
  the points the run makes them); and Bicameral's hooks on the API's no-op tracer provider
  (our own layer, with no SDK behind it).
* **Run log** (target: <= 1 ms per event on SQLite): a ``RunRecorder`` writing a run's
  typical event mix (node start/end, model call, tool call, streamed text) into a real SQLite
  file, flushing at node ends as ``Pipeline`` does.
* **UI runs list** (target: < 200 ms with 10,000 runs): ``bicameral ui``'s server on
  loopback, 10,000 runs in its store, ``GET /api/runs`` (the list the page shows: newest 200,
  with the total and the pipeline names) and ``GET /``.

Usage: ``python -m benchmarks.telemetry [--reps N]`` from the repo root. Prints a table;
writes ``benchmarks/results/telemetry.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks._common import (
    ANSWER,
    TASK,
    add,
    delegating_planner_reply,
    planner_reply,
    platform_info,
    reasoner_reply,
    serve_workflow,
    write_results,
)
from orchestrator import Pipeline, telemetry
from orchestrator.events import ModelCallEvent, NodeEnd, NodeStart, TokenEvent, ToolCallEvent
from orchestrator.models.openai_compat import OpenAICompatChatModel
from orchestrator.models.testing import FunctionChatModel
from orchestrator.runlog.recorder import RunRecorder
from orchestrator.runlog.store import RunLogStore

TARGET_TRACING_RATIO = 1.10
TARGET_EVENT_MS = 1.0
TARGET_LIST_MS = 200.0
UI_PORT = 8831


# -- tracing ----------------------------------------------------------------------------------


def _pipelines(provider: TracerProvider | None) -> dict[str, Pipeline]:
    return {
        "tool": Pipeline(
            planner=FunctionChatModel(planner_reply), tools=[add], tracer_provider=provider
        ),
        "delegate": Pipeline(
            planner=FunctionChatModel(delegating_planner_reply),
            reasoner=FunctionChatModel(reasoner_reply),
            tools=[add],
            tracer_provider=provider,
        ),
    }


async def _cpu_of(pipeline: Pipeline) -> float:
    start = time.process_time()
    result = await pipeline.arun(TASK)
    if result.answer != ANSWER:
        raise RuntimeError(f"unexpected answer {result.answer!r}")
    return time.process_time() - start


async def tracing(reps: int, url: str | None = None) -> dict[str, Any]:
    """Off and on, interleaved; ``url``: also the tool workflow against the fake vLLM server
    there (``tool_http``: the smallest run that makes real HTTP calls)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    off, on = _pipelines(None), _pipelines(provider)
    if url is not None:
        for pipelines, tp in ((off, None), (on, provider)):
            model = OpenAICompatChatModel(base_urls=[url], model="bench")
            pipelines["tool_http"] = Pipeline(planner=model, tools=[add], tracer_provider=tp)
    rows: dict[str, Any] = {}
    for name in off:
        samples: dict[str, list[float]] = {"off": [], "on": []}
        for rep in range(reps + 20):
            order = [("off", off[name]), ("on", on[name])]
            for side, pipeline in order if rep % 2 == 0 else reversed(order):
                cpu = await _cpu_of(pipeline)
                if rep >= 20:  # warm-up
                    samples[side].append(cpu)
            exporter.clear()
        off_ms = statistics.median(samples["off"]) * 1000
        on_ms = statistics.median(samples["on"]) * 1000
        rows[name] = {
            "off_cpu_ms": round(off_ms, 3),
            "on_cpu_ms": round(on_ms, 3),
            "ratio": round(on_ms / off_ms, 3),
            "ratio_of_minimums": round(min(samples["on"]) / min(samples["off"]), 3),
        }
    return rows


class _NoAttributesTracer:
    """The SDK's tracer, with the attributes given at a span's start dropped."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Any = None, kind: Any = None, **kw: Any) -> Any:
        kw.pop("attributes", None)
        if kind is not None:
            kw["kind"] = kind
        return self._tracer.start_span(name, context, **kw)


class _NoAttributesProvider:
    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    def get_tracer(self, *args: Any, **kw: Any) -> _NoAttributesTracer:
        return _NoAttributesTracer(self._provider.get_tracer(*args, **kw))


async def breakdown(reps: int) -> dict[str, Any]:
    """Off, on, the spans without attributes, and our hooks on a no-op provider, interleaved
    in one run: each side's CPU per run as a ratio to off (medians)."""
    from opentelemetry.trace import NoOpTracerProvider

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sides = {
        "off": _pipelines(None),
        "on": _pipelines(provider),
        "spans_without_attributes": _pipelines(_NoAttributesProvider(provider)),  # type: ignore[arg-type]
        "hooks_on_noop_provider": _pipelines(NoOpTracerProvider()),  # type: ignore[arg-type]
    }
    rows: dict[str, Any] = {}
    for name in sides["off"]:
        samples: dict[str, list[float]] = {side: [] for side in sides}
        for rep in range(reps + 20):
            order = list(sides)
            for side in order if rep % 2 == 0 else reversed(order):
                cpu = await _cpu_of(sides[side][name])
                if rep >= 20:
                    samples[side].append(cpu)
            exporter.clear()
        off = statistics.median(samples["off"])
        rows[name] = {
            "off_cpu_ms": round(off * 1000, 3),
            **{
                side: round(statistics.median(samples[side]) / off, 3)
                for side in sides
                if side != "off"
            },
        }
    return rows


def spans_alone_us(runs: int = 2000) -> float:
    """CPU per run of the tool workflow's hooks alone (7 spans into the in-memory exporter),
    outside LangGraph: what the OpenTelemetry SDK and our hooks cost by themselves."""
    from langchain_core.messages import AIMessage

    from orchestrator.result import RunResult
    from orchestrator.types import RunStatus

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing_ = telemetry.tracing_for(None, tracer_provider=provider)
    reply = AIMessage(
        "5", usage_metadata={"input_tokens": 9, "output_tokens": 1, "total_tokens": 10}
    )
    result = RunResult(status=RunStatus.COMPLETED)

    def one() -> None:
        with telemetry.run(tracing_, pipeline="p", thread_id="t", task=TASK) as run:
            with telemetry.node("plan", 0):
                telemetry.model_call("planner", reply, 0.01)
            with telemetry.node("act", 1):
                telemetry.tool_call("add", {"a": 2, "b": 3}, True, "5", 0.001)
            with telemetry.node("plan", 2):
                telemetry.model_call("planner", reply, 0.01)
            run.finish(result)
        exporter.clear()  # finished spans piling up would make the collector's work grow

    for _ in range(200):
        one()
    start = time.process_time()
    for _ in range(runs):
        one()
    return (time.process_time() - start) / runs * 1e6


def hooks_off_ns(calls: int = 200_000) -> float:
    """Nanoseconds per hook call with tracing off (a context-variable read and a return)."""
    start = time.perf_counter_ns()
    for _ in range(calls):
        with telemetry.node("plan", 0):
            pass
        telemetry.model_call("planner", None, 0.0)
    return (time.perf_counter_ns() - start) / (2 * calls)


# -- run log ----------------------------------------------------------------------------------


def _event_mix() -> list[Any]:
    """One step's events: as the standard graph emits them for a tool round trip."""
    return [
        NodeStart(node="plan", step=0),
        TokenEvent(role="planner", text="Let me add "),
        TokenEvent(role="planner", text="the numbers."),
        ModelCallEvent(role="planner", prompt_tokens=120, completion_tokens=14, latency_s=0.4),
        NodeEnd(node="plan", duration_s=0.41),
        NodeStart(node="act", step=1),
        ToolCallEvent(tool="add", arguments={"a": 2, "b": 3}, duration_s=0.001, summary="5"),
        NodeEnd(node="act", duration_s=0.002),
    ]


def runlog(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'cp.sqlite'}"
        store = RunLogStore.open(url)
        mix = _event_mix()
        events = 0
        start = time.perf_counter()
        for i in range(runs):
            recorder = RunRecorder(store, f"t{i}", pipeline="bench", task="x")
            for event in mix:
                recorder.record(event)
                events += 1
            recorder.flush()
        elapsed = time.perf_counter() - start
        store.close()
    return {
        "events": events,
        "ms_per_event": round(elapsed * 1000 / events, 4),
        "note": "includes registering each run (one row) and a commit at every node end",
    }


# -- UI runs list -----------------------------------------------------------------------------


def _fill(url: str, runs: int) -> None:
    store = RunLogStore.open(url)
    now = time.time()
    usage = json.dumps({"planner": {"prompt_tokens": 100, "completion_tokens": 20}})
    statuses = ["completed", "failed", "interrupted", "completed"]
    rows = [
        (
            f"thread-{i:05d}",
            f"pipeline-{i % 7}",
            f"task number {i}",
            statuses[i % 4],
            now - i,
            now - i + 2,
            2.0,
            usage,
            0.001,
            "answer",
            "{}",
            1,
        )
        for i in range(runs)
    ]
    store._conn.executemany(
        "INSERT INTO bicameral_runs (thread_id, pipeline, task, status, started_at, ended_at, "
        "duration_s, usage, cost_usd, answer, launch, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    store._conn.commit()
    store.close()


async def ui_list(runs: int, reps: int) -> dict[str, Any]:
    import aiohttp
    from aiohttp import web

    from orchestrator.ui.security import Guard
    from orchestrator.ui.server import UiConfig, make_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'cp.sqlite'}"
        _fill(url, runs)
        app = make_app(UiConfig(url, Guard.for_address("127.0.0.1", UI_PORT), Path(tmp)))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", UI_PORT).start()
        times: dict[str, list[float]] = {"api": [], "page": [], "filtered": []}
        try:
            async with aiohttp.ClientSession() as session:
                paths = {
                    "api": "/api/runs",
                    "page": "/",
                    "filtered": "/api/runs?status=failed&pipeline=pipeline-3",
                }
                for _ in range(reps):
                    for key, path in paths.items():
                        start = time.perf_counter()
                        async with session.get(f"http://127.0.0.1:{UI_PORT}{path}") as resp:
                            body = await resp.read()
                            assert resp.status == 200
                        times[key].append(time.perf_counter() - start)
                        if key == "api":
                            data = json.loads(body)
                            assert data["total"] == runs and len(data["runs"]) == 200
        finally:
            await runner.cleanup()
    return {
        "runs": runs,
        "api_runs_ms": round(statistics.median(times["api"]) * 1000, 2),
        "api_runs_max_ms": round(max(times["api"]) * 1000, 2),
        "filtered_ms": round(statistics.median(times["filtered"]) * 1000, 2),
        "page_ms": round(statistics.median(times["page"]) * 1000, 2),
    }


async def main_async(reps: int) -> dict[str, Any]:
    with serve_workflow() as url:
        traced = await tracing(reps, url)
    parts = await breakdown(reps)
    hook_ns = hooks_off_ns()
    alone_us = spans_alone_us()
    # hooks per run of the delegate workflow: 3 nodes + 3 model calls + 1 attempt + role
    off_share = hook_ns * 10 / (traced["delegate"]["off_cpu_ms"] * 1e6)
    log = runlog(300)
    listing = await ui_list(10_000, 20)
    # the target is the orchestration-overhead benchmark's (in-process) runs
    worst = max(row["ratio"] for name, row in traced.items() if name != "tool_http")
    report = {
        "platform": platform_info(),
        "tracing": traced,
        "tracing_breakdown": parts,
        "tracing_off": {"ns_per_hook": round(hook_ns, 1), "share_of_run": off_share},
        "spans_alone_us_per_run": round(alone_us, 1),
        "runlog": log,
        "ui": listing,
        "targets": {
            "tracing_ratio": TARGET_TRACING_RATIO,
            "ms_per_event": TARGET_EVENT_MS,
            "list_ms": TARGET_LIST_MS,
        },
        "passed": worst <= TARGET_TRACING_RATIO
        and log["ms_per_event"] <= TARGET_EVENT_MS
        and listing["api_runs_ms"] < TARGET_LIST_MS,
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    report = asyncio.run(main_async(args.reps))
    print(f"{'workflow':<10}{'off CPU ms':>12}{'on CPU ms':>12}{'ratio':>8}{'min ratio':>11}")
    for name, row in report["tracing"].items():
        print(
            f"{name:<10}{row['off_cpu_ms']:>12.3f}{row['on_cpu_ms']:>12.3f}{row['ratio']:>8.3f}"
            f"{row['ratio_of_minimums']:>11.3f}"
        )
    print("breakdown, ratio to off in one four-sided run:")
    print(f"{'workflow':<10}{'on':>8}{'spans, no attributes':>22}{'hooks, no-op provider':>23}")
    for name, row in report["tracing_breakdown"].items():
        print(
            f"{name:<10}{row['on']:>8.3f}{row['spans_without_attributes']:>22.3f}"
            f"{row['hooks_on_noop_provider']:>23.3f}"
        )
    print(
        f"the tool run's 7 spans alone, outside a run: {report['spans_alone_us_per_run']:.0f} us "
        "CPU per run"
    )
    off = report["tracing_off"]
    print(f"tracing off: {off['ns_per_hook']:.0f} ns per hook, {off['share_of_run']:.3%} of a run")
    print(f"run log: {report['runlog']['ms_per_event']:.4f} ms per event (SQLite)")
    ui = report["ui"]
    print(
        f"ui: {ui['runs']} runs, GET /api/runs {ui['api_runs_ms']:.1f} ms (max "
        f"{ui['api_runs_max_ms']:.1f}), filtered {ui['filtered_ms']:.1f} ms, "
        f"page {ui['page_ms']:.1f} ms"
    )
    print("PASS" if report["passed"] else "FAIL")
    write_results("telemetry", report)


if __name__ == "__main__":
    main()
