"""Localisation recall and the oracle machinery check on the coding corpus.

For every task of ``benchmarks/coding_corpus/tasks.json`` (real functions of real projects,
one injected bug each): copy the pristine sources, inject the bug, run the project's tests
with ``run_tests`` (the real runner, in the sandbox), localise from the failures, and count
the task as recalled when the mutated function is quoted whole in the context (at most
``--max-tokens``, 8,000 by default). Then the machinery check: an oracle reasoner returns
the inverse of the mutation as an edit, which is validated against the coding assistant's
edit schema, applied with the ``apply_edit`` tool and followed by the project's full tests
through ``run_tests``; the task passes when they all pass.

Needs the corpus sources: ``python -m benchmarks.coding_corpus.fetch`` (once). Prints a
table per project and writes ``benchmarks/results/coding_localisation.json``.

Usage: ``python -m benchmarks.coding_localisation [--limit N] [--project NAME] [--no-oracle]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.coding_corpus.fetch import default_cache, fetch
from benchmarks.coding_corpus.mutate import apply_task
from benchmarks.coding_corpus.projects import PROJECTS, Project
from orchestrator.schema import validator_for
from orchestrator.schema.validate import errors_of
from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools.localise import localise
from tools.repo_map import index_repo
from tools.tests import run_tests

TASKS = Path(__file__).parent / "coding_corpus" / "tasks.json"
RESULTS = Path(__file__).parent / "results" / "coding_localisation.json"
LIMITS = SandboxLimits(cpu_seconds=120, wall_timeout_s=240, memory_mb=2048)


def edits_schema_for(paths: list[str]) -> dict[str, Any]:
    """The coding assistant's edit schema (wherever the regroup put the module)."""
    try:
        from agents.workflows.coding_assistant import edits_schema
    except ImportError:
        from agents.coding_assistant import edits_schema
    return edits_schema(paths)


def oracle_edits(task: dict[str, Any]) -> dict[str, Any]:
    """The oracle reasoner: the inverse of the task's mutation, as the reasoner's reply."""
    edit = task["edit"]
    return {
        "explanation": f"undo the {task['operator']} in {task['function']}",
        "edits": [{"path": task["path"], "search": edit["search"], "replace": edit["replace"]}],
    }


def run_task(
    task: dict[str, Any], project: Project, pristine: Path, *, max_tokens: int, oracle: bool
) -> dict[str, Any]:
    """One task: inject, test, localise, (oracle-)fix, test again."""
    with tempfile.TemporaryDirectory(prefix="bench-loc-") as tmp:
        ws = Path(tmp) / "ws"
        apply_task(pristine, task, ws)
        start = time.perf_counter()
        before = run_tests(ws, path=project.tests, limits=LIMITS)
        tested = time.perf_counter()
        context = localise(ws, before.failures, max_tokens=max_tokens, index=index_repo(ws))
        localised = time.perf_counter()
        row: dict[str, Any] = {
            "id": task["id"],
            "project": project.name,
            "operator": task["operator"],
            "function": f"{task['path']}::{task['function']}",
            "failing_before": before.failed + before.errors,
            "recalled": context.holds(task["path"], task["function"]),
            "tokens": context.tokens,
            "test_s": round(tested - start, 3),
            "localise_s": round(localised - tested, 3),
        }
        if oracle:
            reply = oracle_edits(task)
            errors = errors_of(validator_for(edits_schema_for([task["path"]])), reply)
            toolset = Toolset(build_tools(["apply_edit"], ToolContext(ws, LIMITS)))
            applied = not errors
            for edit in reply["edits"] if not errors else []:
                try:
                    toolset.call("apply_edit", edit)
                except Exception as exc:  # reported, not raised: it is what we measure
                    applied = False
                    row["apply_error"] = str(exc)[:200]
            after = run_tests(ws, path=project.tests, limits=LIMITS)
            row.update(
                schema_ok=not errors,
                applied=applied,
                passed_after=after.passed,
                oracle_ok=bool(applied and after.ok),
            )
        row["wall_s"] = round(time.perf_counter() - start, 3)
        return row


def summarise(rows: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    """Per-project and overall figures."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["project"]].append(row)
    groups["all"] = rows

    def figures(items: list[dict[str, Any]]) -> dict[str, Any]:
        tokens = [r["tokens"] for r in items]
        out = {
            "tasks": len(items),
            "recall": sum(r["recalled"] for r in items) / len(items),
            "tokens_mean": statistics.mean(tokens),
            "tokens_max": max(tokens),
            "localise_s_mean": statistics.mean(r["localise_s"] for r in items),
            "wall_s_mean": statistics.mean(r["wall_s"] for r in items),
        }
        if "oracle_ok" in items[0]:
            out["oracle_pass"] = sum(r["oracle_ok"] for r in items) / len(items)
        return out

    return {
        "max_tokens": max_tokens,
        "by_project": {k: figures(v) for k, v in groups.items() if v},
        "misses": [r["id"] + " " + r["function"] for r in rows if not r["recalled"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--tasks", type=Path, default=TASKS)
    parser.add_argument("--limit", type=int, default=0, help="tasks per project (0: all)")
    parser.add_argument("--project", action="append", default=[])
    parser.add_argument("--max-tokens", type=int, default=8000)
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tasks = json.loads(args.tasks.read_text(encoding="utf-8"))
    projects = {p.name: p for p in PROJECTS}
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = defaultdict(int)
    print(f"{'task':<22}{'operator':<20}{'recalled':>9}{'tokens':>8}{'oracle':>8}{'wall s':>8}")
    for task in tasks:
        project = projects[task["project"]]
        if args.project and project.name not in args.project:
            continue
        if args.limit and counts[project.name] >= args.limit:
            continue
        counts[project.name] += 1
        pristine = fetch(project, args.cache)
        row = run_task(
            task, project, pristine, max_tokens=args.max_tokens, oracle=not args.no_oracle
        )
        rows.append(row)
        oracle = {True: "pass", False: "FAIL"}.get(row.get("oracle_ok"), "-")  # type: ignore[call-overload]
        print(
            f"{row['id']:<22}{row['operator']:<20}{'yes' if row['recalled'] else 'NO':>9}"
            f"{row['tokens']:>8}{oracle:>8}{row['wall_s']:>8.1f}",
            flush=True,
        )
    if not rows:
        print("no tasks")
        return 1
    summary = summarise(rows, args.max_tokens)
    print(
        f"\n{'project':<16}{'tasks':>6}{'recall':>8}{'tok mean':>10}{'tok max':>9}"
        f"{'loc s':>8}{'wall s':>8}{'oracle':>8}"
    )
    for name, f in summary["by_project"].items():
        oracle = f"{f['oracle_pass']:.0%}" if "oracle_pass" in f else "-"
        print(
            f"{name:<16}{f['tasks']:>6}{f['recall']:>8.1%}{f['tokens_mean']:>10.0f}"
            f"{f['tokens_max']:>9}{f['localise_s_mean']:>8.2f}{f['wall_s_mean']:>8.1f}{oracle:>8}"
        )
    if summary["misses"]:
        print("missed: " + ", ".join(summary["misses"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "tasks": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
