"""Bad ``--checkpoint`` values end in one line and exit code 2, never a traceback or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security._bounded import ROOT

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

_CLI = (sys.executable, "-m", "orchestrator.cli")
PIPELINE = "models: {planner: {base_url: 'http://127.0.0.1:9/v1', model: m, max_retries: 0}}\n"


def _run(tmp_path: Path, checkpoint: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    try:
        return subprocess.run(
            [*_CLI, "run", "p.yaml", "-t", "hi", "-q", "--checkpoint", checkpoint],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"--checkpoint {checkpoint} hung")


def _assert_one_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: checkpoint"), lines
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("target", ["/dev/null", "/dev/zero"])
def test_a_device(tmp_path: Path, target: str) -> None:
    _assert_one_line(_run(tmp_path, f"sqlite:///{target}"), "not a regular file")


def test_a_directory(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    _assert_one_line(_run(tmp_path, "sqlite:///adir"), "not a regular file")


def test_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    _assert_one_line(_run(tmp_path, "sqlite:///fifo"), "not a regular file")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"\x00garbage" * 1000)
    _assert_one_line(_run(tmp_path, "sqlite:///junk.db"), "cannot be opened")


def test_a_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    _assert_one_line(_run(tmp_path, "sqlite:///file/sub/c.db"))


def test_an_unreachable_postgres_hides_the_password(tmp_path: Path) -> None:
    pytest.importorskip("langgraph.checkpoint.postgres")
    done = _run(tmp_path, "postgresql://user:hunter2secret@127.0.0.1:8719/db")
    _assert_one_line(done, "cannot be opened")
    assert "hunter2secret" not in done.stderr
