"""The coding assistant, workflow mode: test and localise -> code -> apply -> test, in a loop.

The ``localise`` tool runs the repository's tests with its own runner and, from the failing
tests' tracebacks and assertions, collects the code they point at within a token budget
(deterministic, no model). The reasoner sees that context and writes edits, validated
against an edit schema whose paths are the files it was shown; the tools apply them and the
loop runs the tests again, feeding new failures (and edits that could not be applied) back
until the tests pass or the attempts run out. Every step goes through the same tool
validation, schema enforcement and events as the standard graph, so it streams,
checkpoints and resumes like any Bicameral run. The result holds the tests before and
after and, when the graph knows the workspace, the unified diff.
"""

from __future__ import annotations

import difflib
import json
import operator
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from agents.agent import Agent, AgentContext
from agents.budget import budget_stop, stopped
from agents.enforced import enforce_role
from agents.prompts import load_prompt
from agents.tool_runner import ToolOutcome, run_tool_call, tool_stats
from orchestrator.exceptions import BudgetExhaustedError, ConfigError
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.state import RunState
from orchestrator.types import RunStatus
from tools.listing import is_test_path

__all__ = [
    "CodingState",
    "coding_assistant_graph",
    "editable_paths",
    "edits_schema",
    "files_schema",
    "parse_test_report",
    "unified_diff",
]

_CONTEXT_TOKENS = 8000
_MAX_ORIGINAL_BYTES = 512 * 1024
_REQUIRED_TOOLS = ("localise", "apply_edit")
_MAX_READ = 6


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
    """A test report from ``run_tests``'s JSON (or ``localise``'s ``report``); a tool error
    (no tests, runner not available) becomes ``{"ok": False, "error": ...}``."""
    try:
        report = json.loads(text)
    except ValueError:
        return {"ok": False, "passed": 0, "failed": 0, "errors": 0, "error": text[:2000]}
    if not isinstance(report, dict):
        return {"ok": False, "passed": 0, "failed": 0, "errors": 0, "error": text[:2000]}
    failures = [f for f in report.get("failures") or [] if isinstance(f, dict)]
    excerpt = "\n\n".join(
        f"{f.get('test', '')}: {f.get('message', '')}\n{f.get('excerpt', '')}" for f in failures
    )
    excerpt = (excerpt or str(report.get("problem") or report.get("output", "")))[:3000]
    ok = (
        bool(report.get("ok", False))
        if "ok" in report
        else (
            int(report.get("failed", 0)) == 0
            and int(report.get("errors", 0)) == 0
            and int(report.get("passed", 0)) > 0
        )
    )
    parsed: dict[str, Any] = {
        "ok": ok,
        "passed": int(report.get("passed", 0)),
        "failed": int(report.get("failed", 0)),
        "errors": int(report.get("errors", 0)),
        "excerpt": excerpt,
    }
    for key in ("runner", "note", "problem"):
        if report.get(key):
            parsed[key] = str(report[key])
    return parsed


def editable_paths(paths: list[str]) -> list[str]:
    """The files edits may touch: the tests are the spec, so they are left out (unless the
    repository has nothing else). The edit schema enforces this, not just the prompt."""
    return [p for p in paths if not is_test_path(p)] or paths


def _read_original(workspace: Path | None, rel: str) -> str | None:
    if workspace is None:
        return None
    from tools._workspace import resolve

    try:
        real = resolve(workspace, rel)
        if not real.is_file() or real.stat().st_size > _MAX_ORIGINAL_BYTES:
            return None
        return real.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    except Exception:  # a path the confinement refuses: no original to diff against
        return None


def unified_diff(workspace: Path, originals: dict[str, str | None]) -> str:
    """The unified diff of each changed file against its content before the run."""
    out: list[str] = []
    for rel in sorted(originals):
        before = originals[rel]
        after = _read_original(workspace, rel)
        if before is None or after is None or before == after:
            continue
        out.extend(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                f"a/{rel}",
                f"b/{rel}",
            )
        )
    return "".join(out)


class CodingState(RunState, total=False):
    """The run state of the coding assistant.

    Attributes:
        tests: the latest test report (``parse_test_report``).
        test_runs: every test report, in order.
        context: the latest localised context (text, tokens, functions, files).
        attempts: edit attempts made.
        edits: the latest edits the reasoner returned (``edits_schema``), if any.
        apply_errors: why the latest edits could not be applied (fed back to the reasoner).
        originals: each edited file's content before the run (for the diff).
        report: what the run reports (``RunResult.report``): tests before and after, diff.
    """

    tests: dict[str, Any]
    test_runs: Annotated[list[dict[str, Any]], operator.add]
    context: dict[str, Any]
    attempts: int
    edits: dict[str, Any] | None
    apply_errors: list[str]
    originals: dict[str, str | None]
    report: dict[str, Any]


def _coder(ctx: AgentContext) -> Agent:
    return ctx.reasoner or ctx.planner


def files_schema(paths: list[str]) -> dict[str, Any]:
    """A planner's choice of files to read: distinct paths among those that exist (agent
    mode and tools may use it; the workflow localises instead of asking).

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


def _tool_update(outcomes: list[ToolOutcome]) -> dict[str, Any]:
    return {
        "tool_results": [o.record() for o in outcomes],
        "changed_files": [p for o in outcomes for p in o.changed],
        "enforcement": tool_stats(outcomes),
    }


async def test(state: CodingState, *, ctx: AgentContext, context_tokens: int) -> dict[str, Any]:
    """Run the tests and localise the failures; the report decides what comes next."""
    outcome = await run_tool_call(ctx.planner.toolset, "localise", {"max_tokens": context_tokens})
    update: dict[str, Any] = _tool_update([outcome])
    if outcome.ok:
        data = json.loads(outcome.text)
        report = parse_test_report(json.dumps(data.get("report", {})))
        if data.get("context"):
            update["context"] = data["context"]
    else:
        report = parse_test_report(outcome.text.removeprefix("error: "))
    return {**update, "tests": report, "test_runs": [report]}


async def code(
    state: CodingState, *, ctx: AgentContext, prompt: str, clock: Callable[[], float]
) -> dict[str, Any]:
    """Ask the coder (the reasoner, else the planner) for edits against the localised code."""
    stop = budget_stop(ctx, state, clock())
    if stop is not None:
        return stop
    context = state.get("context") or {}
    report = state.get("tests") or {}
    feedback = state.get("apply_errors") or []
    request = (
        f"Task: {state.get('task', '')}\n\nCode the failing tests lead to:\n"
        f"{context.get('text', '(none found)')}\n\n"
        f"Failing test output:\n{report.get('excerpt', '')}\n"
    )
    if feedback:
        request += "\nYour previous edits could not be applied:\n" + "\n".join(feedback)
    call = await enforce_role(
        _coder(ctx),
        [SystemMessage(prompt), HumanMessage(request)],
        edits_schema(editable_paths(list(context.get("files") or []))),
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


async def apply(state: CodingState, *, ctx: AgentContext, workspace: Path | None) -> dict[str, Any]:
    """Apply the edits (search/replace or whole files); failures are fed back."""
    tools = ctx.planner.toolset
    edits = (state.get("edits") or {}).get("edits", [])
    originals = dict(state.get("originals") or {})
    errors: list[str] = []
    outcomes: list[ToolOutcome] = []
    for edit in edits:
        if edit["path"] not in originals:
            originals[edit["path"]] = _read_original(workspace, edit["path"])
        if "content" in edit:
            args = {"path": edit["path"], "content": edit["content"]}
            outcome = await run_tool_call(tools, "write_file", args)
        else:
            outcome = await run_tool_call(tools, "apply_edit", dict(edit))
        outcomes.append(outcome)
        if not outcome.ok:
            errors.append(outcome.text[:800])
    return {"apply_errors": errors, "originals": originals, **_tool_update(outcomes)}


async def finish(state: CodingState, *, workspace: Path | None) -> dict[str, Any]:
    """Settle the run on the last test report; report the tests before and after and the diff."""
    report = state.get("tests") or {}
    attempts = int(state.get("attempts", 0))
    status = state.get("status") or RunStatus.RUNNING.value
    runs = list(state.get("test_runs") or [])
    context = state.get("context") or {}
    out: dict[str, Any] = {
        "tests_before": runs[0] if runs else None,
        "tests_after": runs[-1] if len(runs) > 1 else None,
        "attempts": attempts,
        "localised": list(context.get("functions") or []),
        "context_tokens": context.get("tokens", 0),
    }
    if workspace is not None and state.get("originals"):
        out["diff"] = unified_diff(workspace, dict(state.get("originals") or {}))
    if report.get("error"):
        message = str(report["error"]).splitlines()[0]
        return {
            "report": out,
            "status": RunStatus.FAILED.value,
            "answer": f"Could not run the tests: {message}",
            "error": {"type": "ToolError", "message": message},
        }
    summary = (
        f"tests: {report.get('passed', 0)} passed, {report.get('failed', 0)} failed, "
        f"{report.get('errors', 0)} errors after {attempts} attempt(s)"
    )
    if report.get("runner"):
        summary += f" ({report['runner']})"
    if report.get("ok"):
        return {
            "report": out,
            "status": RunStatus.COMPLETED.value,
            "answer": "Tests pass. " + summary,
        }
    if report.get("problem"):
        summary += f"; {report['problem']}"
    if status == RunStatus.RUNNING.value:
        exc = BudgetExhaustedError(
            f"tests still failing after {attempts} attempt(s)", limit="max_attempts"
        )
        return {"report": out, **stopped(exc), "answer": "Tests still failing. " + summary}
    return {"report": out, "answer": "Tests still failing. " + summary}


def after_test(state: CodingState, *, max_attempts: int) -> str:
    """Finish when the tests pass, cannot run, or the attempts are spent; else write code."""
    report = state.get("tests") or {}
    if report.get("ok") or report.get("error"):
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
    ctx: AgentContext,
    *,
    max_attempts: int = 3,
    clock: Callable[[], float] = time.time,
    workspace: Path | None = None,
    context_tokens: int = _CONTEXT_TOKENS,
) -> Graph:
    """Build the coding-assistant workflow over ``ctx`` (the planner's tools: localise,
    apply_edit, and write_file for whole-file edits).

    Args:
        ctx: the agents' context; the planner's toolset must hold ``localise`` and
            ``apply_edit``.
        max_attempts: edit-and-test rounds before giving up.
        clock: the time source for budgets.
        workspace: the workspace, to report the unified diff of what changed.
        context_tokens: the budget for the localised context the reasoner sees.

    Raises:
        ConfigError: a required tool is missing.
    """
    missing = [name for name in _REQUIRED_TOOLS if name not in ctx.planner.toolset]
    if missing:
        raise ConfigError(
            "the coding assistant needs the tools "
            + ", ".join(_REQUIRED_TOOLS)
            + f" (missing: {', '.join(missing)}); add them to tools.builtin"
        )
    graph: Any = StateGraph(CodingState)
    nodes: dict[str, Callable[[CodingState], Awaitable[dict[str, Any]]]] = {
        "test": partial(test, ctx=ctx, context_tokens=context_tokens),
        "code": partial(code, ctx=ctx, prompt=load_prompt("coder"), clock=clock),
        "apply": partial(apply, ctx=ctx, workspace=workspace),
        "finish": partial(finish, workspace=workspace),
    }
    for name, fn in nodes.items():
        graph.add_node(name, instrumented(name, fn))
    graph.add_edge(START, "test")
    route_test = inline_route(partial(after_test, max_attempts=max_attempts))
    graph.add_conditional_edges("test", route_test, ["code", "finish"])
    graph.add_conditional_edges("code", inline_route(after_code), ["apply", "test", "finish"])
    graph.add_edge("apply", "test")
    graph.add_edge("finish", END)
    built: Graph = graph
    return built
