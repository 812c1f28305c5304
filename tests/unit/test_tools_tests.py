"""run_tests: pytest in the sandbox, summarised from its JUnit report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.exceptions import ToolError, WorkspaceEscapeError
from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools.tests import run_tests

TESTS = """
import pytest
from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(2, 3) == 6


class TestMore:
    def test_error(self, tmp_path):
        (tmp_path / "scratch.txt").write_text("hi")
        raise RuntimeError("boom")


@pytest.mark.skip(reason="later")
def test_later():
    pass
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(
        "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
    )
    (root / "tests" / "test_calc.py").write_text(TESTS)
    return root


def test_counts_and_failure_excerpts(repo: Path) -> None:
    report = run_tests(repo)
    assert (report.passed, report.failed, report.errors, report.skipped) == (1, 2, 0, 1)
    assert report.exit_code == 1 and not report.ok and not report.timed_out
    first, second = report.failures
    assert first.test == "tests/test_calc.py::test_add"
    assert first.kind == "failed"
    assert "assert -1 == 5" in first.message
    assert "tests/test_calc.py:7" in first.excerpt
    assert second.test == "tests/test_calc.py::TestMore::test_error"
    assert "RuntimeError: boom" in second.message
    text = report.to_text()
    assert text.startswith("1 passed, 2 failed, 0 errors, 1 skipped (python -m pytest: exit code 1")
    assert "FAILED tests/test_calc.py::test_add: assert -1 == 5" in text


def test_passing_run_and_keyword_selection(repo: Path) -> None:
    report = run_tests(repo, keyword="mul")
    assert report.ok
    assert (report.passed, report.failed) == (1, 0)
    assert report.failures == ()


def test_fixing_the_code_makes_it_pass(repo: Path) -> None:
    (repo / "calc.py").write_text((repo / "calc.py").read_text().replace("a - b", "a + b"))
    (repo / "tests" / "test_calc.py").write_text(TESTS.replace('raise RuntimeError("boom")', ""))
    report = run_tests(repo, path="tests/test_calc.py")
    assert report.ok and report.passed == 3


def test_collection_errors_are_reported(repo: Path) -> None:
    (repo / "tests" / "test_broken.py").write_text("import does_not_exist\n")
    report = run_tests(repo, path="tests/test_broken.py")
    assert report.errors == 1 and not report.ok
    assert report.failures[0].kind == "error"
    assert "does_not_exist" in report.failures[0].excerpt


def test_a_repository_without_tests_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("x = 1\n")
    with pytest.raises(ToolError, match="no tests found"):
        run_tests(tmp_path)


def test_no_tests_collected(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    report = run_tests(tmp_path)
    assert report.exit_code == 5 and not report.ok
    assert "no tests were collected" in report.to_text()


def test_hanging_tests_are_stopped(repo: Path) -> None:
    (repo / "tests" / "test_hang.py").write_text(
        "def test_hang():\n    while True:\n        pass\n"
    )
    limits = SandboxLimits(wall_timeout_s=2, cpu_seconds=30)
    report = run_tests(repo, path="tests/test_hang.py", limits=limits)
    assert report.timed_out and not report.ok
    assert "stopped at the time limit" in report.to_text()


def test_parent_configuration_does_not_leak_in(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --this-option-does-not-exist\n")
    (repo / "pyproject.toml").write_text("[project]\nname = 'calc'\n")  # not a pytest config
    assert run_tests(repo, keyword="mul").ok


def test_the_workspace_configuration_applies(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-k mul'\n")
    report = run_tests(repo)
    assert report.ok and report.passed == 1


def test_nothing_is_left_in_the_workspace(repo: Path) -> None:
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    run_tests(repo)
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before


def test_paths_and_keywords_are_checked(repo: Path) -> None:
    with pytest.raises(WorkspaceEscapeError):
        run_tests(repo, path="../")
    with pytest.raises(ToolError, match="no such file"):
        run_tests(repo, path="tests/missing.py")
    with pytest.raises(ToolError, match="-k expression"):
        run_tests(repo, keyword="--rootdir=/")


def test_run_tests_tool_returns_json(repo: Path) -> None:
    toolset = Toolset(build_tools(["run_tests"], ToolContext(repo)))
    report = json.loads(toolset.call("run_tests", {"keyword": "add"}))
    assert report["ok"] is False
    assert report["summary"].startswith("0 passed, 1 failed, 0 errors")
    assert (report["passed"], report["failed"], report["errors"]) == (0, 1, 0)
    (failure,) = report["failures"]
    assert failure["test"] == "tests/test_calc.py::test_add"
    assert failure["kind"] == "failed"
    assert "assert -1 == 5" in failure["excerpt"]
    assert "output" not in report


def test_report_keeps_the_console_output_when_it_is_all_there_is(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    data = run_tests(tmp_path).to_dict()
    assert data["exit_code"] == 5 and "no tests ran" in data["output"]
