"""Offline examples on the embedded model: how many simple tasks end in the right answer.

Runs each shipped offline example on ten arithmetic questions with the embedded model
(SmolLM2-135M through llama.cpp, no server, nothing mocked) and counts the runs that complete
with the right answer (compared with the MATH-500 judge, so "156" and "156.0" agree). Prints
one line per task and a table; writes ``benchmarks/results/offline_tasks.json``.

Usage: ``python -m benchmarks.offline_tasks [--pipeline examples/X.yaml ...] [--limit N]``
(default: ``examples/calculator.yaml``; ``examples/math_solver.yaml`` takes about a minute a
task on 2 cores).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._common import write_results

ROOT = Path(__file__).resolve().parent.parent
TASKS: list[tuple[str, str]] = [
    ("What is 12 * 13?", "156"),
    ("What is 48 + 75?", "123"),
    ("What is 1000 - 357?", "643"),
    ("What is 144 / 12?", "12"),
    ("What is 2 to the power 10?", "1024"),
    ("Multiply 25 by 16.", "400"),
    ("Add 3.5 and 4.25.", "7.75"),
    ("What is 7 * (8 + 2)?", "70"),
    ("What is 99 squared?", "9801"),
    ("Divide 81 by 4.", "81/4"),
]


def run_pipeline(path: Path, limit: int) -> dict[str, Any]:
    """Run the first ``limit`` tasks through the pipeline at ``path``; counts and details."""
    from orchestrator import load_pipeline
    from orchestrator.evaluation.math_judge import answers_equal

    pipeline = load_pipeline(path, checkpoint="memory", notice=None)
    rows: list[dict[str, Any]] = []
    for task, expected in TASKS[:limit]:
        start = time.perf_counter()
        result = pipeline.run(task)
        answer = (result.answer or "").split("≈")[0].strip()
        right = (
            result.status.value == "completed" and bool(answer) and answers_equal(answer, expected)
        )
        rows.append(
            {
                "task": task,
                "expected": expected,
                "status": result.status.value,
                "answer": result.answer,
                "right": right,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        mark = "right" if right else "wrong"
        print(f"  {path.name}: {task!r} -> {result.status.value}, {result.answer!r} ({mark})")
    statuses = Counter(r["status"] for r in rows)
    return {
        "pipeline": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "tasks": len(rows),
        "right": sum(r["right"] for r in rows),
        "statuses": dict(statuses),
        "seconds": round(sum(r["seconds"] for r in rows), 1),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", action="append", type=Path)
    parser.add_argument("--limit", type=int, default=len(TASKS))
    args = parser.parse_args(argv)
    paths = args.pipeline or [ROOT / "examples" / "calculator.yaml"]
    report = {"model": "embedded SmolLM2-135M", "pipelines": []}
    for path in paths:
        report["pipelines"].append(run_pipeline(path.resolve(), args.limit))
    print("\n| pipeline | right answers | statuses | time |\n|---|---|---|---|")
    for p in report["pipelines"]:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(p["statuses"].items()))
        print(f"| {p['pipeline']} | {p['right']} of {p['tasks']} | {statuses} | {p['seconds']} s |")
    print(f"wrote {write_results('offline_tasks', report)}")
    return report


if __name__ == "__main__":
    main()
