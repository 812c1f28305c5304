"""Issue 13 items 2 and 5 through the whole graph, over HTTP: calls that are cut off or
unreadable never run and reach the planner as invalid calls; valid siblings run; an answer cut
off by the token limit ends the run ``truncated``, never plain ``completed``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.tools import tool

from orchestrator import OpenAICompatChatModel, Pipeline, RunStatus
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec, load_fixture

FAILURES = Path(__file__).parent.parent / "fixtures" / "vllm" / "failures"

written: list[dict[str, str]] = []


@tool
def write_note(path: str, content: str) -> str:
    """Write a note to a file."""
    written.append({"path": path, "content": content})
    return f"wrote {path}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def planner_server() -> Iterator[FakeOpenAIServer]:
    written.clear()
    with FakeOpenAIServer() as server:
        yield server


def pipeline(server: FakeOpenAIServer) -> Pipeline:
    model = OpenAICompatChatModel(base_urls=[server.base_url], model="smol", max_retries=0)
    return Pipeline(planner=model, tools=[write_note, add])


@pytest.mark.parametrize("name", ["length_tool_call_20", "length_tool_call_40"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_recorded_cut_off_calls_are_never_executed(
    planner_server: FakeOpenAIServer, name: str, streamed: bool
) -> None:
    """Truncated tool calls executed: 0. The planner is told, then answers."""
    fixture = FAILURES / f"{name}{'_stream' if streamed else ''}.json"
    planner_server.enqueue(load_fixture(fixture), ChatReply("I will keep the note shorter."))
    run = pipeline(planner_server)
    if streamed:
        result = None
        async for event in run.astream("Write a note to notes/today.md"):
            result = getattr(event, "result", result)
    else:
        result = await run.arun("Write a note to notes/today.md")
    assert result is not None
    assert written == []
    assert result.status is RunStatus.COMPLETED
    [record] = result.tool_results
    assert record["tool"] == "write_note" and record["ok"] is False
    assert "cut off by the token limit" in record["result"]
    second = planner_server.chat_requests[1]["messages"]
    tool_turn = [m for m in second if m["role"] == "tool"]
    assert len(tool_turn) == 1 and "finish_reason: length" in tool_turn[0]["content"]


async def test_valid_siblings_run_and_the_broken_call_is_reported(
    planner_server: FakeOpenAIServer,
) -> None:
    """A pythonic list with a ``b'...'`` literal used to vanish whole."""
    planner_server.enqueue(
        ChatReply("[add(a=2, b=3), write_note(path='n.md', content=b'raw')]"),
        ChatReply("2 + 3 = 5"),
    )
    result = await pipeline(planner_server).arun("Add 2 and 3, and save a note")
    assert result.status is RunStatus.COMPLETED and result.answer == "2 + 3 = 5"
    assert written == []
    assert [(r["tool"], r["ok"]) for r in result.tool_results] == [
        ("add", True),
        ("write_note", False),
    ]
    assert "argument 'content' is not a JSON value" in result.tool_results[1]["result"]


async def test_a_hermes_call_with_bare_string_arguments_reaches_the_planner(
    planner_server: FakeOpenAIServer,
) -> None:
    """It used to become "no call": the run ended with the raw markup as its answer."""
    planner_server.enqueue(
        ChatReply('<tool_call>{"name": "write_note", "arguments": "hello"}</tool_call>'),
        ChatReply("Done."),
    )
    result = await pipeline(planner_server).arun("Save hello")
    assert result.answer == "Done."
    assert written == []
    assert "arguments are not a JSON object" in result.tool_results[0]["result"]


async def test_native_invalid_arguments_reach_the_planner(
    planner_server: FakeOpenAIServer,
) -> None:
    planner_server.enqueue(
        ChatReply(
            "",
            tool_calls=[
                ToolCallSpec("add", {"a": 1, "b": 2}),
                ToolCallSpec("write_note", '"hello"'),
            ],
        ),
        ChatReply("3"),
    )
    result = await pipeline(planner_server).arun("Add 1 and 2")
    assert [(r["tool"], r["ok"]) for r in result.tool_results] == [
        ("add", True),
        ("write_note", False),
    ]
    messages = planner_server.chat_requests[1]["messages"]
    assert [m["content"][:6] for m in messages if m["role"] == "tool"] == ["3", "error:"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_answer_cut_off_is_truncated_not_completed(
    planner_server: FakeOpenAIServer, streamed: bool
) -> None:
    planner_server.enqueue(ChatReply("The answer is forty", finish_reason="length"))
    run = pipeline(planner_server)
    if streamed:
        result = None
        async for event in run.astream("What is 6 * 7?"):
            result = getattr(event, "result", result)
    else:
        result = await run.arun("What is 6 * 7?")
    assert result is not None
    assert result.status is RunStatus.TRUNCATED
    assert result.finish_reason == "length"
    assert result.answer == "The answer is forty"
    assert not result.ok
