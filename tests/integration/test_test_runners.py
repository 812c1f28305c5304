"""run_tests with each kind of runner: the workspace's venv, unittest, a configured command,
npm (Node's test runner), and the clear errors when there is nothing to run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.exceptions import ToolError
from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools.localise import localise
from tools.test_commands import detect_test_command
from tools.tests import run_tests

LIMITS = SandboxLimits(wall_timeout_s=120, cpu_seconds=60)
UNITTEST = """import unittest

from calc import add


class AddTests(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_zero(self):
        self.assertEqual(add(0, 0), 0)
"""


def _repo(root: Path, tests: str = UNITTEST) -> Path:
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text(tests)
    return root


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv without pytest (no pip either: it is not needed to run unittest)."""
    root = tmp_path_factory.mktemp("venv-repo")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    return root


def test_the_workspace_venv_runs_unittest_when_it_has_no_pytest(bare_venv: Path) -> None:
    repo = _repo(bare_venv)
    command = detect_test_command(repo)
    assert command.kind == "unittest" and command.runner == ".venv/bin/python -m unittest"
    report = run_tests(repo, limits=LIMITS)
    assert (report.passed, report.failed) == (1, 1) and not report.ok
    failure = report.failures[0]
    assert (
        failure.test.endswith("AddTests.test_add") and "AssertionError: -1 != 5" in failure.message
    )
    assert ("test_calc.py", 8, "test_add") in [(f.path, f.line, f.function) for f in failure.frames]
    assert report.note is None  # the workspace's own environment


def test_pytest_style_tests_without_pytest_in_the_venv_say_runner_not_available(
    bare_venv: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(bare_venv / ".venv", repo / ".venv", symlinks=True)
    _repo(repo, "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    with pytest.raises(ToolError, match=r"^test runner not available: pytest is not installed"):
        run_tests(repo, limits=LIMITS)
    toolset = Toolset(build_tools(["run_tests"], ToolContext(repo, LIMITS)))
    with pytest.raises(ToolError, match="test runner not available"):
        toolset.call("run_tests", {})


def test_without_a_venv_bicameral_python_runs_them_and_says_so(tmp_path: Path) -> None:
    _repo(tmp_path, "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    report = run_tests(tmp_path, limits=LIMITS)
    assert report.failed == 1 and report.runner == "python -m pytest"
    assert report.note and "no virtualenv" in report.note
    assert report.failures[0].frames[0].path == "test_calc.py"


def test_a_configured_command_runs_and_a_missing_one_is_reported(tmp_path: Path) -> None:
    _repo(tmp_path)
    report = run_tests(tmp_path, test_command=f"{sys.executable} -m unittest -q", limits=LIMITS)
    assert report.exit_code == 1 and not report.ok and report.failed == 1
    with pytest.raises(ToolError, match="test command not found: 'no-such-runner'"):
        run_tests(tmp_path, test_command="no-such-runner --all", limits=LIMITS)


def test_a_hanging_suite_is_killed_at_the_timeout_and_reported(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(
        "def spin(n):\n    while n > 0:\n        n += 1\n    return n\n"
    )
    (tmp_path / "test_calc.py").write_text(
        "from calc import spin\n\n\ndef test_spin():\n    assert spin(1) == 0\n"
    )
    report = run_tests(tmp_path, limits=SandboxLimits(wall_timeout_s=4, cpu_seconds=30))
    assert report.timed_out and not report.ok
    assert "time limit" in report.to_text() and "time limit" in (report.problem or "")
    # the traceback dumped while it hung says where: the test, then the looping function
    (hung,) = report.failures
    assert hung.kind == "timeout" and hung.test == "test_calc.py::test_spin"
    assert [(f.path, f.function) for f in hung.frames][-2:] == [
        ("test_calc.py", "test_spin"),
        ("calc.py", "spin"),
    ]
    assert localise(tmp_path, report.failures, max_tokens=1000).holds("calc.py", "spin")


def test_a_repository_without_tests_and_a_workspace_that_is_not_a_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "README.md").write_text("nothing to test\n")
    with pytest.raises(ToolError, match=r"^no tests found"):
        run_tests(tmp_path, limits=LIMITS)
    with pytest.raises(Exception, match="is not a directory"):
        ToolContext(tmp_path / "README.md")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_a_javascript_repository_runs_npm_test_and_edits_apply(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        json.dumps({"name": "calc", "version": "1.0.0", "scripts": {"test": "node --test"}})
    )
    (tmp_path / "calc.js").write_text(
        "function add(a, b) {\n  return a - b;\n}\nmodule.exports = { add };\n"
    )
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "calc.test.js").write_text(
        "const test = require('node:test');\nconst assert = require('node:assert');\n"
        "const { add } = require('../calc');\n\n"
        "test('adds', () => {\n  assert.strictEqual(add(2, 3), 5);\n});\n"
    )
    toolset = Toolset(
        build_tools(["run_tests", "apply_edit", "repo_map"], ToolContext(tmp_path, LIMITS))
    )
    before = json.loads(toolset.call("run_tests", {}))
    assert before["runner"] == "npm test" and not before["ok"] and before["failed"] == 1
    frames = before["failures"][0]["frames"]
    assert {"path": "test/calc.test.js", "line": 6, "function": None} in frames
    report = run_tests(tmp_path, limits=LIMITS)
    context = localise(tmp_path, report.failures, max_tokens=2000)
    assert context.holds("calc.js", "add") and "return a - b;" in context.text
    assert "function add(a, b)" in toolset.call("repo_map", {})
    toolset.call("apply_edit", {"path": "calc.js", "search": "a - b", "replace": "a + b"})
    after = json.loads(toolset.call("run_tests", {}))
    assert after["ok"] and after["passed"] == 1


def test_the_call_trace_finds_what_static_analysis_cannot(tmp_path: Path) -> None:
    # The failing test reaches `_double` only through a name built at run time: the trace
    # records the call, and Ochiai ranks it over what the passing test also calls.
    (tmp_path / "ops.py").write_text(
        "import sys\n\n\ndef _double(x):\n    return x * 3\n\n\n"
        "def _ident(x):\n    return x\n\n\n"
        "def apply(name, x):\n    return getattr(sys.modules[__name__], '_' + name)(x)\n"
    )
    (tmp_path / "test_ops.py").write_text(
        "from ops import apply\n\n\n"
        "def test_twice():\n    assert apply('dou' + 'ble', 2) == 4\n\n\n"
        "def test_same():\n    assert apply('ident', 2) == 2\n"
    )
    report = run_tests(tmp_path, limits=LIMITS, trace=True)
    assert report.failed == 1
    assert ("ops.py", 4) in report.executed["test_ops.py::test_twice"]
    assert "executed" not in report.to_dict()
    context = localise(tmp_path, report.failures, max_tokens=200, executed=report.executed)
    ranked = [d.qualname for d in context.functions]
    assert ranked.index("_double") < ranked.index("_ident")
    without = localise(tmp_path, report.failures, max_tokens=200)
    assert [d.qualname for d in without.functions].index("_double") > 0
