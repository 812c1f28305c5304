"""Run every benchmark in turn and print a one-line summary of each one's headline figures.

Each benchmark runs as its own subprocess (``python -m benchmarks.<name>``), printing its
table as it goes, under a per-benchmark timeout and an overall deadline, so one that fails,
hangs or is missing does not stop the rest. The summary reads each benchmark's JSON in
``benchmarks/results/`` (only if written during this run) and says what happened:
its headline figures and verdict, "failed", "timed out" or "skipped".

This is what ``make bench`` runs; on a 2-core machine the whole suite takes about four
minutes (the embedded-model benchmark needs the ``local`` extra and its model file).

Usage: ``python -m benchmarks.run_all [--only NAME ...] [--budget SECONDS]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
BUDGET_S = 570.0  # `make bench` promises under 10 minutes


def _verdict(passed: Any) -> str:
    return "PASS" if passed is True else "FAIL" if passed is False else "n/a"


def _client_overhead(r: dict[str, Any]) -> str:
    conc = r["concurrency"]
    return (
        f"client/bare httpx: sync {r['sync']['ratio']:.2f}x, async {r['async']['ratio']:.2f}x "
        f"(target <= {r['target_ratio']}x); {conc['succeeded']}/{conc['calls']} concurrent "
        f"calls ok; {_verdict(r.get('passed'))}"
    )


def _schema(r: dict[str, Any]) -> str:
    rec, val, lat = r["recovery"], r["validation"], r["coerce_latency"]
    return (
        f"recovery {rec['rate']:.1%}, false accepts {r['false_accepts']['false_accepts']}, "
        f"coerce {lat['median_us_bare']:.0f} us, validation {val['docs_per_s']:,.0f}/s, "
        f"re-asks saved {r['reasks']['round_trips_saved']}/{r['reasks']['outputs']}"
    )


def _overhead(r: dict[str, Any]) -> str:
    w = r["workflows"]
    return (
        f"Pipeline/minimal LangGraph per step: tool {w['tool']['ratio']:.2f}x, delegate "
        f"{w['delegate']['ratio']:.2f}x (target <= {r['target_ratio']}x); "
        f"{_verdict(r.get('passed'))}"
    )


def _concurrency(r: dict[str, Any]) -> str:
    h = r["headline"]
    return (
        f"100 runs: {h['ratio_at_100']:.2f}x ideal (target <= {r['target']['ratio']}x); "
        f"minimal LangGraph {h['langgraph_ratio_at_100']:.2f}x, bare LangGraph without I/O "
        f"{h['lg bare_ratio_at_100']:.2f}x, raw aiohttp {h['aiohttp_ratio_at_100']:.2f}x; "
        f"500 runs {h['ratio_at_500']:.1f}x; peak RSS {h['peak_rss_mb']} MB; "
        f"{_verdict(r.get('passed'))}"
    )


def _peers(r: dict[str, Any]) -> str:
    rows = r["frameworks"]
    parts = [f"bicameral {rows['bicameral']['overhead_per_call_ms']:.2f} ms/call"]
    for name, row in rows.items():
        if name not in ("floor", "bicameral"):
            parts.append(f"{name} {row['overhead_ratio']:.2f}x")
    parts += [f"{name} unavailable" for name in r.get("unavailable", {})]
    return "overhead per model call: " + ", ".join(parts)


def _local_model(r: dict[str, Any]) -> str:
    o = r["overhead"]
    return (
        f"tokens/s vs bare llama-cpp: invoke {o['ratio_invoke']:.0%}, stream "
        f"{o['ratio_stream']:.0%} (target >= {r['targets']['ratio']:.0%}); RSS "
        f"{r['memory']['rss_mb']:.0f} MB; {_verdict(r.get('pass'))}"
    )


def _telemetry(r: dict[str, Any]) -> str:
    t = r["tracing"]
    worst = max(row["ratio"] for name, row in t.items() if name != "tool_http")
    http = f", {t['tool_http']['ratio']:.2f}x over HTTP" if "tool_http" in t else ""
    return (
        f"tracing on {worst:.2f}x CPU of off in process{http} "
        f"(target <= {r['targets']['tracing_ratio']}x); "
        f"run log {r['runlog']['ms_per_event']:.3f} ms/event; runs list of "
        f"{r['ui']['runs']} in {r['ui']['api_runs_ms']:.0f} ms; {_verdict(r.get('passed'))}"
    )


@dataclass(frozen=True)
class Bench:
    name: str  # module under benchmarks/
    result: str  # JSON file under benchmarks/results/
    timeout_s: float
    headline: Callable[[dict[str, Any]], str]


BENCHMARKS = (
    Bench("client_overhead", "client_overhead.json", 120, _client_overhead),
    Bench("schema_bench", "schema.json", 150, _schema),
    Bench("overhead", "overhead.json", 120, _overhead),
    Bench("concurrency", "concurrency.json", 180, _concurrency),
    Bench("peers", "peers.json", 120, _peers),
    Bench("telemetry", "telemetry.json", 180, _telemetry),
    Bench("local_model", "local_model.json", 240, _local_model),
)


def run_one(bench: Bench, timeout_s: float) -> tuple[str, float]:
    """Run one benchmark; returns (one-line outcome, seconds taken)."""
    script = Path(__file__).parent / f"{bench.name}.py"
    if not script.exists():
        return "skipped (script missing)", 0.0
    if timeout_s < 10:
        return "skipped (no time left in the budget)", 0.0
    result = RESULTS / bench.result
    started = time.time()
    print(f"\n=== {bench.name} (timeout {timeout_s:.0f} s) ===", flush=True)
    # Its own session, so a timeout can stop it together with any server it started.
    proc = subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.{bench.name}"], cwd=ROOT, start_new_session=True
    )
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return f"timed out after {timeout_s:.0f} s", time.time() - started
    elapsed = time.time() - started
    if code != 0:
        return f"failed (exit {code}; see its output above)", elapsed
    if not result.exists() or result.stat().st_mtime < started:
        return f"ran, but wrote no {result.name}", elapsed
    try:
        return bench.headline(json.loads(result.read_text())), elapsed
    except (KeyError, TypeError, ValueError) as exc:
        return f"ran; {result.name} lacks a headline figure ({exc!r})", elapsed


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="benchmark names to run (default: all)")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="overall seconds")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    deadline = time.monotonic() + args.budget
    summary: dict[str, Any] = {}
    for bench in chosen:
        remaining = deadline - time.monotonic()
        outcome, elapsed = run_one(bench, min(bench.timeout_s, remaining))
        summary[bench.name] = {"outcome": outcome, "elapsed_s": round(elapsed, 1)}
    total = args.budget - (deadline - time.monotonic())
    print(f"\n=== summary ({total:.0f} s) ===")
    width = max(len(b.name) for b in chosen) if chosen else 0
    for name, row in summary.items():
        print(f"{name:<{width}}  {row['elapsed_s']:>5.0f} s  {row['outcome']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "run_all", "total_s": round(total, 1), "benchmarks": summary}
    (RESULTS / "run_all.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
