"""A Bicameral pipeline served by a real ``langgraph dev`` (the LangGraph HTTP API), driven
by ``langgraph_sdk``: thread, streamed run, approval interrupt, resume, final state."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.exceptions import ConfigError
from orchestrator.integrations.langgraph_app import PIPELINE_ENV, graph_for, make_graph
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

pytest.importorskip("langgraph_api")
from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[2]
API_PORT = 8876
MODEL_PORT = 8875
LANGGRAPH = Path(sys.executable).with_name("langgraph")


def _pipeline(tmp: Path) -> Path:
    path = tmp / "served.yaml"
    path.write_text(
        "name: served\n"
        "models:\n"
        f"  planner: {{base_url: 'http://127.0.0.1:{MODEL_PORT}/v1', model: fake}}\n"
        "tools: {builtin: [evaluate], require_approval: [evaluate]}\n"
    )
    return path


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        PIPELINE_ENV: str(_pipeline(tmp_path)),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
    }
    log = (tmp_path / "langgraph.log").open("w")
    proc = subprocess.Popen(
        [
            *(str(LANGGRAPH), "dev", "--no-browser", "--no-reload"),
            *("--port", str(API_PORT), "--config", str(ROOT / "langgraph.json")),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "langgraph.log").read_text()[-2000:]
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", API_PORT)) == 0:
                    break
            assert time.monotonic() < deadline, "langgraph dev never listened"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{API_PORT}"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def _drive(url: str) -> dict[str, Any]:
    client = get_client(url=url)
    thread = await client.threads.create()
    seen: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "bicameral",
        input={"task": "What is 2 + 3?"},
        stream_mode=["custom", "updates"],
        stream_subgraphs=True,
    ):
        seen.append(part.event)
    state = await client.threads.get_state(thread["thread_id"])
    [task] = [t for t in state["tasks"] if t["interrupts"]]
    pending = task["interrupts"][0]["value"]
    async for part in client.runs.stream(
        thread["thread_id"],
        "bicameral",
        command={"resume": {"approve": True}},
        stream_mode=["updates"],
        stream_subgraphs=True,
    ):
        seen.append(part.event)
    final = await client.threads.get_state(thread["thread_id"])
    return {"seen": seen, "pending": pending, "values": final["values"]}


def test_langgraph_dev_serves_a_pipeline_with_approval(api: str) -> None:
    with FakeOpenAIServer(port=MODEL_PORT) as model:
        model.enqueue(
            ChatReply(tool_calls=[ToolCallSpec("evaluate", {"expression": "2 + 3"}, id="c1")]),
            ChatReply("5"),
        )
        out = asyncio.run(_drive(api))
    assert out["pending"]["tool"] == "evaluate"
    assert any(e.startswith("custom") for e in out["seen"]), out["seen"]  # node events
    assert out["values"]["status"] == "completed" and out["values"]["answer"] == "5"
    tool_messages = [m for m in model.chat_requests[1]["messages"] if m["role"] == "tool"]
    assert tool_messages[0]["content"] == "5"


def test_the_factory_says_which_pipeline_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PIPELINE_ENV, raising=False)
    with pytest.raises(ConfigError, match=r"configurable\.pipeline"):
        asyncio.run(make_graph({"configurable": {}}))
    with pytest.raises(ConfigError, match="not found"):
        graph_for({"configurable": {"pipeline": str(tmp_path / "nope.yaml")}})
    graph = graph_for({"configurable": {"pipeline": str(_pipeline(tmp_path))}})
    schema = graph.get_input_jsonschema()
    assert schema["required"] == ["task"] and list(schema["properties"]) == ["task"]
