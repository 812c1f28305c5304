"""Run the workspace's tests with the workspace's own runner, in the sandbox, and summarise.

The command comes from :func:`~tools.test_commands.detect_test_command`: a configured
``test_command``, else pytest (or unittest) with the workspace's own virtualenv (Bicameral's
interpreter when it has none, and the report says so), ``npm test``, ``go test ./...`` or
``cargo test``. It runs under the same :class:`SandboxLimits` as ``run_python`` (more room for
Node, Go and Cargo, which reserve large address spaces). For pytest, counts and failures come
from a JUnit XML report written to a private temporary directory (sturdier than scraping the
console), and each failure carries its traceback frames; the console summary is the fallback.
Nothing is left in the workspace by pytest: no ``.pytest_cache``, no bytecode, ``tmp_path`` in
the temporary directory.

A run is ``ok`` only when the runner exited 0, within the time limit, with no failure and at
least one test passed: a pytest run that exits 0 without writing its report (a ``conftest``
calling ``os._exit(0)``) is not ok, and a missing runner is reported as "test runner not
available", never as ``0 passed``.

Example:
    >>> report = run_tests(Path("repo"))
    >>> report.ok, report.passed, report.failed
    (False, 3, 1)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.tools import BaseTool, StructuredTool

from orchestrator.exceptions import ToolError
from tools._context import ToolContext
from tools._limits import SandboxLimits
from tools._workspace import relative, resolve
from tools.sandbox import SandboxResult, run_sandboxed
from tools.test_commands import RUNNER_UNAVAILABLE, TestCommand, detect_test_command, runner_limits
from tools.test_reports import (
    Frame,
    TestFailure,
    hung_test,
    parse_generic,
    parse_junit,
    parse_pytest_summary,
    parse_unittest,
    read_calls,
)

__all__ = ["Frame", "TestFailure", "TestReport", "run_tests", "run_tests_tool"]

_NO_TESTS = 5
_TRACER = str(Path(__file__).with_name("_trace_pytest.py"))
# What makes a file a pytest configuration (None: being there is enough), as pytest decides.
_CONFIG_MARKERS = {
    "pytest.ini": None,
    ".pytest.ini": None,
    "pyproject.toml": "[tool.pytest",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
}
_CONFIG_SNIFF = 1024 * 1024
_NO_REPORT = (
    "the test run exited 0 but pytest wrote no report: something in the tests ended the "
    "process early (e.g. os._exit in a conftest.py), so no result can be trusted"
)


@dataclass(frozen=True)
class TestReport:
    """The outcome of one test run.

    Attributes:
        passed: tests that passed.
        failed: tests that failed.
        errors: tests (or collections) that errored.
        skipped: tests skipped or expected to fail.
        exit_code: the runner's exit status (pytest: 0 all passed, 1 failures, 2
            interrupted, 5 no tests collected; negative when killed by a signal).
        timed_out: the wall-clock limit was reached.
        duration_s: wall-clock seconds.
        failures: the first failures, in order (at most five), with their frames.
        output: the console output (cut to ``max_output_chars``).
        runner: the command that ran (``.venv/bin/python -m pytest``, ``npm test``).
        note: why that environment was used, when it is not the workspace's own.
        problem: why the run cannot be trusted although the runner said it passed.
        executed: with ``trace``, each test's id -> the workspace functions it called, as
            ``(path, first line)`` (not part of :meth:`to_dict`).
    """

    __test__: ClassVar[bool] = False

    passed: int
    failed: int
    errors: int
    skipped: int
    exit_code: int
    timed_out: bool
    duration_s: float
    failures: tuple[TestFailure, ...]
    output: str
    runner: str = "python -m pytest"
    note: str | None = None
    problem: str | None = None
    executed: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The runner exited 0 in time, nothing failed and at least one test passed."""
        return (
            self.exit_code == 0
            and not self.timed_out
            and self.problem is None
            and self.failed == 0
            and self.errors == 0
            and self.passed > 0
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, ``ok``, a one-line ``summary``, the runner and the
        failures (with their frames); the console ``output`` only when it is the sole
        explanation (a failure without test failures: a crash, a usage error, a time-out)."""
        data: dict[str, Any] = {
            "ok": self.ok,
            "summary": self.to_text().splitlines()[0],
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "runner": self.runner,
            "failures": [asdict(f) for f in self.failures],
        }
        if self.note:
            data["note"] = self.note
        if self.problem:
            data["problem"] = self.problem
        if not self.ok and not self.failures:
            data["output"] = self.output
        return data

    def to_text(self) -> str:
        """A summary for a model: the counts, then each failure excerpt."""
        head = (
            f"{self.passed} passed, {self.failed} failed, {self.errors} errors, "
            f"{self.skipped} skipped ({self.runner}: exit code {self.exit_code}, "
            f"{self.duration_s:.1f}s)"
        )
        if self.timed_out:
            head += "; stopped at the time limit"
        lines = [head]
        if self.problem:
            lines.append(self.problem)
        if self.note:
            lines.append(f"note: {self.note}")
        if self.exit_code == _NO_TESTS and "pytest" in self.runner:
            lines.append("no tests were collected")
        for failure in self.failures:
            lines.append(f"\n{failure.kind.upper()} {failure.test}: {failure.message}")
            lines.append(failure.excerpt)
        if not self.failures and not self.ok and self.output:
            lines.append(f"\n{self.output.strip()}")
        return "\n".join(lines)


def run_tests(
    workspace: Path,
    *,
    path: str = ".",
    keyword: str | None = None,
    limits: SandboxLimits | None = None,
    autoload_plugins: bool = False,
    test_command: str | list[str] | tuple[str, ...] | None = None,
    trace: bool = False,
) -> TestReport:
    """Run the workspace's tests (``path`` and ``keyword`` narrow a pytest run).

    With pytest, the workspace's own configuration applies; a workspace without one gets an
    empty configuration, never that of a directory above it. Installed third-party plugins
    are not auto-loaded unless ``autoload_plugins`` is set (they can cost seconds per run); a
    project that needs one can name it in its ``addopts`` (``-p name``).

    Args:
        workspace: the project root; the tests run there.
        path: what to test, relative to the workspace (pytest and unittest).
        keyword: a pytest ``-k`` expression selecting tests.
        limits: sandbox limits (default :class:`SandboxLimits`).
        autoload_plugins: load every installed pytest plugin, as plain ``pytest`` does.
        test_command: the command to run instead of the detected one.
        trace: record which workspace functions each test calls (pytest only; slower),
            for localisation (:attr:`TestReport.executed`).

    Raises:
        WorkspaceEscapeError: ``path`` leaves the workspace.
        ToolError: ``path`` does not exist, ``keyword`` looks like an option, there are no
            tests, the test command does not exist, or the runner is not installed
            (``test runner not available: ...``).
    """
    limits = limits or SandboxLimits()
    real = resolve(workspace, path, tool="run_tests")
    if not real.exists():
        raise ToolError(f"no such file or directory: {path}", tool="run_tests")
    target = relative(workspace, real)
    if target.startswith("-"):
        target = f"./{target}"
    if keyword is not None and (keyword.startswith("-") or "\x00" in keyword):
        raise ToolError("keyword must be a pytest -k expression", tool="run_tests")
    root = Path(os.path.realpath(workspace))
    command = detect_test_command(root, test_command)
    with tempfile.TemporaryDirectory(prefix="bicameral-tests-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)
        report_path = scratch / "junit.xml"
        argv, env = _argv(command, root, scratch, report_path, target, keyword, autoload_plugins)
        trace_path = scratch / "calls.json"
        if command.kind == "pytest":  # a traceback of a test still running at 60% of the limit
            dump_after = max(1, int(runner_limits(command, limits).wall_timeout_s * 0.6))
            argv += ["-o", f"faulthandler_timeout={dump_after}"]
            if trace:  # same interpreter and flags, through the tracing launcher
                at = argv.index("-m")
                tracer = scratch / "_trace_pytest.py"
                shutil.copyfile(_TRACER, tracer)  # readable inside the sandbox
                argv[at : at + 2] = [str(tracer), str(trace_path), "--"]
        result = run_sandboxed(
            argv, cwd=root, limits=runner_limits(command, limits), scratch=scratch, extra_env=env
        )
        if command.kind == "pytest" and _no_pytest(result):
            raise ToolError(
                f"{RUNNER_UNAVAILABLE}: {command.runner} has no pytest", tool="run_tests"
            )
        report = _report(command, result, report_path, root)
        if trace and command.kind == "pytest":
            report = replace(report, executed=read_calls(trace_path))
        return report


def _argv(
    command: TestCommand,
    root: Path,
    scratch: Path,
    report_path: Path,
    target: str,
    keyword: str | None,
    autoload_plugins: bool,
) -> tuple[list[str], dict[str, str]]:
    argv = list(command.argv)
    env: dict[str, str] = {}
    if command.kind == "pytest":
        argv = [
            argv[0], "-E", "-s", "-B", "-X", "utf8", "-m", "pytest", *argv[3:],
            "-q", "--tb=short", "--color=no", "-p", "no:cacheprovider",
            f"--junitxml={report_path}", "-o", "junit_family=xunit1",
            f"--basetemp={scratch / 'basetemp'}", "--rootdir=.", target,
        ]  # fmt: skip
        if not _has_pytest_config(root):
            (scratch / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            argv += ["-c", str(scratch / "pytest.ini")]
        if keyword:
            argv += ["-k", keyword]
        if not autoload_plugins:
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    elif command.kind == "unittest":
        start = "." if target == "." else target
        argv = [argv[0], "-E", "-B", "-m", "unittest", "discover", "-s", start, "-t", "."]
        if keyword:
            argv += ["-k", keyword]
    elif command.kind in ("npm", "go", "cargo"):
        env["CI"] = "1"
        env["NO_COLOR"] = "1"
    return argv, env


def _no_pytest(result: SandboxResult) -> bool:
    return result.exit_code == 1 and "No module named pytest" in result.stderr


def _has_pytest_config(root: Path) -> bool:
    for name, marker in _CONFIG_MARKERS.items():
        path = root / name
        if not path.is_file() or path.is_symlink():
            continue
        if marker is None:
            return True
        with path.open(encoding="utf-8", errors="replace") as fh:
            if marker in fh.read(_CONFIG_SNIFF):
                return True
    return False


def _report(
    command: TestCommand, result: SandboxResult, report_path: Path, root: Path
) -> TestReport:
    output = result.stdout + (f"\n{result.stderr}" if result.stderr.strip() else "")
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[TestFailure] = []
    problem: str | None = None
    if command.kind == "pytest":
        parsed = parse_junit(report_path, counts, failures, root)
        if not parsed:
            parse_pytest_summary(result.stdout, counts)
            if result.exit_code == 0 and not result.timed_out:
                problem = _NO_REPORT
    elif command.kind == "unittest":
        parse_unittest(output, counts, failures, root)
    else:
        recognised = parse_generic(command.kind, output, counts, failures, root)
        recognised = recognised or parse_pytest_summary(result.stdout, counts)
        recognised = recognised or parse_unittest(output, counts, failures, root)
        if not recognised and result.exit_code == 0 and command.kind == "custom":
            counts["passed"] = 1  # a custom command's exit status is its verdict
    if result.timed_out:
        hung = hung_test(output, root) if not failures else None
        if hung is not None:
            failures.append(hung)
        limit = f"the tests were stopped at the {result.duration_s:.0f}s time limit"
        problem = f"{limit} ({result.killed_by.value if result.killed_by else 'timeout'})"
    return TestReport(
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["errors"],
        skipped=counts["skipped"],
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration_s=result.duration_s,
        failures=tuple(failures),
        output=output,
        runner=command.runner,
        note=command.note,
        problem=problem,
    )


def run_tests_tool(ctx: ToolContext) -> BaseTool:
    """The ``run_tests`` tool bound to ``ctx`` (and to its ``test_command``, if set)."""

    def run_tests_(path: str = ".", keyword: str | None = None) -> str:
        """Run the repository's tests with its own test runner (pytest, unittest, npm test,
        go test, cargo test or the configured command). Returns JSON: ok, summary, passed,
        failed, errors, skipped, runner, and the first failures (test, message, traceback
        excerpt, frames).

        Args:
            path: test file or directory relative to the workspace; "." runs everything.
            keyword: optional pytest -k expression to select tests by name.
        """
        report = run_tests(
            ctx.workspace,
            path=path,
            keyword=keyword,
            limits=ctx.limits,
            test_command=ctx.test_command,
        )
        return json.dumps(report.to_dict(), ensure_ascii=False)

    return StructuredTool.from_function(
        run_tests_,
        name="run_tests",
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
