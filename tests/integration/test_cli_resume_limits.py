"""Issue 13 items 2 and 8 at the CLI: a truncated answer is said so; ``resume`` counts running
time only and takes ``--set`` for limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Pipeline, RunStatus
from orchestrator.graph.resume import ResumeCommand
from orchestrator.models.testing import FakeChatModel
from tests.fake_openai_server import ChatReply, ErrorReply, FakeOpenAIServer
from tests.integration.test_cli import _cli, _pipeline


def test_a_truncated_answer_exits_1_and_says_so(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.enqueue(ChatReply("The answer is forty", finish_reason="length"))
        path = _pipeline(tmp_path, server.base_url)
        proc = _cli("run", str(path), "--task", "6*7?", "--json", cwd=tmp_path)
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert (result["status"], result["finish_reason"]) == ("truncated", "length")
    assert "cut off by the token limit" in proc.stderr and "max_tokens" in proc.stderr


def test_resume_takes_set_for_limits(tmp_path: Path) -> None:
    """A run that failed on the server resumes with new limits (``--set`` used to be refused)."""
    with FakeOpenAIServer() as server:
        server.enqueue(ErrorReply(500))
        path = _pipeline(tmp_path, server.base_url, "limits: {max_wall_time_s: 120}\n")
        first = _cli("run", str(path), "--task", "hi", "--json", "--thread", "t9", cwd=tmp_path)
        assert json.loads(first.stdout)["status"] == "failed"
        server.enqueue(ChatReply("hello"))
        resumed = _cli(
            "resume", "t9", "--json", "--set", "limits.max_wall_time_s=600", cwd=tmp_path
        )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["answer"] == "hello"
    record = json.loads((tmp_path / ".bicameral" / "threads" / "t9.json").read_text())
    assert record["overrides"][-1] == "limits.max_wall_time_s=600"


def test_resume_set_refuses_what_is_not_a_limit(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "http://127.0.0.1:9/v1")
    proc = _cli(
        "resume", "t1", "--pipeline", str(path), "--set", "models.planner.model=x", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: resume --set takes limits only (limits.KEY=VALUE), not 'models.planner.model=x'"
    ]


class _Snapshot:
    def __init__(self, values: dict[str, Any], created_at: str | None) -> None:
        self.values = values
        self.created_at = created_at


class _App:
    def __init__(self, snapshot: _Snapshot) -> None:
        self.snapshot = snapshot

    async def aget_state(self, config: Any) -> _Snapshot:
        return self.snapshot


async def test_resume_moves_the_start_past_the_pause() -> None:
    """Stopped 432.8 s ago after 10 s of running: the wall-time budget sees 10 s, not 442.8."""
    stopped = "2026-01-01T00:00:00+00:00"
    stopped_epoch = 1767225600.0
    app = _App(_Snapshot({"started_at": stopped_epoch - 10.0}, stopped))
    command = await ResumeCommand(None).command(app, {}, stopped_epoch + 432.8)
    assert command.update == {"started_at": pytest.approx(stopped_epoch + 432.8 - 10.0)}
    assert command.resume is None
    approve = await ResumeCommand(True).command(app, {}, stopped_epoch + 1.0)
    assert approve.resume == {"approve": True}


async def test_a_failed_run_resumes_within_its_wall_time_after_a_pause() -> None:
    """End to end with the real graph and checkpoint: the resume input moves started_at."""

    model = FakeChatModel(responses=["done"])
    pipeline = Pipeline(planner=model)
    result = await pipeline.arun("hi", thread_id="w1")
    assert result.status is RunStatus.COMPLETED
    app = pipeline.compile()
    config: Any = {"configurable": {"thread_id": "w1"}}
    state = await app.aget_state(config)
    command = await ResumeCommand(None).command(
        app, config, float(state.values["started_at"]) + 1e6
    )
    assert command.update["started_at"] > state.values["started_at"]


def test_the_summary_says_truncated_and_estimated() -> None:
    from orchestrator.cli.progress import format_result
    from orchestrator.result import RunResult
    from orchestrator.usage import RoleUsage

    result = RunResult(
        status=RunStatus.TRUNCATED,
        answer="The answer is forty",
        finish_reason="length",
        usage={
            "planner": RoleUsage(prompt_tokens=9, completion_tokens=4, calls=2, estimated_calls=1)
        },
    )
    text = format_result(result)
    assert text.splitlines()[0] == (
        "status: truncated (the answer was cut off by the token limit: finish_reason length)"
    )
    assert "planner 9+4 tokens in 2 calls (1 estimated)" in text
