"""The coding-assistant loop with scripted models: a failed edit, the failure fed back, the
fix applied, the tests run for real in the sandbox until they pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agents.workflows.coding_assistant import (
    coding_assistant_graph,
    editable_paths,
    parse_test_report,
)
from orchestrator import FakeChatModel, FunctionChatModel, Pipeline, RunStatus
from orchestrator.exceptions import ConfigError
from tools import ToolContext, build_tools

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "coding_assistant" / "sample_repo"
TOOLS = ["localise", "write_file", "apply_edit", "run_tests"]


def _pipeline(tmp: Path, planner: FakeChatModel, reasoner: FakeChatModel) -> Pipeline:
    repo = tmp / "repo"
    shutil.copytree(SAMPLE, repo)
    return Pipeline(
        planner=planner,
        reasoner=reasoner,
        tools=build_tools(TOOLS, ToolContext(repo)),
        graph_builder=lambda ctx: coding_assistant_graph(ctx, max_attempts=3, workspace=repo),
    )


def _edit(search: str, replace: str) -> str:
    return json.dumps(
        {
            "explanation": "fix add",
            "edits": [{"path": "calc.py", "search": search, "replace": replace}],
        }
    )


def test_failure_fed_back_then_fixed(tmp_path: Path) -> None:
    planner = FakeChatModel([])
    reasoner = FakeChatModel(
        [_edit("return a * b", "return a + b"), _edit("return a - b", "return a + b")]
    )
    result = _pipeline(tmp_path, planner, reasoner).run("Fix the failing test")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.answer is not None and result.answer.startswith("Tests pass")
    assert result.changed_files == ["calc.py"]
    assert "return a + b" in (tmp_path / "repo" / "calc.py").read_text()
    second_prompt = str(reasoner.requests[1][0][-1].content)
    assert "could not be applied" in second_prompt and "assert -1 == 5" in second_prompt
    first_prompt = str(reasoner.requests[0][0][-1].content)
    assert "### tests/test_calc.py lines 4-5 (failing test test_add)" in first_prompt
    assert "### calc.py lines 4-6 (function add)" in first_prompt  # localised, not picked
    assert "    return a - b\n" in first_prompt  # plain lines to quote, no line numbers
    assert first_prompt.index("(function add)") < first_prompt.index("(function mean)")
    assert not planner.requests  # workflow mode needs no planner call
    report = result.report or {}
    before, after = report["tests_before"], report["tests_after"]
    assert (before["passed"], before["failed"], after["passed"], after["failed"]) == (1, 1, 2, 0)
    assert report["diff"].startswith("--- a/calc.py\n+++ b/calc.py\n")
    assert "-    return a - b\n+    return a + b\n" in report["diff"]
    assert report["attempts"] == 2 and "calc.py::add" in report["localised"]


def test_attempts_run_out_honestly(tmp_path: Path) -> None:
    planner = FakeChatModel([])
    reasoner = FakeChatModel([_edit("nope", "x")] * 3)
    result = _pipeline(tmp_path, planner, reasoner).run("Fix it")
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert result.answer is not None and result.answer.startswith("Tests still failing")
    assert (SAMPLE / "calc.py").read_text().count("return a - b") == 1  # original untouched


def test_tests_are_not_editable_and_reports_parse() -> None:
    assert editable_paths(["calc.py", "tests/test_calc.py", "conftest.py"]) == ["calc.py"]
    assert editable_paths(["tests/test_x.py"]) == ["tests/test_x.py"]
    report = parse_test_report(
        json.dumps(
            {
                "passed": 1,
                "failed": 1,
                "errors": 0,
                "failures": [{"test": "t::a", "message": "boom", "excerpt": "E boom"}],
            }
        )
    )
    assert report["ok"] is False and "t::a: boom" in report["excerpt"]
    assert parse_test_report("test runner not available: x")["error"].startswith("test runner")


def test_a_missing_test_runner_fails_the_run_with_that_message(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text("x = 1\n")
    pipeline = Pipeline(
        planner=FakeChatModel([]),
        reasoner=FakeChatModel([]),
        tools=build_tools(TOOLS, ToolContext(repo)),
        graph_builder=lambda ctx: coding_assistant_graph(ctx, workspace=repo),
    )
    result = pipeline.run("Fix it")
    assert result.status is RunStatus.FAILED
    assert result.answer is not None and result.answer.startswith(
        "Could not run the tests: no tests found"
    )
    assert [r["ok"] for r in result.tool_results] == [False]


def test_the_workflow_needs_its_tools(tmp_path: Path) -> None:
    pipeline = Pipeline(
        planner=FakeChatModel([]),
        tools=build_tools(["run_tests"], ToolContext(tmp_path)),
        graph_builder=lambda ctx: coding_assistant_graph(ctx),
    )
    with pytest.raises(ConfigError, match="needs the tools localise, apply_edit"):
        pipeline.run("Fix it")


def test_an_edit_to_a_file_that_changed_meanwhile_is_rejected_reread_and_retried(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    prompts: list[str] = []

    def reasoner(messages: list[Any], options: dict[str, Any]) -> str:
        prompts.append(str(messages[-1].content))
        if len(prompts) == 1:  # someone edits calc.py while the reasoner thinks
            calc = repo / "calc.py"
            calc.write_text(calc.read_text().replace("return a - b", "return (a - b)"))
            return _edit("    return a - b\n", "    return a + b\n")
        return _edit("    return (a - b)\n", "    return a + b\n")

    result = _pipeline(tmp_path, FakeChatModel([]), FunctionChatModel(reasoner)).run("Fix it")
    assert result.status is RunStatus.COMPLETED, result.answer
    assert "could not be applied" in prompts[1] and "return (a - b)" in prompts[1]
    assert "return a + b" in (repo / "calc.py").read_text()
    assert [r["ok"] for r in result.tool_results if r["tool"] == "apply_edit"] == [False, True]
