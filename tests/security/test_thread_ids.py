"""Thread ids name files under ``.bicameral/threads``: none may reach outside that folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import threads
from orchestrator.cli.app import app
from orchestrator.cli.threads import ThreadRecord, load_thread, save_thread
from orchestrator.exceptions import ConfigError

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

runner = CliRunner()
HOSTILE = ["../../x", "../x", "/etc/passwd", "a/b", "..", ".hidden", "x\x00y", "a" * 200, ""]


@pytest.mark.parametrize("thread_id", HOSTILE, ids=repr)
def test_hostile_ids_are_refused(thread_id: str) -> None:
    with pytest.raises(ConfigError, match="invalid thread id"):
        threads.check_thread_id(thread_id)


def test_save_cannot_write_outside_the_threads_folder(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    with pytest.raises(ConfigError):
        save_thread(ThreadRecord(thread_id="../../escaped", pipeline="p.yaml"), root)
    assert not (tmp_path / "escaped.json").exists()
    assert not list(tmp_path.rglob("escaped.json"))


def test_resume_cannot_read_any_json_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"thread_id": "x", "pipeline": "/etc/passwd"}))
    with pytest.raises(ConfigError, match="invalid thread id"):
        load_thread("../../secret", tmp_path / "a")


def test_a_record_that_is_not_a_record_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / ".bicameral" / "threads"
    folder.mkdir(parents=True)
    (folder / "t1.json").write_text('{"thread_id": "t1", "evil": 1}')
    (folder / "t2.json").write_text("[1, 2]")
    for name in ("t1", "t2"):
        with pytest.raises(ConfigError, match="corrupt thread record"):
            load_thread(name, tmp_path)


def test_cli_run_and_resume_refuse_traversal(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("models: {planner: {base_url: 'http://127.0.0.1:9/v1', model: m}}\n")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        ran = runner.invoke(app, ["run", str(pipeline), "-t", "x", "--thread", "../../x"])
        resumed = runner.invoke(app, ["resume", "../../x"])
    finally:
        os.chdir(cwd)
    for result in (ran, resumed):
        assert result.exit_code == 2
        assert "invalid thread id" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path.parent / "x.json").exists()
