"""Attacks on the file tools from issue 20, items 2 and 9: each must be refused or bounded.

Memory-bounded cases run in a child interpreter under ``RLIMIT_AS`` (what it already uses
plus a margin far below the file's size), so a regression fails with ``MemoryError`` instead
of swapping the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tools.files
from orchestrator.exceptions import ToolError, WorkspaceEscapeError
from tools._workspace import open_beneath, resolve
from tools.files import apply_edit, apply_edits, read_file, write_file

ROOT = Path(__file__).resolve().parents[2]
MARGIN_MB = 96
SECRET = "TOP-SECRET\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "ws").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET)
    return tmp_path / "ws"


def _bounded(call: str, ws: Path) -> str:
    """Run ``call`` (an expression over ``tools.files`` and ``ws``) under RLIMIT_AS."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        import tools.files as files
        from orchestrator.exceptions import ToolError
        vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1])
        limit = vm * 1024 + {MARGIN_MB} * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        ws = Path({str(ws)!r})
        try:
            out = {call}
        except ToolError as err:
            out = "ToolError: " + str(err)
        sys.stdout.write(out)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_200_mb_line_is_cut_not_returned(ws: Path) -> None:
    with (ws / "huge.py").open("wb") as fh:
        fh.write(b"x = 1\n")
        chunk = b"y" * (1 << 20)
        for _ in range(200):
            fh.write(chunk)
        fh.write(b"\nz = 2\n")
    out = _bounded('files.read_file(ws, "huge.py")', ws)
    assert len(out) < 13_000
    assert "2\tyyyy" in out and "line cut: at least" in out
    assert "(lines 1-2 of at least 2)" in out and "counted in the first 64 MiB" in out


def test_a_long_line_is_measured_when_the_file_is_scanned_whole(ws: Path) -> None:
    (ws / "wide.py").write_text("x = 1\n" + "y" * 3_000_000 + "\nz = 2\n")
    out = _bounded('files.read_file(ws, "wide.py")', ws)
    assert "line cut: 3000000 bytes long" in out
    assert "(lines 1-3 of 3)" in out and "3\tz = 2" in out


def test_a_2_gb_sparse_file_costs_nothing(ws: Path) -> None:
    with (ws / "sparse.txt").open("wb") as fh:
        fh.write(b"readable text\n" * 1000)  # past the first 8 KB
        fh.truncate(2 * 1024**3)
    out = _bounded('files.read_file(ws, "sparse.txt")', ws)
    assert out.startswith("ToolError:") and "binary" in out


def test_a_20_mb_line_yields_a_small_result(ws: Path) -> None:
    (ws / "wide.txt").write_text("a" * 20_000_000 + "\n")
    out = read_file(ws, "wide.txt")
    assert len(out) < 3_000 and "line cut" in out


def test_nul_bytes_after_the_first_8_kb_mean_binary(ws: Path) -> None:
    (ws / "late.bin").write_bytes(b"text line\n" * 2000 + b"\x00\x01\x02")
    with pytest.raises(ToolError, match="binary"):
        read_file(ws, "late.bin")


def test_line_ranges_and_long_lines(ws: Path) -> None:
    (ws / "f.txt").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    out = read_file(ws, "f.txt", start_line=10, end_line=12)
    assert out.splitlines() == ["f.txt (lines 10-12 of 100)", "10\tline 10", "11\tline 11",
                                "12\tline 12"]  # fmt: skip
    (ws / "g.txt").write_text("short\n" + "b" * 5000 + "\n")
    out = read_file(ws, "g.txt", max_line_chars=100)
    assert "2\t" + "b" * 100 + " [... line cut: 5000 bytes long" in out


def _swap_after_resolve(monkeypatch: pytest.MonkeyPatch, directory: Path, target: Path) -> None:
    """Make the race deterministic: the directory becomes a link right after the check."""
    real_resolve = tools.files.resolve

    def racing(workspace: Path, path: str, **kwargs: object) -> Path:
        found = real_resolve(workspace, path, **kwargs)  # type: ignore[arg-type]
        if directory.is_dir() and not directory.is_symlink():
            shutil.rmtree(directory)
            directory.symlink_to(target)
        return found

    monkeypatch.setattr(tools.files, "resolve", racing)


def test_directory_swapped_for_a_link_during_a_read(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws / "sub").mkdir()
    (ws / "sub" / "secret.txt").write_text("decoy\n")
    _swap_after_resolve(monkeypatch, ws / "sub", ws.parent / "outside")
    with pytest.raises(WorkspaceEscapeError):
        read_file(ws, "sub/secret.txt")


def test_directory_swapped_for_a_link_during_a_write(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ws / "sub").mkdir()
    _swap_after_resolve(monkeypatch, ws / "sub", ws.parent / "outside")
    with pytest.raises(WorkspaceEscapeError):
        write_file(ws, "sub/secret.txt", "overwritten\n")
    assert (ws.parent / "outside" / "secret.txt").read_text() == SECRET


@pytest.mark.parametrize("flags", [os.O_RDONLY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC])
def test_open_beneath_refuses_a_link_swapped_in_after_the_check(ws: Path, flags: int) -> None:
    (ws / "a" / "b").mkdir(parents=True)
    (ws / "a" / "b" / "secret.txt").write_text("decoy\n")
    real = resolve(ws, "a/b/secret.txt")
    shutil.rmtree(ws / "a" / "b")
    (ws / "a" / "b").symlink_to(ws.parent / "outside")
    with pytest.raises(WorkspaceEscapeError):
        open_beneath(ws, real, flags, display="a/b/secret.txt")
    assert (ws.parent / "outside" / "secret.txt").read_text() == SECRET


def test_hard_links_to_outside_files_are_refused(ws: Path) -> None:
    os.link(ws.parent / "outside" / "secret.txt", ws / "linked.txt")
    with pytest.raises(ToolError, match="hard links"):
        read_file(ws, "linked.txt")
    with pytest.raises(ToolError, match="hard links"):
        write_file(ws, "linked.txt", "overwritten\n")
    with pytest.raises(ToolError, match="hard links"):
        apply_edit(ws, "linked.txt", "TOP", "PWNED")
    assert (ws.parent / "outside" / "secret.txt").read_text() == SECRET


FSMONITOR = "[core]\n\tbare = true\n\tfsmonitor = touch {marker}\n"


@pytest.mark.parametrize("via", ["write_file", "apply_edits"])
def test_embedded_bare_repository_is_refused(ws: Path, via: str) -> None:
    marker = ws.parent / "fsmonitor-ran"
    files = {
        "vendor/lib/config": FSMONITOR.format(marker=marker),
        "vendor/lib/objects/info/alternates": "",
        "vendor/lib/HEAD": "ref: refs/heads/main\n",
        "vendor/lib/refs/heads/main": "",
    }
    refused = []
    for path, content in files.items():
        try:
            if via == "write_file":
                write_file(ws, path, content)
            else:
                apply_edits(ws, [{"path": path, "content": content}])
        except ToolError as err:
            refused.append(str(err))
    assert refused and "git repository" in refused[0]
    if shutil.which("git"):
        subprocess.run(
            ["git", "status"], cwd=ws / "vendor" / "lib", capture_output=True, timeout=30,
            env={**os.environ, "GIT_CEILING_DIRECTORIES": str(ws.parent)},
        )  # fmt: skip
    assert not marker.exists()


def test_apply_edit_honours_the_size_limit(ws: Path) -> None:
    (ws / "big.txt").write_bytes(b"a = 1\n" * (3 * 1024 * 1024))  # 18 MiB
    out = _bounded('files.apply_edit(ws, "big.txt", "a = 1\\nb", "c")', ws)
    assert out.startswith("ToolError:") and "limit" in out
    with pytest.raises(ToolError, match="limit"):
        apply_edit(ws, "big.txt", "a = 1\nb", "c", max_bytes=1024)


def test_closest_passages_hint_on_a_long_file(ws: Path) -> None:
    body = [f"    value_{i} = compute({i}, name='item{i % 13}')" for i in range(2600)]
    (ws / "long.py").write_text("\n".join(body) + "\n")
    wanted = [line + "  # edited" if i % 3 == 0 else line for i, line in enumerate(body[1300:1330])]
    with pytest.raises(ToolError) as err:
        apply_edit(ws, "long.py", "\n".join(wanted), "pass")
    assert "lines 1301-1330" in str(err.value)
