"""The run log beside the checkpoint: every event stored by thread id, secrets removed, read
back by `bicameral runs`; logs from older versions still shown."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from typer.testing import CliRunner

from orchestrator import FakeChatModel, ModelConnectionError, Pipeline, RunStatus
from orchestrator.cli.app import app
from orchestrator.runlog.redact import REDACTED, Redactor
from orchestrator.runlog.store import RunLogStore

runner = CliRunner()


@tool
def lookup(query: str, api_key: str = "") -> str:
    """Look something up."""
    return f"found {query}"


def _run(tmp_path: Path, task: str = "find x", thread: str = "t-1") -> str:
    url = f"sqlite:///{tmp_path / 'cp.sqlite'}"
    planner = FakeChatModel(
        [
            AIMessage(
                content="",
                tool_calls=[{"name": "lookup", "args": {"query": "x", "api_key": "k"}, "id": "c"}],
            ),
            "x is 1",
        ]
    )
    result = Pipeline(planner=planner, tools=[lookup], checkpointer=url, name="finder").run(
        task, thread_id=thread
    )
    assert result.status is RunStatus.COMPLETED
    return url


def test_every_event_is_stored_in_order_beside_the_checkpoint(tmp_path: Path) -> None:
    url = _run(tmp_path)
    with RunLogStore.open(url, create=False) as store:
        [run] = store.list_runs()
        events = store.events("t-1")
    assert (run.thread_id, run.status, run.pipeline, run.task) == (
        "t-1",
        "completed",
        "finder",
        "find x",
    )
    assert run.answer == "x is 1" and run.duration_s is not None and run.duration_s > 0
    kinds = [e.kind for e in events]
    assert kinds[0] == "node_start" and kinds[-1] == "final"
    assert kinds.count("model_call") == 2 and kinds.count("tool_call") == 1
    assert [e.seq for e in events] == list(range(len(events)))
    tool_event = next(e for e in events if e.kind == "tool_call")
    assert tool_event.data["arguments"]["query"] == "x"
    assert tool_event.data["arguments"]["api_key"] == REDACTED
    # the checkpoint tables live in the same file
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "cp.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {"checkpoints", "bicameral_runs", "bicameral_run_events"} <= tables


def test_secret_values_from_the_environment_never_reach_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANNER_API_KEY", "sk-very-secret-123")
    url = _run(tmp_path, task="use sk-very-secret-123 with Authorization: Bearer abcdefghijkl")
    with RunLogStore.open(url, create=False) as store:
        [run] = store.list_runs()
        dump = json.dumps([e.to_dict() for e in store.events("t-1")])
    assert "sk-very-secret-123" not in run.task and "abcdefghijkl" not in run.task
    assert "sk-very-secret-123" not in dump
    assert "abcdefghijkl" not in dump


def test_redactor_keeps_token_counts() -> None:
    data = {"prompt_tokens": 3, "Authorization": "Bearer x", "nested": [{"token": "t"}]}
    assert Redactor(env={}).data(data) == {
        "prompt_tokens": 3,
        "Authorization": REDACTED,
        "nested": [{"token": REDACTED}],
    }


def test_runs_cli_lists_and_shows(tmp_path: Path) -> None:
    url = _run(tmp_path)
    listed = runner.invoke(app, ["runs", "--checkpoint", url, "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["thread_id"] == "t-1" and row["status"] == "completed"
    assert row["tokens"].keys() == {"planner"}
    text = runner.invoke(app, ["runs", "--checkpoint", url])
    assert text.exit_code == 0 and "t-1" in text.stdout and "finder" in text.stdout
    shown = runner.invoke(app, ["runs", "show", "t-1", "--checkpoint", url, "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.stdout)
    assert payload["events"][-1]["kind"] == "final"
    timeline = runner.invoke(app, ["runs", "show", "t-1", "--checkpoint", url])
    assert "tool lookup" in timeline.stdout and "finished: completed" in timeline.stdout
    missing = runner.invoke(app, ["runs", "show", "nope", "--checkpoint", url])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1


def test_a_failed_model_call_is_in_the_timeline_with_its_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cp.sqlite'}"
    planner = FakeChatModel([ModelConnectionError("cannot reach http://127.0.0.1:9/v1")])
    result = Pipeline(planner=planner, checkpointer=url).run("x", thread_id="t-down")
    assert result.status is RunStatus.FAILED
    timeline = runner.invoke(app, ["runs", "show", "t-down", "--checkpoint", url])
    assert timeline.exit_code == 0, timeline.output
    assert "planner model call failed after" in timeline.stdout
    assert "ModelConnectionError: cannot reach" in timeline.stdout


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no checkpoint store"),
        (lambda p: p.write_text("not a database at all, just text" * 20), "not a Bicameral"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)").connection.commit(),
            "not a Bicameral",
        ),
    ],
    ids=["missing", "garbage", "foreign-sqlite"],
)
def test_bad_store_is_one_line_and_exit_2(tmp_path: Path, setup: Any, message: str) -> None:
    path = tmp_path / "store.sqlite"
    setup(path)
    result = runner.invoke(app, ["runs", "--checkpoint", f"sqlite:///{path}"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.output


def test_log_from_an_older_version_is_shown(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE checkpoints (thread_id TEXT)")
    db.execute("CREATE TABLE bicameral_runs (thread_id TEXT PRIMARY KEY, status TEXT, task TEXT)")
    db.execute(
        "CREATE TABLE bicameral_run_events (thread_id TEXT, seq INTEGER, ts REAL, "
        "kind TEXT, data TEXT, PRIMARY KEY (thread_id, seq))"
    )
    db.execute("INSERT INTO bicameral_runs VALUES ('old-1', 'completed', 'legacy task')")
    db.execute("INSERT INTO bicameral_run_events VALUES ('old-1', 0, 1.0, 'mystery', '{\"a\": 1}')")
    db.execute("INSERT INTO bicameral_run_events VALUES ('old-1', 1, 2.0, 'node_end', 'garbled')")
    db.commit()
    db.close()
    url = f"sqlite:///{path}"
    listed = runner.invoke(app, ["runs", "--checkpoint", url])
    assert listed.exit_code == 0 and "old-1" in listed.stdout and "legacy task" in listed.stdout
    shown = runner.invoke(app, ["runs", "show", "old-1", "--checkpoint", url])
    assert shown.exit_code == 0, shown.output
    assert "mystery" in shown.stdout


async def test_a_run_log_that_cannot_be_written_never_fails_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from orchestrator.events import NodeEnd, NodeStart
    from orchestrator.runlog.recorder import RunRecorder

    store = RunLogStore.open(f"sqlite:///{tmp_path / 'ck.sqlite'}")
    recorder = RunRecorder(store, "t1", pipeline="p", task="x")
    store._conn.close()  # every later write raises sqlite3.ProgrammingError
    with caplog.at_level("WARNING", logger="orchestrator.runlog"):
        await recorder.arecord(NodeStart(node="plan", step=0))
        await recorder.arecord(NodeEnd(node="plan", duration_s=0.1))
        await recorder.arecord(NodeEnd(node="act", duration_s=0.1))
        await recorder.aclose()
    warnings = [r for r in caplog.records if "run log: could not write" in r.getMessage()]
    assert len(warnings) == 1
