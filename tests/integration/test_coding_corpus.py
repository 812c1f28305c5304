"""The coding corpus on stored real code (inflection 0.5.1, MIT): for each task, the bug is
injected, the coding assistant runs with an oracle reasoner (it returns the inverse of the
mutation) through the real test command, sandbox and edit schema, in workflow and agent
mode; the mutated function must be in the localised context and the tests must pass after."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agents.agent import make_agent
from agents.prompts import load_prompt
from agents.workflows.coding_assistant import coding_assistant_graph
from benchmarks.coding_corpus.mutate import apply_task
from benchmarks.coding_localisation import oracle_reasoner, scripted_planner
from orchestrator import FakeChatModel, FunctionChatModel, Pipeline, RunStatus
from tools import SandboxLimits, ToolContext, build_tools
from tools.tests import run_tests

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "coding_corpus"
TASKS = json.loads((DATA / "tasks.json").read_text(encoding="utf-8"))
LIMITS = SandboxLimits(cpu_seconds=60, wall_timeout_s=120)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inflection") / "inflection-0.5.1"
    for src in (DATA / "inflection-0.5.1").rglob("*"):
        if src.is_file():
            dst = root / src.relative_to(DATA / "inflection-0.5.1")
            dst = dst.with_name(dst.name.removesuffix(".fixture"))
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return root


def _holds(functions: list[str], task: dict[str, Any]) -> bool:
    wanted = task["function"]
    for entry in functions:
        path, _, qual = entry.partition("::")
        if path == task["path"] and (wanted == qual or wanted.startswith(qual + ".")):
            return True
    return False


def test_the_stored_project_passes_its_own_tests(pristine: Path) -> None:
    report = run_tests(pristine, limits=LIMITS)
    assert report.ok and report.passed > 400


@pytest.mark.parametrize("task", TASKS, ids=[t["id"] for t in TASKS])
def test_workflow_mode_localises_and_the_oracle_fixes(
    task: dict[str, Any], pristine: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    apply_task(pristine, task, ws)
    pipeline = Pipeline(
        planner=FakeChatModel([]),
        reasoner=oracle_reasoner(task),
        tools=build_tools(["localise", "apply_edit", "write_file"], ToolContext(ws, LIMITS)),
        graph_builder=lambda ctx: coding_assistant_graph(ctx, max_attempts=1, workspace=ws),
    )
    result = pipeline.run("Fix the failing tests")
    report = result.report or {}
    assert report["tests_before"]["failed"] + report["tests_before"]["errors"] >= 1
    assert _holds(report["localised"], task), report["localised"]
    assert report["context_tokens"] <= 8000
    assert result.status is RunStatus.COMPLETED, result.answer
    assert report["tests_after"]["ok"] and report["diff"].startswith(f"--- a/{task['path']}")


@pytest.mark.parametrize("task", TASKS[:2], ids=[t["id"] for t in TASKS[:2]])
def test_agent_mode_with_a_scripted_planner_fixes(
    task: dict[str, Any], pristine: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    apply_task(pristine, task, ws)
    pipeline = Pipeline(
        planner=make_agent(
            "planner",
            FunctionChatModel(scripted_planner),
            prompt=load_prompt("coding_agent"),
            tools=build_tools(["localise", "apply_edit", "run_tests"], ToolContext(ws, LIMITS)),
        ),
        reasoner=oracle_reasoner(task),
    )
    result = pipeline.run("Fix the failing tests")
    assert result.status is RunStatus.COMPLETED and result.answer == "Tests pass."
    assert run_tests(ws, limits=LIMITS).ok
