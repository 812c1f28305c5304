"""Run the workspace's tests with pytest in the sandbox and summarise the outcome.

pytest runs as ``sys.executable -m pytest`` with the workspace as working directory, under
the same :class:`SandboxLimits` as ``run_python``. Counts and failure excerpts come from a
JUnit XML report written to a private temporary directory (sturdier than scraping the
console); the console summary line is the fallback when no report was written (a crash, a
timeout). Nothing is left in the workspace: no ``.pytest_cache``, no bytecode, and
``tmp_path`` lives in the temporary directory.

Example:
    >>> report = run_tests(Path("repo"))
    >>> report.ok, report.passed, report.failed
    (False, 3, 1)
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.tools import BaseTool, StructuredTool

from orchestrator.exceptions import ToolError
from tools._context import ToolContext
from tools._limits import SandboxLimits
from tools._workspace import relative, resolve
from tools.sandbox import SandboxResult, run_sandboxed

__all__ = ["TestFailure", "TestReport", "run_tests", "run_tests_tool"]

_MAX_FAILURES = 5
_EXCERPT_CHARS = 1500
_MAX_REPORT_BYTES = 20 * 1024 * 1024
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
_NO_TESTS = 5
# What makes a file a pytest configuration (None: being there is enough), as pytest decides.
_CONFIG_MARKERS = {
    "pytest.ini": None,
    ".pytest.ini": None,
    "pyproject.toml": "[tool.pytest",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
}
_CONFIG_SNIFF = 1024 * 1024


@dataclass(frozen=True)
class TestFailure:
    """One failed or erroring test: its id, the one-line message and a traceback excerpt."""

    __test__: ClassVar[bool] = False

    test: str
    kind: str
    message: str
    excerpt: str


@dataclass(frozen=True)
class TestReport:
    """The outcome of one pytest run.

    Attributes:
        passed: tests that passed.
        failed: tests that failed.
        errors: tests (or collections) that errored.
        skipped: tests skipped or expected to fail.
        exit_code: pytest's exit status (0 all passed, 1 failures, 2 interrupted,
            5 no tests collected; negative when killed by a signal).
        timed_out: the wall-clock limit was reached.
        duration_s: wall-clock seconds.
        failures: the first failures, in order (at most five).
        output: the console output (cut to ``max_output_chars``).
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

    @property
    def ok(self) -> bool:
        """Every collected test passed and at least one ran."""
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, ``ok``, a one-line ``summary`` and the failures; the
        console ``output`` only when it is the sole explanation (a failure without test
        failures: a crash, a usage error, a time-out)."""
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
            "failures": [asdict(f) for f in self.failures],
        }
        if not self.ok and not self.failures:
            data["output"] = self.output
        return data

    def to_text(self) -> str:
        """A summary for a model: the counts, then each failure excerpt."""
        head = (
            f"{self.passed} passed, {self.failed} failed, {self.errors} errors, "
            f"{self.skipped} skipped (pytest exit code {self.exit_code}, {self.duration_s:.1f}s)"
        )
        if self.timed_out:
            head += "; stopped at the time limit"
        lines = [head]
        if self.exit_code == _NO_TESTS:
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
) -> TestReport:
    """Run pytest on ``path`` (a test file or directory of the workspace).

    The workspace's own pytest configuration applies; a workspace without one gets an empty
    configuration, never that of a directory above it. Installed third-party plugins are not
    auto-loaded unless ``autoload_plugins`` is set (they can cost seconds per run); a project
    that needs one can name it in its ``addopts`` (``-p name``).

    Args:
        workspace: the project root; pytest runs there.
        path: what to test, relative to the workspace.
        keyword: a pytest ``-k`` expression selecting tests.
        limits: sandbox limits (default :class:`SandboxLimits`).
        autoload_plugins: load every installed pytest plugin, as plain ``pytest`` does.

    Raises:
        WorkspaceEscapeError: ``path`` leaves the workspace.
        ToolError: ``path`` does not exist, or ``keyword`` looks like an option.
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
    with tempfile.TemporaryDirectory(prefix="bicameral-tests-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)
        report_path = scratch / "junit.xml"
        argv = [
            sys.executable, "-E", "-s", "-B", "-X", "utf8", "-m", "pytest",
            "-q", "--tb=short", "--color=no", "-p", "no:cacheprovider",
            f"--junitxml={report_path}", "-o", "junit_family=xunit1",
            f"--basetemp={scratch / 'basetemp'}", "--rootdir=.", target,
        ]  # fmt: skip
        root = Path(os.path.realpath(workspace))
        if not _has_pytest_config(root):
            (scratch / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            argv += ["-c", str(scratch / "pytest.ini")]
        if keyword:
            argv += ["-k", keyword]
        env = {} if autoload_plugins else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        result = run_sandboxed(argv, cwd=root, limits=limits, scratch=scratch, extra_env=env)
        return _report(result, report_path)


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


def _report(result: SandboxResult, report_path: Path) -> TestReport:
    output = result.stdout + (f"\n{result.stderr}" if result.stderr.strip() else "")
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[TestFailure] = []
    parsed = _parse_junit(report_path, counts, failures)
    if not parsed:
        _parse_summary(result.stdout, counts)
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
    )


def _parse_junit(path: Path, counts: dict[str, int], failures: list[TestFailure]) -> bool:
    """Fill ``counts`` and ``failures`` from the JUnit report; False when there is none.

    The report was written by code under test, so it is size-checked first; the expat
    bundled with Python refuses entity-expansion bombs.
    """
    try:
        if path.stat().st_size > _MAX_REPORT_BYTES:
            return False
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return False
    for case in root.iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "errors"
                if len(failures) < _MAX_FAILURES:
                    failures.append(_failure(case, child))
                break
            if child.tag == "skipped":
                outcome = "skipped"
        counts[outcome] += 1
    return True


def _failure(case: ET.Element, node: ET.Element) -> TestFailure:
    file = case.get("file") or ""
    classname, name = case.get("classname") or "", case.get("name") or ""
    cls = classname.rsplit(".", 1)[-1] if classname else ""
    parts = [file or classname]
    if cls[:1].isupper() and file:
        parts.append(cls)
    parts.append(name)
    test = "::".join(p for p in parts if p)
    text = (node.text or "").strip()
    if len(text) > _EXCERPT_CHARS:  # the assertion sits at the end of a traceback
        text = "[...]\n" + text[-_EXCERPT_CHARS:]
    message = (node.get("message") or "").strip().splitlines()
    return TestFailure(
        test=test,
        kind="failed" if node.tag == "failure" else "error",
        message=message[0] if message else node.tag,
        excerpt=text,
    )


def _parse_summary(stdout: str, counts: dict[str, int]) -> None:
    """The last ``N passed, M failed in Xs`` line of the console output."""
    for line in reversed(stdout.splitlines()):
        found = _COUNT.findall(line)
        if found and " in " in line:
            for number, word in found:
                key = {"error": "errors", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
                counts[key] += int(number)
            return


def run_tests_tool(ctx: ToolContext) -> BaseTool:
    """The ``run_tests`` tool bound to ``ctx``."""

    def run_tests_(path: str = ".", keyword: str | None = None) -> str:
        """Run the workspace's tests with pytest. Returns JSON: ok, summary, passed,
        failed, errors, skipped, and the first failures (test, message, traceback excerpt).

        Args:
            path: test file or directory relative to the workspace; "." runs everything.
            keyword: optional pytest -k expression to select tests by name.
        """
        report = run_tests(ctx.workspace, path=path, keyword=keyword, limits=ctx.limits)
        return json.dumps(report.to_dict(), ensure_ascii=False)

    return StructuredTool.from_function(
        run_tests_,
        name="run_tests",
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
