"""The coding assistant: a fixed explore -> test -> code -> apply -> test loop.

Like an architect/editor split, each model does what it is good at: the planner picks the
files worth reading (a choice constrained to the files that exist), the reasoner writes the
edits (validated against an edit schema), the tools apply them and run the tests, and the
loop feeds the failure output back until the tests pass or the attempts run out. Every step
goes through the same tool validation, schema enforcement and events as the standard graph,
so it streams, checkpoints and resumes like any Bicameral run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from agents.budget import budget_stop
from agents.context import AgentContext
from agents.enforced import enforce_role
from agents.prompts import load_prompt
from agents.tool_runner import run_tool_call
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.state import RunState
from orchestrator.types import Role, RunStatus

__all__ = ["coding_assistant_graph", "editable_paths", "edits_schema", "parse_test_report"]

_MAX_READ = 6
_SOURCE_CHARS = 6000


def edits_schema(paths: list[str]) -> dict[str, Any]:
    """Edits the reasoner may return: whole files or search/replace blocks on known paths."""
    path = {"enum": paths} if paths else {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "maxLength": 600},
            "edits": {
                "type": "array",
                "minItems": 1,
                "maxItems": 4,
                "items": {
                    "anyOf": [
                        {
                            "type": "object",
                            "properties": {
                                "path": path,
                                "search": {"type": "string", "minLength": 1, "maxLength": 2000},
                                "replace": {"type": "string", "maxLength": 4000},
                            },
                            "required": ["path", "search", "replace"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {
                                "path": path,
                                "content": {"type": "string", "maxLength": 20000},
                            },
                            "required": ["path", "content"],
                            "additionalProperties": False,
                        },
                    ]
                },
            },
        },
        "required": ["explanation", "edits"],
        "additionalProperties": False,
    }


def parse_test_report(text: str) -> dict[str, Any]:
    """The ``run_tests`` tool's JSON summary, tolerant of an error string."""
    try:
        report = json.loads(text)
    except ValueError:
        return {"ok": False, "passed": 0, "failed": 0, "errors": 1, "excerpt": text[:2000]}
    if not isinstance(report, dict):
        return {"ok": False, "passed": 0, "failed": 0, "errors": 1, "excerpt": text[:2000]}
    failures = report.get("failures") or []
    excerpt = "\n\n".join(
        f"{f.get('test', '')}: {f.get('message', '')}\n{f.get('excerpt', '')}"
        if isinstance(f, dict)
        else str(f)
        for f in failures
    )
    excerpt = (excerpt or str(report.get("output", "")))[:3000]
    ok = (
        int(report.get("failed", 0)) == 0
        and int(report.get("errors", 0)) == 0
        and int(report.get("passed", 0)) > 0
    )
    return {
        "ok": ok,
        "passed": int(report.get("passed", 0)),
        "failed": int(report.get("failed", 0)),
        "errors": int(report.get("errors", 0)),
        "excerpt": excerpt,
    }


def _is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or path.startswith("tests/")
        or "/tests/" in path
    )


def editable_paths(paths: list[str]) -> list[str]:
    """The files edits may touch: the tests are the spec, so they are left out (unless the
    repository has nothing else). The edit schema enforces this, not just the prompt."""
    return [p for p in paths if not _is_test_file(p)] or paths


def _plain_source(text: str) -> str:
    """``read_file`` output without its header and line numbers: edits must quote the file's
    lines exactly, and models copy plain lines more faithfully than numbered ones."""
    lines = text.splitlines()[1:]
    return "\n".join(line.split("\t", 1)[1] if "\t" in line else line for line in lines)


def _paths(listing: str) -> list[str]:
    return [
        line.strip()
        for line in listing.splitlines()
        if line.strip().endswith(".py") and not line.startswith("error")
    ]


def coding_assistant_graph(
    ctx: AgentContext, *, max_attempts: int = 3, clock: Callable[[], float] = time.time
) -> Graph:
    """Build the coding-assistant workflow over ``ctx`` (tools: list_files, read_file,
    apply_edit, write_file, run_tests)."""
    tools = ctx.planner_tools
    reasoner = ctx.reasoner or ctx.planner
    code_prompt = load_prompt("coder")

    async def explore(state: RunState) -> dict[str, Any]:
        listing = await run_tool_call(tools, "list_files", {"pattern": "**/*.py"})
        paths = _paths(listing.text) if listing.ok else []
        chosen = paths[:_MAX_READ]
        update: dict[str, Any] = {}
        if len(paths) > 1:
            schema = {
                "type": "object",
                "properties": {
                    "files": {
                        "type": "array",
                        "items": {"enum": paths},
                        "minItems": 1,
                        "maxItems": min(_MAX_READ, len(paths)),
                        "uniqueItems": True,
                    }
                },
                "required": ["files"],
                "additionalProperties": False,
            }
            prompt = (
                f"Task: {state.get('task', '')}\nFiles in the repository:\n"
                + "\n".join(paths)
                + "\nWhich files should be read to do the task? Include the tests."
            )
            call = await enforce_role(
                ctx.planner,
                [SystemMessage(ctx.planner_prompt), HumanMessage(prompt)],
                schema,
                role=Role.PLANNER.value,
                schema_name="choose_files",
                model_name=ctx.model_name(Role.PLANNER),
                max_retries=ctx.max_enforce_retries,
            )
            update.update(
                steps=max(call.attempts, 1), usage=call.usage, enforcement=call.enforcement
            )
            if call.value:
                picked = list(call.value["files"])
                # The failing tests are the spec: always read them with the picks.
                chosen = picked + [p for p in paths if "test" in p and p not in picked]
                chosen = chosen[:_MAX_READ]
        sources: dict[str, str] = {}
        records = [listing.record()]
        for path in chosen:
            read = await run_tool_call(tools, "read_file", {"path": path})
            records.append(read.record())
            if read.ok:
                sources[path] = _plain_source(read.text)[:_SOURCE_CHARS]
        update["results"] = {"files": paths, "sources": sources, "attempts": 0}
        update["tool_results"] = records
        return update

    async def test(state: RunState) -> dict[str, Any]:
        outcome = await run_tool_call(tools, "run_tests", {})
        report = parse_test_report(outcome.text)
        runs = list((state.get("results") or {}).get("test_runs", []))
        runs.append(report)
        return {"results": {"tests": report, "test_runs": runs}, "tool_results": [outcome.record()]}

    async def code(state: RunState) -> dict[str, Any]:
        results = state.get("results") or {}
        stop = budget_stop(ctx, state, clock())
        if stop is not None:
            return stop
        sources = results.get("sources", {})
        files = "\n\n".join(f"### {p}\n{text}" for p, text in sources.items())
        report = results.get("tests", {})
        feedback = results.get("apply_errors") or []
        prompt = (
            f"Task: {state.get('task', '')}\n\nFiles:\n{files}\n\n"
            f"Failing test output:\n{report.get('excerpt', '')}\n"
        )
        if feedback:
            prompt += "\nYour previous edits could not be applied:\n" + "\n".join(feedback)
        call = await enforce_role(
            reasoner,
            [SystemMessage(code_prompt), HumanMessage(prompt)],
            edits_schema(editable_paths(list(sources) or list(results.get("files", [])))),
            role=Role.REASONER.value if ctx.reasoner else Role.PLANNER.value,
            schema_name="code_edits",
            model_name=ctx.model_name(Role.REASONER if ctx.reasoner else Role.PLANNER),
            max_retries=ctx.max_enforce_retries,
        )
        attempts = int(results.get("attempts", 0)) + 1
        update: dict[str, Any] = {
            "steps": max(call.attempts, 1),
            "usage": call.usage,
            "enforcement": call.enforcement,
            "results": {"attempts": attempts, "edits": call.value, "apply_errors": []},
        }
        if call.value is not None:
            update["outputs"] = [
                {"kind": "code", "task": state.get("task", ""), "result": call.value}
            ]
        elif call.error is not None:
            update["results"]["apply_errors"] = [call.error.describe()[:1000]]
        return update

    async def apply(state: RunState) -> dict[str, Any]:
        results = state.get("results") or {}
        edits = (results.get("edits") or {}).get("edits", [])
        errors: list[str] = []
        changed: list[str] = []
        records: list[dict[str, Any]] = []
        for edit in edits:
            if "content" in edit:
                outcome = await run_tool_call(
                    tools, "write_file", {"path": edit["path"], "content": edit["content"]}
                )
            else:
                outcome = await run_tool_call(tools, "apply_edit", dict(edit))
            records.append(outcome.record())
            if outcome.ok:
                changed.append(edit["path"])
            else:
                errors.append(outcome.text[:800])
        return {
            "results": {"apply_errors": errors},
            "changed_files": changed,
            "tool_results": records,
        }

    async def finish(state: RunState) -> dict[str, Any]:
        results = state.get("results") or {}
        report = results.get("tests", {})
        attempts = int(results.get("attempts", 0))
        status = state.get("status") or RunStatus.RUNNING.value
        summary = (
            f"tests: {report.get('passed', 0)} passed, {report.get('failed', 0)} failed, "
            f"{report.get('errors', 0)} errors after {attempts} attempt(s)"
        )
        if report.get("ok"):
            return {"status": RunStatus.COMPLETED.value, "answer": "Tests pass. " + summary}
        if status == RunStatus.RUNNING.value:
            return {
                "status": RunStatus.BUDGET_EXHAUSTED.value,
                "answer": "Tests still failing. " + summary,
                "error": {
                    "type": "BudgetExhaustedError",
                    "message": f"tests still failing after {attempts} attempt(s)",
                },
            }
        return {"answer": "Tests still failing. " + summary}

    def after_test(state: RunState) -> str:
        results = state.get("results") or {}
        if results.get("tests", {}).get("ok"):
            return "finish"
        if int(results.get("attempts", 0)) >= max_attempts:
            return "finish"
        return "code"

    def after_code(state: RunState) -> str:
        if state.get("status", RunStatus.RUNNING.value) != RunStatus.RUNNING.value:
            return "finish"
        return "apply" if (state.get("results") or {}).get("edits") else "test"

    graph: Graph = StateGraph(RunState)
    for name, fn in (
        ("explore", explore),
        ("test", test),
        ("code", code),
        ("apply", apply),
        ("finish", finish),
    ):
        graph.add_node(name, instrumented(name, fn))
    graph.add_edge(START, "explore")
    graph.add_edge("explore", "test")
    graph.add_conditional_edges("test", inline_route(after_test), ["code", "finish"])
    graph.add_conditional_edges("code", inline_route(after_code), ["apply", "test", "finish"])
    graph.add_edge("apply", "test")
    graph.add_edge("finish", END)
    return graph
