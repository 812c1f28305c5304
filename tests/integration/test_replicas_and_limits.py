"""Replicas spread load (least in flight, a failing one skipped); max_in_flight holds.

Measured at the stand-in servers: their request counts and the most requests each saw at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from benchmarks._common import ToolThenAnswer
from orchestrator import RunStatus, load_pipeline
from orchestrator.pipeline import Pipeline
from orchestrator.result import RunResult
from tests.fake_openai_server import ErrorReply, FakeOpenAIServer


def _pipeline(tmp_path: Path, urls: Sequence[str], extra: str) -> Pipeline:
    path = tmp_path / "p.yaml"
    listed = ", ".join(f"'{u}'" for u in urls)
    path.write_text(
        "models:\n"
        f"  planner: {{base_url: [{listed}], model: m{extra}}}\n"
        "agents:\n  planner: {tools: ['benchmarks._common:add']}\n"
        "tools: {modules: [benchmarks._common]}\n"
    )
    return load_pipeline(path, checkpoint="memory", notice=None)


def _run_many(pipeline: Pipeline, count: int) -> list[RunResult]:
    async def main() -> list[RunResult]:
        return await asyncio.gather(*(pipeline.arun(f"2 + 3 ({i})") for i in range(count)))

    return asyncio.run(main())


def _chat_count(server: FakeOpenAIServer) -> int:
    return len(server.chat_requests)


def test_three_replicas_one_failing_spread_by_least_in_flight(tmp_path: Path) -> None:
    with (
        FakeOpenAIServer(latency_ms=20, default_reply=ToolThenAnswer()) as a,
        FakeOpenAIServer(latency_ms=20, default_reply=ToolThenAnswer()) as b,
        FakeOpenAIServer(default_reply=ErrorReply(503, "overloaded")) as bad,
    ):
        pipeline = _pipeline(
            tmp_path,
            [a.base_url, bad.base_url, b.base_url],
            ", max_retries: 2, replica_cooldown_s: 60",
        )
        results = _run_many(pipeline, 100)
        # 100 runs start at once: a third of the first calls go to `bad` before any of its
        # 503s is back. From then on it sits out its cool-down.
        burst = _chat_count(bad)
        results += _run_many(pipeline, 100)
        counts = {"a": _chat_count(a), "b": _chat_count(b), "bad": _chat_count(bad)}
    assert all(r.status is RunStatus.COMPLETED for r in results)
    assert counts["a"] + counts["b"] == 400  # two model calls per run, all answered
    assert min(counts["a"], counts["b"]) >= 150, counts  # spread, not failover-first
    assert counts["bad"] == burst, counts


def test_max_in_flight_holds_under_100_concurrent_runs(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency_ms=20, default_reply=ToolThenAnswer()) as server:
        pipeline = _pipeline(tmp_path, [server.base_url], ", max_in_flight: 8")
        results = _run_many(pipeline, 100)
        seen = server.max_in_flight
        total = _chat_count(server)
    assert all(r.status is RunStatus.COMPLETED for r in results)
    assert total == 200
    assert seen == 8  # never more, and the bound is what limits them


def test_without_max_in_flight_the_server_sees_more(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency_ms=20, default_reply=ToolThenAnswer()) as server:
        pipeline = _pipeline(tmp_path, [server.base_url], "")
        _run_many(pipeline, 100)
        assert server.max_in_flight > 8
