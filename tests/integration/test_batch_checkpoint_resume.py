"""A rerun with a persistent checkpointer shared by workers resumes each run from its checkpoint.

SQLite stands in for the shared PostgreSQL here: two executors (as two worker processes
would) share one checkpoint file, and the second continues the first's thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from orchestrator.batch.executor import BatchConfig, TaskExecutor
from tests.fake_openai_server import ChatReply, ErrorReply, FakeOpenAIServer, ToolCallSpec
from tests.integration.batch_support import pipeline_file


def test_rerun_resumes_from_checkpoint_not_from_start(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        config = BatchConfig(
            pipeline=str(pipeline_file(tmp_path, server.base_url)),
            checkpoint=f"sqlite:///{tmp_path / 'shared.db'}",
        )
        row = {"id": "t1", "task": "What is 2 + 3?"}
        server.enqueue(
            ChatReply(content=None, tool_calls=[ToolCallSpec("add", {"a": 2, "b": 3})]),
            ErrorReply(400, "the server fell over"),
        )
        first = asyncio.run(TaskExecutor(config).run(row))
        assert first["status"] == "failed"
        server.enqueue(ChatReply("5"))
        second = asyncio.run(TaskExecutor(config).run(row))  # a fresh worker, same thread
        requests = server.chat_requests
    assert second["status"] == "completed" and second["answer"] == "5"
    assert second["thread_id"] == first["thread_id"]
    assert len(requests) == 3  # the tool call was not asked for again
    assert any(m.get("role") == "tool" for m in requests[-1]["messages"])
