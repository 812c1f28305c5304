"""Which command runs a workspace's tests, with which environment.

:func:`detect_test_command` decides, in order:

1. a configured command (YAML ``test_command``), run as given; its program must exist;
2. Python (``test_*.py``/``*_test.py`` files, or a pytest configuration): the workspace's own
   virtualenv (``.venv``, ``venv``, ``env``) when it has one, else the interpreter Bicameral
   runs on, and the result says so; pytest when that interpreter has it, ``unittest`` when the
   tests do not need pytest, else "test runner not available";
3. ``package.json`` with a ``test`` script: ``npm test``;
4. ``go.mod``: ``go test ./...``;
5. ``Cargo.toml``: ``cargo test``.

A workspace with none of these has no tests, and a needed program that is not installed is
"test runner not available": both raise :class:`~orchestrator.exceptions.ToolError` with that
one clear line, never a run that reports ``0 passed``.

Example:
    >>> detect_test_command(Path("repo")).kind
    'pytest'
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path

from orchestrator.exceptions import ToolError
from tools._limits import SandboxLimits
from tools.listing import repo_files

__all__ = ["RUNNER_UNAVAILABLE", "TestCommand", "detect_test_command", "runner_limits"]

RUNNER_UNAVAILABLE = "test runner not available"
_VENVS = (".venv", "venv", "env")
_PYTEST_CONFIG = ("pytest.ini", ".pytest.ini", "conftest.py")
_SNIFF = 64 * 1024
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class TestCommand:
    """How to run the tests.

    Attributes:
        kind: ``pytest``, ``unittest``, ``npm``, ``go``, ``cargo`` or ``custom``.
        argv: the program and its arguments (report options are added for pytest).
        runner: a short description for the report (``.venv/bin/python -m pytest``).
        note: why this environment was chosen, when it is not the workspace's own.
    """

    __test__ = False

    kind: str
    argv: tuple[str, ...]
    runner: str
    note: str | None = None


def _unavailable(why: str) -> ToolError:
    return ToolError(f"{RUNNER_UNAVAILABLE}: {why}", tool="run_tests")


def _which(program: str, root: Path) -> str | None:
    if "/" in program:
        path = program if os.path.isabs(program) else str(root / program)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(program, path=os.environ.get("PATH", _DEFAULT_PATH))


def detect_test_command(root: Path, configured: str | Sequence[str] | None = None) -> TestCommand:
    """The command that runs the tests of the workspace ``root``.

    Args:
        root: the workspace (real path).
        configured: a command from the configuration (a shell-style string or argv list).

    Raises:
        ToolError: no tests found, the configured program does not exist, or the runner the
            workspace needs is not installed (``test runner not available: ...``).
    """
    if configured:
        argv = tuple(shlex.split(configured) if isinstance(configured, str) else configured)
        if not argv:
            raise ToolError("test_command is empty", tool="run_tests")
        program = _which(argv[0], root)
        if program is None:
            raise ToolError(
                f"test command not found: {argv[0]!r} is not installed", tool="run_tests"
            )
        kind = "pytest" if argv[1:3] == ("-m", "pytest") else "custom"
        return TestCommand(kind, (program, *argv[1:]), shlex.join(argv))
    files = repo_files(root, limit=20_000)
    py_tests = [f for f in files if _is_python_test(f)]
    if py_tests or any(f.rsplit("/", 1)[-1] in _PYTEST_CONFIG for f in files):
        return _python_command(root, py_tests)
    package = root / "package.json"
    if package.is_file() and _has_test_script(package):
        npm = _which("npm", root)
        if npm is None:
            raise _unavailable("package.json has a test script but npm is not installed")
        return TestCommand("npm", (npm, "test", "--silent"), "npm test")
    if (root / "go.mod").is_file():
        go = _which("go", root)
        if go is None:
            raise _unavailable("go.mod found but the go toolchain is not installed")
        return TestCommand("go", (go, "test", "./..."), "go test ./...")
    if (root / "Cargo.toml").is_file():
        cargo = _which("cargo", root)
        if cargo is None:
            raise _unavailable("Cargo.toml found but cargo is not installed")
        return TestCommand("cargo", (cargo, "test"), "cargo test")
    raise ToolError(
        "no tests found: no test_*.py or *_test.py files, no package.json test script, "
        "no go.mod, no Cargo.toml (set test_command to say how to run them)",
        tool="run_tests",
    )


def _is_python_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _has_test_script(package: Path) -> bool:
    try:
        data = json.loads(package.read_text(encoding="utf-8")[: 1024 * 1024])
    except (OSError, ValueError):
        return False
    scripts = data.get("scripts") if isinstance(data, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    return isinstance(test, str) and "no test specified" not in test


def _python_command(root: Path, tests: list[str]) -> TestCommand:
    for name in _VENVS:
        python = root / name / "bin" / "python"
        if (
            python.is_file()
            and os.access(python, os.X_OK)
            and (root / name / "pyvenv.cfg").is_file()
        ):
            rel = f"{name}/bin/python"
            if _venv_has(root / name, "pytest"):
                return TestCommand("pytest", (str(python), "-m", "pytest"), f"{rel} -m pytest")
            if not _needs_pytest(root, tests):
                return TestCommand(
                    "unittest", (str(python), "-m", "unittest"), f"{rel} -m unittest"
                )
            raise _unavailable(f"pytest is not installed in the workspace's {name}")
    note = (
        f"the workspace has no virtualenv; the tests ran with Bicameral's Python ({sys.executable})"
    )
    if find_spec("pytest") is not None:
        return TestCommand("pytest", (sys.executable, "-m", "pytest"), "python -m pytest", note)
    if not _needs_pytest(root, tests):
        return TestCommand(
            "unittest", (sys.executable, "-m", "unittest"), "python -m unittest", note
        )
    raise _unavailable(
        "the workspace has no virtualenv with pytest and Bicameral's Python has no pytest "
        "(create .venv in the workspace with pytest, or set test_command)"
    )


def _venv_has(venv: Path, module: str) -> bool:
    pattern = str(venv / "lib" / "python3*" / "site-packages" / module)
    return bool(glob.glob(pattern) or glob.glob(pattern + ".py"))


def _needs_pytest(root: Path, tests: list[str]) -> bool:
    """Whether any test file imports pytest or uses a pytest-only form (bare test functions)."""
    for rel in tests[:200]:
        try:
            with (root / rel).open(encoding="utf-8", errors="replace") as fh:
                text = fh.read(_SNIFF)
        except OSError:
            continue
        if "import pytest" in text or "unittest" not in text:
            return True
    return not tests


def runner_limits(command: TestCommand, limits: SandboxLimits) -> SandboxLimits:
    """Limits fit for the runner: Node, Go and Cargo reserve large address spaces and start
    many threads and compilers, so they get room for that (the wall clock still applies)."""
    if command.kind in ("npm", "go", "cargo", "custom"):
        return replace(
            limits,
            memory_mb=max(limits.memory_mb, 16_384),
            max_processes=max(limits.max_processes, 256),
            cpu_seconds=max(limits.cpu_seconds, 300),
        )
    return limits
