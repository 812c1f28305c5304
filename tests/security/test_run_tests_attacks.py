"""run_tests against a test suite that attacks its own report: it must neither hang nor lie."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools.tests import run_tests

LIMITS = SandboxLimits(wall_timeout_s=60, cpu_seconds=30)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    return tmp_path


@pytest.mark.timeout(120)
def test_a_fifo_in_place_of_the_junit_report_does_not_hang_the_parent(repo: Path) -> None:
    # At session end the suite swaps pytest's report for a FIFO: the parent used to block in
    # ET.parse on it forever (no writer ever opens the other end).
    (repo / "conftest.py").write_text(
        "import os, sys\n\n"
        "def pytest_unconfigure(config):\n"
        "    xml = getattr(config, '_store', None)\n"
        "    for arg in sys.argv:\n"
        "        if arg.startswith('--junitxml='):\n"
        "            path = arg.split('=', 1)[1]\n"
        "            try:\n"
        "                os.unlink(path)\n"
        "            except FileNotFoundError:\n"
        "                pass\n"
        "            os.mkfifo(path)\n"
    )
    report = run_tests(repo, limits=LIMITS)
    assert not report.ok
    assert report.failed == 1  # from the console summary, the report being unusable


@pytest.mark.timeout(120)
def test_a_conftest_that_exits_0_early_is_not_a_pass(repo: Path) -> None:
    (repo / "conftest.py").write_text("import os\n\nos._exit(0)\n")
    report = run_tests(repo, limits=LIMITS)
    assert report.exit_code == 0
    assert not report.ok
    assert report.passed == 0
    assert "os._exit" in (report.problem or "")
    data = json.loads(
        Toolset(build_tools(["run_tests"], ToolContext(repo, LIMITS))).call("run_tests", {})
    )
    assert data["ok"] is False and "wrote no report" in data["problem"]


@pytest.mark.timeout(120)
def test_a_session_finish_hook_exiting_0_is_not_a_pass(repo: Path) -> None:
    # The tests ran and failed, then a hook ended the process with status 0 before the
    # report was written.
    (repo / "conftest.py").write_text(
        "import os\n\ndef pytest_sessionfinish(session, exitstatus):\n    os._exit(0)\n"
    )
    report = run_tests(repo, limits=LIMITS)
    assert report.exit_code == 0 and not report.ok
