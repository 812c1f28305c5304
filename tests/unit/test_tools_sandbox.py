"""run_python and the sandbox runner: results, modes, limits classification, output capture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orchestrator.exceptions import ConfigError, ToolError
from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools._output import CappedBuffer
from tools.sandbox import KillReason, run_python, run_sandboxed


def test_run_python_code() -> None:
    result = run_python("import sys\nprint(6 * 7)\nprint('warn', file=sys.stderr)")
    assert result.ok
    assert result.exit_code == 0
    assert result.stdout == "42\n"
    assert result.stderr == "warn\n"
    assert result.killed_by is None and not result.timed_out and not result.truncated
    assert result.duration_s > 0


def test_run_python_reports_failures() -> None:
    result = run_python("raise SystemExit(3)")
    assert result.exit_code == 3 and not result.ok
    result = run_python("1 / 0")
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.stderr
    assert result.killed_by is None


def test_run_python_file_from_workspace(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 5\n")
    (tmp_path / "main.py").write_text(
        "import os, sys\nfrom helper import VALUE\nprint(VALUE, sys.argv[1:], os.getcwd())\n"
    )
    result = run_python(file="main.py", workspace=tmp_path, args=["x"])
    assert result.ok, result.stderr
    value, args, cwd = result.stdout.split(" ", 2)
    assert value == "5" and args == "['x']"
    assert not cwd.strip().startswith(str(tmp_path))  # a temporary directory, not the workspace
    assert not (tmp_path / "__pycache__").exists()


def test_run_python_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="exactly one"):
        run_python()
    with pytest.raises(ToolError, match="exactly one"):
        run_python("print(1)", file="x.py", workspace=tmp_path)
    with pytest.raises(ToolError, match="needs a workspace"):
        run_python(file="x.py")
    with pytest.raises(ToolError, match="no such file"):
        run_python(file="x.py", workspace=tmp_path)


def test_run_sandboxed_refuses_what_cannot_start(tmp_path: Path) -> None:
    result = run_sandboxed([str(tmp_path / "missing")], cwd=tmp_path, limits=SandboxLimits())
    assert result.exit_code == 127
    assert "could not start" in result.stderr


def test_run_sandboxed_runs_any_command(tmp_path: Path) -> None:
    result = run_sandboxed(
        [sys.executable, "-c", "import os; print(os.getcwd())"],
        cwd=tmp_path,
        limits=SandboxLimits(),
    )
    assert result.stdout.strip() == str(tmp_path)


def test_to_text_renders_status_and_streams() -> None:
    text = run_python("print('out')\nraise SystemExit('bad')").to_text()
    assert text.startswith("exit code 1 (")
    assert "--- stdout ---\nout" in text
    assert "--- stderr ---\nbad" in text


def test_file_size_limit_is_classified() -> None:
    result = run_python(
        "open('big', 'wb').write(b'x' * (3 * 1024 * 1024))",
        limits=SandboxLimits(file_size_mb=1),
    )
    assert result.killed_by is KillReason.FILE_SIZE_LIMIT
    assert "File too large" in result.stderr


def test_run_python_tool(tmp_path: Path) -> None:
    toolset = Toolset(build_tools(["run_python"], ToolContext(tmp_path)))
    assert toolset.call("run_python", {"code": "print(2 ** 10)"}).endswith("--- stdout ---\n1024")


@pytest.mark.parametrize(
    "bad",
    [
        {"cpu_seconds": 0},
        {"memory_mb": -1},
        {"wall_timeout_s": 0},
        {"max_output_chars": 10},
        {"max_processes": True},
    ],
)
def test_limits_are_validated(bad: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        SandboxLimits(**bad)


def test_capped_buffer_keeps_head_and_tail() -> None:
    buf = CappedBuffer(max_chars=100)
    buf.feed(b"HEAD" + b"x" * 10_000)
    buf.feed(b"y" * 10_000 + b"TAIL")
    text, cut = buf.text()
    assert cut
    assert text.startswith("HEAD")
    assert text.endswith("TAIL")
    assert "20008 bytes in all" in text


def test_capped_buffer_short_output_is_untouched() -> None:
    buf = CappedBuffer(max_chars=100)
    buf.feed("héllo ".encode())
    buf.feed("wörld".encode())
    assert buf.text() == ("héllo wörld", False)


def test_capped_buffer_cuts_by_characters_when_all_bytes_were_kept() -> None:
    buf = CappedBuffer(max_chars=100)
    buf.feed(b"a" * 150)
    text, cut = buf.text()
    assert cut and text.startswith("a" * 66) and text.endswith("a" * 34)


def test_works_without_pidfd(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.sandbox as sandbox

    monkeypatch.setattr(sandbox, "_pidfd", lambda pid: None)
    assert run_python("print('polled')").stdout == "polled\n"
    code = "import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass"
    result = run_python(code, limits=SandboxLimits(wall_timeout_s=1))
    assert result.timed_out and result.killed_by is KillReason.WALL_TIMEOUT
