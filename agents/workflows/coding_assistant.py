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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from agents.budget import budget_stop
from agents.context import AgentContext
from agents.enforced import enforce_role
from agents.prompts import load_prompt
from agents.tool_runner import run_tool_call
from orchestrator.exceptions import ConfigError
from orchestrator.graph.kit import Graph, inline_route, instrumented
from orchestrator.graph.state import RunState
from orchestrator.types import Role, RunStatus
from tools.listing import is_test_path

__all__ = ["coding_assistant_graph", "editable_paths", "edits_schema", "parse_test_report"]

_CONTEXT_TOKENS = 8000
_MAX_ORIGINAL_BYTES = 512 * 1024
_REQUIRED_TOOLS = ("localise", "apply_edit")


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


def coding_assistant_graph(
    ctx: AgentContext,
    *,
    max_attempts: int = 3,
    clock: Callable[[], float] = time.time,
    workspace: Path | None = None,
    context_tokens: int = _CONTEXT_TOKENS,
) -> Graph:
    """Build the coding-assistant workflow over ``ctx`` (tools: localise, apply_edit, and
    write_file for whole-file edits).

    Args:
        ctx: the agents' context; ``planner_tools`` must hold ``localise`` and ``apply_edit``.
        max_attempts: edit-and-test rounds before giving up.
        clock: the time source for budgets.
        workspace: the workspace, to report the unified diff of what changed.
        context_tokens: the budget for the localised context the reasoner sees.

    Raises:
        ConfigError: a required tool is missing.
    """
    tools = ctx.planner_tools
    missing = [name for name in _REQUIRED_TOOLS if name not in tools]
    if missing:
        raise ConfigError(
            "the coding assistant needs the tools "
            + ", ".join(_REQUIRED_TOOLS)
            + f" (missing: {', '.join(missing)}); add them to tools.builtin"
        )
    reasoner = ctx.reasoner or ctx.planner
    code_prompt = load_prompt("coder")

    async def test(state: RunState) -> dict[str, Any]:
        outcome = await run_tool_call(tools, "localise", {"max_tokens": context_tokens})
        context: dict[str, Any] = {}
        if outcome.ok:
            data = json.loads(outcome.text)
            report = parse_test_report(json.dumps(data.get("report", {})))
            context = data.get("context") or {}
        else:
            report = parse_test_report(outcome.text.removeprefix("error: "))
        results = state.get("results") or {}
        runs = [*results.get("test_runs", []), report]
        update: dict[str, Any] = {"tests": report, "test_runs": runs}
        if context:
            update["context"] = context
        return {"results": update, "tool_results": [outcome.record()]}

    async def code(state: RunState) -> dict[str, Any]:
        results = state.get("results") or {}
        stop = budget_stop(ctx, state, clock())
        if stop is not None:
            return stop
        context = results.get("context") or {}
        report = results.get("tests", {})
        feedback = results.get("apply_errors") or []
        prompt = (
            f"Task: {state.get('task', '')}\n\nCode the failing tests lead to:\n"
            f"{context.get('text', '(none found)')}\n\n"
            f"Failing test output:\n{report.get('excerpt', '')}\n"
        )
        if feedback:
            prompt += "\nYour previous edits could not be applied:\n" + "\n".join(feedback)
        paths = editable_paths(list(context.get("files") or []))
        call = await enforce_role(
            reasoner,
            [SystemMessage(code_prompt), HumanMessage(prompt)],
            edits_schema(paths),
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
        originals = dict(results.get("originals") or {})
        errors: list[str] = []
        changed: list[str] = []
        records: list[dict[str, Any]] = []
        for edit in edits:
            if edit["path"] not in originals:
                originals[edit["path"]] = _read_original(workspace, edit["path"])
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
            "results": {"apply_errors": errors, "originals": originals},
            "changed_files": changed,
            "tool_results": records,
        }

    async def finish(state: RunState) -> dict[str, Any]:
        results = state.get("results") or {}
        report = results.get("tests", {})
        attempts = int(results.get("attempts", 0))
        status = state.get("status") or RunStatus.RUNNING.value
        runs = list(results.get("test_runs") or [])
        context = results.get("context") or {}
        report_out: dict[str, Any] = {
            "tests_before": runs[0] if runs else None,
            "tests_after": runs[-1] if len(runs) > 1 else None,
            "attempts": attempts,
            "localised": list(context.get("functions") or []),
            "context_tokens": context.get("tokens", 0),
        }
        if workspace is not None and results.get("originals"):
            report_out["diff"] = unified_diff(workspace, results["originals"])
        update: dict[str, Any] = {"results": {"report": report_out}}
        if report.get("error"):
            message = str(report["error"]).splitlines()[0]
            return {
                **update,
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
                **update,
                "status": RunStatus.COMPLETED.value,
                "answer": "Tests pass. " + summary,
            }
        if report.get("problem"):
            summary += f"; {report['problem']}"
        if status == RunStatus.RUNNING.value:
            return {
                **update,
                "status": RunStatus.BUDGET_EXHAUSTED.value,
                "answer": "Tests still failing. " + summary,
                "error": {
                    "type": "BudgetExhaustedError",
                    "message": f"tests still failing after {attempts} attempt(s)",
                },
            }
        return {**update, "answer": "Tests still failing. " + summary}

    def after_test(state: RunState) -> str:
        results = state.get("results") or {}
        report = results.get("tests", {})
        if report.get("ok") or report.get("error"):
            return "finish"
        if int(results.get("attempts", 0)) >= max_attempts:
            return "finish"
        return "code"

    def after_code(state: RunState) -> str:
        if state.get("status", RunStatus.RUNNING.value) != RunStatus.RUNNING.value:
            return "finish"
        return "apply" if (state.get("results") or {}).get("edits") else "test"

    graph: Graph = StateGraph(RunState)
    for name, fn in (("test", test), ("code", code), ("apply", apply), ("finish", finish)):
        graph.add_node(name, instrumented(name, fn))
    graph.add_edge(START, "test")
    graph.add_conditional_edges("test", inline_route(after_test), ["code", "finish"])
    graph.add_conditional_edges("code", inline_route(after_code), ["apply", "test", "finish"])
    graph.add_edge("apply", "test")
    graph.add_edge("finish", END)
    return graph
