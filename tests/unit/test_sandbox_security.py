"""Security: file tools stay in the workspace; sandboxed code is bounded and sees no secrets.

Every bomb here is bounded twice: by the limit under test and by a short wall-clock limit,
so a regression fails the test instead of taking the machine down. The fork bomb only runs
after a harmless probe has shown that the process limit is enforced on this machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.exceptions import ToolError, WorkspaceEscapeError
from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools._workspace import resolve
from tools.files import apply_edit, apply_edits, list_files, read_file, write_file
from tools.sandbox import KillReason, ProcessLimit, process_limit_mode, run_python
from tools.tests import run_tests

SECRET = "TOP-SECRET-CONTENT\n"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace and, beside it, an outside directory holding a secret."""
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (ws / "calc.py").write_text("x = 1\n")
    (ws / "link_dir").symlink_to(outside)
    (ws / "link_file").symlink_to(outside / "secret.txt")
    (ws / "dangling").symlink_to(outside / "created-through-link.txt")
    (ws / "to_dev").symlink_to("/dev/zero")
    return ws, outside


def _tree(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every path under ``root`` (except ``skip``) with a digest of its content."""
    state: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_symlink():
            state[str(path)] = "link:" + os.readlink(path)
        elif path.is_file():
            state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[str(path)] = "dir"
    return state


ESCAPES = [
    "../outside/secret.txt",
    "a/../../outside/secret.txt",
    "./../outside/secret.txt",
    "link_dir/secret.txt",
    "link_file",
    "dangling",
    "to_dev",
    "/etc/passwd",
    "SEE_ABSOLUTE_OUTSIDE",
    "/",
    "..",
]


def _path(form: str, outside: Path) -> str:
    return str(outside / "secret.txt") if form == "SEE_ABSOLUTE_OUTSIDE" else form


def _operations(ws: Path) -> dict[str, Callable[[str], Any]]:
    return {
        "read_file": lambda p: read_file(ws, p),
        "write_file": lambda p: write_file(ws, p, "pwned\n"),
        "apply_edit": lambda p: apply_edit(ws, p, "TOP", "PWNED"),
        "apply_edits(content)": lambda p: apply_edits(ws, [{"path": p, "content": "pwned\n"}]),
        "apply_edits(search)": lambda p: apply_edits(
            ws, [{"path": p, "search": "TOP", "replace": "PWNED"}]
        ),
        "run_python(file)": lambda p: run_python(file=p, workspace=ws),
        "run_tests(path)": lambda p: run_tests(ws, path=p),
    }


@pytest.mark.parametrize("form", ESCAPES)
def test_every_path_escape_is_refused(layout: tuple[Path, Path], form: str) -> None:
    ws, outside = layout
    before = _tree(ws.parent)
    for name, operation in _operations(ws).items():
        with pytest.raises(WorkspaceEscapeError):
            operation(_path(form, outside))
            pytest.fail(f"{name} accepted {form!r}")
    assert _tree(ws.parent) == before


_PARTS = st.sampled_from(["..", ".", "", "a", "calc.py", "link_dir", "link_file", "dangling", "~"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(_PARTS, min_size=1, max_size=6), absolute=st.booleans())
def test_resolved_paths_never_leave_the_workspace(
    layout: tuple[Path, Path], parts: list[str], absolute: bool
) -> None:
    ws, _ = layout
    path = "/".join(parts)
    if absolute:
        path = f"{ws}/{path}"
    try:
        real = resolve(ws, path)
    except ToolError:
        return
    root = ws.resolve()
    assert real == root or root in real.parents
    assert real.resolve() == real  # already a real path: nothing left to follow


@pytest.mark.parametrize("pattern", ["../*", "../outside/*", "/etc/*", "a/../../*"])
def test_list_files_cannot_look_outside(layout: tuple[Path, Path], pattern: str) -> None:
    ws, _ = layout
    with pytest.raises(WorkspaceEscapeError):
        list_files(ws, pattern)


def test_list_files_does_not_follow_links_out(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    listed = list_files(ws)
    assert "calc.py" in listed
    assert not any(p.startswith("link_dir/") for p in listed)


def test_nul_bytes_are_refused(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    for operation in _operations(ws).values():
        with pytest.raises(ToolError, match="NUL"):
            operation("calc.py\x00../../outside/secret.txt")
    with pytest.raises(ToolError, match="NUL"):
        list_files(ws, "*\x00")


@pytest.mark.timeout(20)
def test_fifos_and_devices_are_refused_without_blocking(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    os.mkfifo(ws / "pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        read_file(ws, "pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        write_file(ws, "pipe", "x")
    try:
        os.mknod(ws / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        return  # not allowed to make device nodes here: nothing more to check
    with pytest.raises(ToolError, match="not a regular file"):
        read_file(ws, "zero")
    with pytest.raises(ToolError, match="not a regular file"):
        apply_edit(ws, "zero", "a", "b")


def test_the_workspace_is_the_only_place_files_change(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    (ws / "tests").mkdir()
    (ws / "tests" / "test_w.py").write_text(
        "def test_w(tmp_path):\n    (tmp_path / 'f').write_text('x')\n    assert True\n"
    )
    toolset = Toolset(
        build_tools(["write_file", "apply_edit", "run_python", "run_tests"], ToolContext(ws))
    )
    outside_before = _tree(ws.parent, skip=ws)
    toolset.call("write_file", {"path": "new/mod.py", "content": "y = 2\n"})
    toolset.call("apply_edit", {"path": "calc.py", "search": "x = 1", "replace": "x = 3"})
    result = run_python(
        "import os\nopen('scratch.txt', 'w').write('x')\nos.makedirs('d')\nprint(os.getcwd())",
        workspace=ws,
    )
    assert result.ok
    assert "passed" in toolset.call("run_tests", {"path": "tests"})
    assert _tree(ws.parent, skip=ws) == outside_before
    assert not Path(result.stdout.strip()).exists()  # the scratch directory is gone
    files = [p for p in ws.rglob("*") if p.is_file() and not p.is_symlink()]
    assert sorted(p.relative_to(ws).as_posix() for p in files) == [
        "calc.py",
        "new/mod.py",
        "tests/test_w.py",
    ]


def test_infinite_loop_is_killed_at_the_wall_timeout() -> None:
    result = run_python(
        "while True:\n    pass", limits=SandboxLimits(wall_timeout_s=1, cpu_seconds=60)
    )
    assert result.timed_out
    assert result.killed_by is KillReason.WALL_TIMEOUT
    assert 1 <= result.duration_s < 5


def test_sleeping_program_is_killed_at_the_wall_timeout() -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"
    result = run_python(code, limits=SandboxLimits(wall_timeout_s=1))
    assert result.timed_out and result.duration_s < 5


def test_cpu_limit_stops_a_busy_loop() -> None:
    result = run_python(
        "while True:\n    pass", limits=SandboxLimits(cpu_seconds=1, wall_timeout_s=20)
    )
    assert not result.timed_out
    assert result.killed_by is KillReason.CPU_LIMIT


@pytest.mark.parametrize(
    "bomb",
    [
        "x = bytearray(8 * 1024 ** 3)",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10 * 1024 ** 2))",
    ],
)
def test_memory_bomb_is_stopped_by_the_limit(bomb: str) -> None:
    result = run_python(bomb, limits=SandboxLimits(memory_mb=256, wall_timeout_s=10))
    assert result.killed_by is KillReason.MEMORY_LIMIT, result
    assert "MemoryError" in result.stderr


def test_limits_cannot_be_raised_from_inside() -> None:
    code = (
        "import resource\n"
        "try:\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)\n"
        "    print('raised')\n"
        "except (ValueError, OSError):\n"
        "    print('refused')\n"
        "print(open('/proc/self/status').read())"
    )
    result = run_python(code)
    assert result.stdout.startswith("refused")
    status = dict(line.split(":\t", 1) for line in result.stdout.splitlines()[1:] if ":\t" in line)
    assert status["CapEff"].strip() == "0000000000000000"
    assert status["NoNewPrivs"].strip() == "1"


def _alive_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


PROBE = """
import os, sys
read_end, write_end = os.pipe()
started = refused = 0
for _ in range(12):
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        continue
    if pid == 0:
        os.close(write_end)
        os.read(read_end, 1)  # park until the parent closes the pipe
        os._exit(0)
    started += 1
os.close(write_end)
print(started, refused)
"""

FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def test_fork_bomb_is_contained() -> None:
    mode = process_limit_mode()
    if mode is ProcessLimit.NONE:
        pytest.skip("no enforceable process limit here (root without a writable pids cgroup)")
    marker = f"bomb-{secrets.token_hex(6)}"
    probe = run_python(
        PROBE, args=[marker], limits=SandboxLimits(max_processes=4, wall_timeout_s=10)
    )
    started, refused = map(int, probe.stdout.split())
    assert refused > 0 and started <= 3, "the process limit is not enforced; bomb not run"
    limits = SandboxLimits(max_processes=8, wall_timeout_s=1.5, cpu_seconds=5)
    result = run_python(FORK_BOMB, args=[marker], limits=limits)
    assert result.timed_out or result.killed_by is not None
    assert result.process_limit is mode
    if result.peak_processes is not None:
        assert result.peak_processes <= 8
    assert _alive_with(marker) == []


def test_background_processes_die_with_the_program() -> None:
    marker = f"orphan-{secrets.token_hex(6)}"
    code = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'],"
        " start_new_session=True)\n"
        "print('left a child behind')"
    )
    result = run_python(code)
    assert result.ok and "left a child behind" in result.stdout
    if result.process_limit is ProcessLimit.CGROUP:  # setsid escapes the group, not the cgroup
        assert _alive_with(marker) == []


def test_secrets_in_the_parent_environment_are_not_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    planted = {
        "OPENAI_API_KEY": "sk-planted",
        "HF_TOKEN": "hf-planted",
        "DB_PASSWORD": "pw-planted",
        "AWS_SECRET_ACCESS_KEY": "aws-planted",
        "GITHUB_TOKEN": "gh-planted",
        "BICAMERAL_API_BASE": "http://planted",
        "BICAMERAL_LOCAL_MODEL": "/planted.gguf",
        "HARMLESS_LOOKING": "planted-too",
    }
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    result = run_python("import json, os\nprint(json.dumps(dict(os.environ)))")
    child_env = json.loads(result.stdout)
    assert not set(planted) & set(child_env)
    assert "planted" not in result.stdout
    assert set(child_env) <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "TMPDIR"}
    assert child_env["HOME"] == child_env["TMPDIR"] != os.environ.get("HOME")


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_flood_is_truncated(stream: str) -> None:
    code = (
        f"import sys\nfor _ in range(2000):\n    sys.{stream}.write('x' * 10_000 + '\\n')\n"
        "print('END')"
    )
    result = run_python(code, limits=SandboxLimits(max_output_chars=1000))
    text = getattr(result, stream)
    assert result.truncated
    assert "output truncated" in text
    assert len(text) < 1200
    assert result.ok


def test_binary_garbage_output_is_decoded_safely() -> None:
    result = run_python("import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)")
    assert result.ok and "\ufffd" in result.stdout


def test_interpreter_is_isolated_from_python_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/planted")
    monkeypatch.setenv("PYTHONSTARTUP", "/planted.py")
    result = run_python("import sys\nprint('/planted' in sys.path, sys.flags.isolated)")
    assert result.stdout.split() == ["False", "1"]
    assert sys.executable  # the sandbox uses the running interpreter
