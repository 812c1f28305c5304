"""Seconds each text parser takes on hostile model output (issue 20 item 7).

Prints one line per (parser, input, size). Nothing is asserted: the target is under 1 s for
1 MB. Run: ``python -m benchmarks.hostile_parsers [--sizes 40000,1000000] [--budget 5]``;
a parser still running after ``--budget`` seconds is reported as such (run in a child
process and killed), so a quadratic regression cannot hang the benchmark.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}}

INPUTS: dict[str, Callable[[int], str]] = {
    "pythonic-open": lambda n: "f(a=[" * (n // 5),
    "pythonic-list-open": lambda n: "[f(a=" * (n // 5),
    "brace-open": lambda n: "{" * n,
    "bracket-open": lambda n: "[" * n,
    "obj-open": lambda n: '{"name": ' * (n // 9),
    "arr-obj-open": lambda n: '[{"name": "f", "arguments": ' * (n // 30),
    "fences": lambda n: "```json\n{" * (n // 9),
    "fence-unclosed": lambda n: "```\n" + "{" * (n - 4),
    "quotes": lambda n: '"' * n,
    "apostrophes": lambda n: "[f(a='" * (n // 6),
    "tool-tags": lambda n: "<tool_call>{" * (n // 12),
    "function-tags": lambda n: "<function=f>{" * (n // 13),
    "think-tags": lambda n: "<think>" * (n // 7),
    "think-close": lambda n: "</think>" * (n // 8),
    "prose-colons": lambda n: "a: " * (n // 3),
    "backslashes": lambda n: '{"a": "' + "\\" * (n - 8) + '"}',
    "nested-valid": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "answer-in-prose": lambda n: "x " * (n // 2 - 10) + '{"answer": 4}',
}


def _parsers() -> dict[str, Callable[[str], Any]]:
    from orchestrator.models.toolcall_parsers import find_tool_calls
    from orchestrator.schema import coerce, split_reasoning
    from orchestrator.schema.extract import candidates

    def try_coerce(text: str) -> Any:
        try:
            return coerce(text, SCHEMA)
        except Exception as exc:
            return type(exc).__name__

    return {
        "find_tool_calls": find_tool_calls,
        "coerce": try_coerce,
        "candidates": lambda text: list(candidates(text)),
        "split_reasoning": split_reasoning,
    }


_LOADED: dict[str, Callable[[str], Any]] = {}


def _time_one(parser: str, name: str, size: int, out: Any) -> None:
    fn = _LOADED[parser]
    text = INPUTS[name](size)
    started = time.perf_counter()
    try:
        fn(text)
        out.put(("ok", time.perf_counter() - started))
    except BaseException as exc:
        out.put((type(exc).__name__, time.perf_counter() - started))


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--sizes", default="40000,1000000")
    args.add_argument("--budget", type=float, default=5.0)
    args.add_argument("--parsers", default="")
    args.add_argument("--inputs", default="")
    opts = args.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    _LOADED.update(_parsers())  # imported once, before the children fork
    parsers = opts.parsers.split(",") if opts.parsers else list(_LOADED)
    inputs = opts.inputs.split(",") if opts.inputs else list(INPUTS)
    ctx = multiprocessing.get_context("fork")
    worst = 0.0
    for parser in parsers:
        for name in inputs:
            for size in sizes:
                queue = ctx.Queue()
                proc = ctx.Process(target=_time_one, args=(parser, name, size, queue))
                proc.start()
                proc.join(opts.budget)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
                    print(f"{parser:16} {name:20} {size:>8}  > {opts.budget:.0f} s (killed)")
                    worst = max(worst, float("inf"))
                    continue
                status, seconds = queue.get()
                worst = max(worst, seconds)
                print(f"{parser:16} {name:20} {size:>8}  {seconds:8.3f} s  {status}")
    print(f"worst: {worst:.3f} s")


if __name__ == "__main__":
    main()
