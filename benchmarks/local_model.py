"""The embedded model: LocalChatModel against bare llama-cpp-python, memory, threads, context.

Side by side and interleaved in one run, on one loaded model (the very ``llama_cpp.Llama``
LocalChatModel uses), the same prompt, sampling settings and seed:

* bare: ``Llama.create_chat_completion`` (the floor), and
* local: ``LocalChatModel.invoke`` (message conversion, the lock, ``AIMessage`` building,
  LangChain callbacks); also both streaming.

It reports generated tokens per second (median of each, and their ratio; target >= 90%), the
process's resident memory with the default model loaded and used (target < 400 MB), then the
two knobs whose defaults it chose: ``n_threads`` (1 vs every core, generation and prompt
processing) and ``n_ctx`` (memory and speed, each size in a fresh subprocess).

Usage: ``python -m benchmarks.local_model [--reps N] [--tokens N]`` from the repo root.
Prints a table; writes ``benchmarks/results/local_model.json``. About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage

from benchmarks._common import rss_mb
from orchestrator.models.local import DEFAULT_N_CTX, LocalChatModel, default_n_threads

RESULTS = Path(__file__).parent / "results" / "local_model.json"
PROMPT = "Write a short story about a lighthouse keeper and a storm."
TARGET_RATIO = 0.90
TARGET_RSS_MB = 400.0
N_CTX_SIZES = (2048, 4096, 8192)


def _usage(reply: AIMessage, key: Literal["input_tokens", "output_tokens"]) -> int:
    return reply.usage_metadata[key] if reply.usage_metadata else 0


def _interleave(runs: dict[str, Callable[[], int]], reps: int) -> dict[str, list[float]]:
    """Alternate the runs so drift (other load, CPU frequency) hits each equally.

    Each run returns the tokens it generated; samples are tokens per second.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(reps + 1):
        for name, run in runs.items() if rep % 2 else reversed(runs.items()):
            started = time.perf_counter()
            tokens = run()
            elapsed = time.perf_counter() - started
            if rep:  # the first round warms up (prompt cache, page faults)
                samples[name].append(tokens / elapsed)
    return samples


def bench_overhead(model: LocalChatModel, reps: int, tokens: int) -> dict[str, Any]:
    llama = model.llama
    settings = {
        "temperature": model.temperature,
        "top_p": model.top_p,
        "top_k": model.top_k,
        "repeat_penalty": model.repeat_penalty,
        "max_tokens": tokens,
        "seed": 7,
    }
    messages = [HumanMessage(PROMPT)]
    raw = [{"role": "user", "content": PROMPT}]

    def bare() -> int:
        response: Any = llama.create_chat_completion(raw, **settings)  # type: ignore[arg-type]
        return int(response["usage"]["completion_tokens"])

    def local() -> int:
        reply = model.invoke(messages, seed=7, max_tokens=tokens)
        return _usage(reply, "output_tokens")

    def bare_stream() -> int:
        chunks: Any = llama.create_chat_completion(raw, stream=True, **settings)  # type: ignore[arg-type]
        return sum(1 for c in chunks if c["choices"][0]["delta"].get("content"))

    def local_stream() -> int:
        return sum(1 for c in model.stream(messages, seed=7, max_tokens=tokens) if c.content)

    samples = _interleave(
        {"bare": bare, "local": local, "bare_stream": bare_stream, "local_stream": local_stream},
        reps,
    )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "tokens_per_s": {k: round(v, 1) for k, v in medians.items()},
        "samples": {k: [round(v, 1) for v in vs] for k, vs in samples.items()},
        "ratio_invoke": round(medians["local"] / medians["bare"], 3),
        "ratio_stream": round(medians["local_stream"] / medians["bare_stream"], 3),
    }


def bench_threads(model: LocalChatModel, reps: int, tokens: int) -> dict[str, Any]:
    """Generation and prompt processing with 1 thread, the default, and every core."""
    counts = sorted({1, default_n_threads(), os.cpu_count() or 1})
    models = {n: model.model_copy(update={"n_threads": n}) for n in counts}
    long_prompt = " ".join(["The planner calls tools and the reasoner checks the math."] * 30)
    counter = iter(range(10**6))

    def generate(m: LocalChatModel) -> Callable[[], int]:
        def run() -> int:
            reply = m.invoke([HumanMessage(PROMPT)], seed=7, max_tokens=tokens)
            return _usage(reply, "output_tokens")

        return run

    def prefill(m: LocalChatModel) -> Callable[[], int]:
        def run() -> int:
            # A fresh first token defeats llama-cpp-python's prompt-prefix reuse.
            reply = m.invoke([HumanMessage(f"{next(counter)} {long_prompt}")], max_tokens=1)
            return _usage(reply, "input_tokens")

        return run

    gen = _interleave({f"{n}": generate(m) for n, m in models.items()}, reps)
    pre = _interleave({f"{n}": prefill(m) for n, m in models.items()}, max(2, reps // 2))
    return {
        "generation_tokens_per_s": {k: round(statistics.median(v), 1) for k, v in gen.items()},
        "prompt_tokens_per_s": {k: round(statistics.median(v), 1) for k, v in pre.items()},
    }


def _n_ctx_probe(n_ctx: int, tokens: int) -> dict[str, Any]:
    """Run in a fresh process: memory and speed with one context size."""
    before = rss_mb()
    model = LocalChatModel(n_ctx=n_ctx).load()
    loaded = rss_mb()
    rates = []
    for seed in range(3):
        started = time.perf_counter()
        reply = model.invoke([HumanMessage(PROMPT)], seed=seed, max_tokens=tokens)
        out = _usage(reply, "output_tokens")
        rates.append(out / (time.perf_counter() - started))
    return {
        "rss_mb": round(rss_mb(), 1),
        "load_mb": round(loaded - before, 1),
        "tokens_per_s": round(statistics.median(rates), 1),
    }


def bench_n_ctx(tokens: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for n_ctx in N_CTX_SIZES:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.local_model", "--probe-n-ctx", str(n_ctx),
             "--tokens", str(tokens)],
            capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        results[str(n_ctx)] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def _print_table(report: dict[str, Any]) -> None:
    o = report["overhead"]
    t = o["tokens_per_s"]
    print(f"\nLocalChatModel vs bare llama-cpp-python ({report['model']}, {report['cpu']})")
    print(f"{'path':<10}{'bare tok/s':>12}{'local tok/s':>13}{'ratio':>8}   target >= 90%")
    print(f"{'invoke':<10}{t['bare']:>12}{t['local']:>13}{o['ratio_invoke']:>8.1%}")
    print(f"{'stream':<10}{t['bare_stream']:>12}{t['local_stream']:>13}{o['ratio_stream']:>8.1%}")
    m = report["memory"]
    print(f"\nresident memory: {m['rss_mb']:.0f} MB (before load {m['before_load_mb']:.0f} MB)"
          f"   target < {TARGET_RSS_MB:.0f} MB")  # fmt: skip
    th = report["threads"]
    print(f"\n{'n_threads':<10}{'gen tok/s':>12}{'prompt tok/s':>14}")
    for n, rate in th["generation_tokens_per_s"].items():
        print(f"{n:<10}{rate:>12}{th['prompt_tokens_per_s'][n]:>14}")
    print(f"\n{'n_ctx':<10}{'RSS MB':>10}{'load MB':>10}{'gen tok/s':>12}")
    for n_ctx, row in report["n_ctx"].items():
        print(f"{n_ctx:<10}{row['rss_mb']:>10}{row['load_mb']:>10}{row['tokens_per_s']:>12}")
    print(f"\nverdict: {'PASS' if report['pass'] else 'FAIL'}; wrote {RESULTS}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per path")
    parser.add_argument("--tokens", type=int, default=64, help="max tokens generated per call")
    parser.add_argument("--probe-n-ctx", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_n_ctx:
        result = _n_ctx_probe(args.probe_n_ctx, args.tokens)
        print(json.dumps(result))
        return result

    started = time.perf_counter()
    before = rss_mb()
    model = LocalChatModel().load()
    overhead = bench_overhead(model, args.reps, args.tokens)
    memory = {"before_load_mb": round(before, 1), "rss_mb": round(rss_mb(), 1)}
    threads = bench_threads(model, args.reps, args.tokens)
    n_ctx = bench_n_ctx(args.tokens)
    report: dict[str, Any] = {
        "model": model.model_name,
        "cpu": f"{platform.machine()}, {os.cpu_count()} cores",
        "defaults": {"n_ctx": DEFAULT_N_CTX, "n_threads": default_n_threads()},
        "settings": {"reps": args.reps, "max_tokens": args.tokens, "prompt": PROMPT},
        "overhead": overhead,
        "memory": memory,
        "threads": threads,
        "n_ctx": n_ctx,
        "targets": {"ratio": TARGET_RATIO, "rss_mb": TARGET_RSS_MB},
    }
    report["pass"] = (
        min(overhead["ratio_invoke"], overhead["ratio_stream"]) >= TARGET_RATIO
        and memory["rss_mb"] < TARGET_RSS_MB
    )
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    _print_table(report)
    return report


if __name__ == "__main__":
    main()
