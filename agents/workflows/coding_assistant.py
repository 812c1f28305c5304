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
import operator
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from agents.agent import Agent, AgentContext
from agents.budget import budget_stop, stopped
from agents.enforced import enforce_role
from agents.prompts import load_prompt
from agents.tool_runner import ToolOutcome, run_tool_call, tool_stats
from orchestrator.exceptions import BudgetExhaustedError
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.state import RunState, keep_partial, merge_counts
from orchestrator.types import RunStatus

__all__ = [
    "CodingState",
    "coding_assistant_graph",
    "editable_paths",
    "edits_schema",
    "files_schema",
    "parse_test_report",
]

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


class CodingState(RunState, total=False):
    """The run state of the coding assistant.

    Attributes:
        files: the repository's Python files.
        sources: the files read, path -> plain text.
        tests: the latest test report (``parse_test_report``).
        test_runs: every test report, in order.
        attempts: edit attempts made.
        edits: the latest edits the reasoner returned (``edits_schema``), if any.
        apply_errors: why the latest edits could not be applied (fed back to the reasoner).
    """

    files: list[str]
    sources: dict[str, str]
    tests: dict[str, Any]
    test_runs: Annotated[list[dict[str, Any]], operator.add]
    attempts: int
    edits: dict[str, Any] | None
    apply_errors: list[str]


def _coder(ctx: AgentContext) -> Agent:
    return ctx.reasoner or ctx.planner


def files_schema(paths: list[str]) -> dict[str, Any]:
    """The planner's choice of files to read: distinct paths among those that exist.

    ``uniqueItems`` is validated client-side; the schema sent for constrained decoding
    leaves it out where the server's grammar cannot take it (vLLM: HTTP 400).
    """
    return {
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


async def explore(state: CodingState, *, ctx: AgentContext) -> dict[str, Any]:
    """List the Python files, let the planner pick the ones worth reading, read them."""
    tools = ctx.planner.toolset
    listing = await run_tool_call(tools, "list_files", {"pattern": "**/*.py"})
    records = [listing]
    paths = _paths(listing.text) if listing.ok else []
    chosen = paths[:_MAX_READ]
    update: dict[str, Any] = {}
    if len(paths) > 1:
        prompt = (
            f"Task: {state.get('task', '')}\nFiles in the repository:\n"
            + "\n".join(paths)
            + "\nWhich files should be read to do the task? Include the tests."
        )
        try:
            call = await enforce_role(
                ctx.planner,
                [SystemMessage(ctx.planner.prompt), HumanMessage(prompt)],
                files_schema(paths),
                schema_name="choose_files",
                max_retries=ctx.max_enforce_retries,
            )
        except Exception as exc:
            keep_partial(exc, _tool_update(records))
            raise
        update.update(call.update())
        if call.value:
            picked = list(call.value["files"])
            # The failing tests are the spec: always read them with the picks.
            chosen = picked + [p for p in paths if "test" in p and p not in picked]
            chosen = chosen[:_MAX_READ]
    sources: dict[str, str] = {}
    for path in chosen:
        read = await run_tool_call(tools, "read_file", {"path": path})
        records.append(read)
        if read.ok:
            sources[path] = _plain_source(read.text)[:_SOURCE_CHARS]
    tool_update = _tool_update(records)
    update["enforcement"] = merge_counts(update.get("enforcement"), tool_update["enforcement"])
    return {**tool_update, **update, "files": paths, "sources": sources, "attempts": 0}


def _tool_update(outcomes: list[ToolOutcome]) -> dict[str, Any]:
    return {
        "tool_results": [o.record() for o in outcomes],
        "changed_files": [p for o in outcomes for p in o.changed],
        "enforcement": tool_stats(outcomes),
    }


async def test(state: CodingState, *, ctx: AgentContext) -> dict[str, Any]:
    """Run the tests; their report decides what comes next."""
    outcome = await run_tool_call(ctx.planner.toolset, "run_tests", {})
    report = parse_test_report(outcome.text)
    return {"tests": report, "test_runs": [report], **_tool_update([outcome])}


async def code(
    state: CodingState, *, ctx: AgentContext, prompt: str, clock: Callable[[], float]
) -> dict[str, Any]:
    """Ask the coder (the reasoner, else the planner) for edits that make the tests pass."""
    stop = budget_stop(ctx, state, clock())
    if stop is not None:
        return stop
    sources = state.get("sources") or {}
    files = "\n\n".join(f"### {p}\n{text}" for p, text in sources.items())
    report = state.get("tests") or {}
    feedback = state.get("apply_errors") or []
    request = (
        f"Task: {state.get('task', '')}\n\nFiles:\n{files}\n\n"
        f"Failing test output:\n{report.get('excerpt', '')}\n"
    )
    if feedback:
        request += "\nYour previous edits could not be applied:\n" + "\n".join(feedback)
    call = await enforce_role(
        _coder(ctx),
        [SystemMessage(prompt), HumanMessage(request)],
        edits_schema(editable_paths(list(sources) or list(state.get("files") or []))),
        schema_name="code_edits",
        max_retries=ctx.retries_within(int(state.get("steps", 0))),
    )
    update: dict[str, Any] = {
        **call.update(),
        "attempts": int(state.get("attempts", 0)) + 1,
        "edits": call.value,
        "apply_errors": [],
    }
    if call.value is not None:
        update["outputs"] = [{"kind": "code", "task": state.get("task", ""), "result": call.value}]
    elif call.error is not None:
        update["apply_errors"] = [call.error.describe()[:1000]]
    return update


async def apply(state: CodingState, *, ctx: AgentContext) -> dict[str, Any]:
    """Apply the edits (search/replace or whole files); failures are fed back."""
    tools = ctx.planner.toolset
    edits = (state.get("edits") or {}).get("edits", [])
    errors: list[str] = []
    outcomes: list[ToolOutcome] = []
    for edit in edits:
        if "content" in edit:
            args = {"path": edit["path"], "content": edit["content"]}
            outcome = await run_tool_call(tools, "write_file", args)
        else:
            outcome = await run_tool_call(tools, "apply_edit", dict(edit))
        outcomes.append(outcome)
        if not outcome.ok:
            errors.append(outcome.text[:800])
    return {"apply_errors": errors, **_tool_update(outcomes)}


async def finish(state: CodingState) -> dict[str, Any]:
    """Settle the run on the last test report."""
    report = state.get("tests") or {}
    attempts = int(state.get("attempts", 0))
    status = state.get("status") or RunStatus.RUNNING.value
    summary = (
        f"tests: {report.get('passed', 0)} passed, {report.get('failed', 0)} failed, "
        f"{report.get('errors', 0)} errors after {attempts} attempt(s)"
    )
    if report.get("ok"):
        return {"status": RunStatus.COMPLETED.value, "answer": "Tests pass. " + summary}
    if status == RunStatus.RUNNING.value:
        exc = BudgetExhaustedError(
            f"tests still failing after {attempts} attempt(s)", limit="max_attempts"
        )
        return {**stopped(exc), "answer": "Tests still failing. " + summary}
    return {"answer": "Tests still failing. " + summary}


def after_test(state: CodingState, *, max_attempts: int) -> str:
    """Finish when the tests pass or the attempts are spent; else write code."""
    if (state.get("tests") or {}).get("ok"):
        return "finish"
    if int(state.get("attempts", 0)) >= max_attempts:
        return "finish"
    return "code"


def after_code(state: CodingState) -> str:
    """Apply the edits, test again without edits, or finish a stopped run."""
    if state.get("status", RunStatus.RUNNING.value) != RunStatus.RUNNING.value:
        return "finish"
    return "apply" if state.get("edits") else "test"


def coding_assistant_graph(
    ctx: AgentContext, *, max_attempts: int = 3, clock: Callable[[], float] = time.time
) -> Graph:
    """Build the coding-assistant workflow over ``ctx`` (the planner's tools: list_files,
    read_file, apply_edit, write_file, run_tests)."""
    graph: Any = StateGraph(CodingState)
    nodes: dict[str, Callable[[CodingState], Awaitable[dict[str, Any]]]] = {
        "explore": partial(explore, ctx=ctx),
        "test": partial(test, ctx=ctx),
        "code": partial(code, ctx=ctx, prompt=load_prompt("coder"), clock=clock),
        "apply": partial(apply, ctx=ctx),
        "finish": finish,
    }
    for name, fn in nodes.items():
        graph.add_node(name, instrumented(name, fn))
    graph.add_edge(START, "explore")
    graph.add_edge("explore", "test")
    route_test = inline_route(partial(after_test, max_attempts=max_attempts))
    graph.add_conditional_edges("test", route_test, ["code", "finish"])
    graph.add_conditional_edges("code", inline_route(after_code), ["apply", "test", "finish"])
    graph.add_edge("apply", "test")
    graph.add_edge("finish", END)
    built: Graph = graph
    return built
