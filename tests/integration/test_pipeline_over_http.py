"""The standard graph with both roles on OpenAI-compatible servers over real sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from orchestrator import OpenAICompatChatModel, Pipeline, RunStatus
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

TASKS = {"d1": "2+2", "d2": "3+3", "d3": "4+4"}
ANSWERS = {"2+2": "4", "3+3": "6", "4+4": "8"}


@dataclass
class Solve(ChatReply):
    """An R1-style reasoner: thinks, then answers the math task its prompt names."""

    def _pick(self, request: dict[str, Any]) -> ChatReply:
        prompt = str(request["messages"][-1]["content"])
        [task] = [t for t in ANSWERS if f"\n{t}\n" in prompt]
        answer = {"answer": ANSWERS[task], "steps": [f"{task} = {ANSWERS[task]}"]}
        return ChatReply(content=json.dumps(answer), reasoning=f"Adding: {task}.")

    def render_json(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._pick(request).render_json(request)

    def render_events(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return self._pick(request).render_events(request)


@pytest.fixture
def servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    with (
        FakeOpenAIServer() as planner,
        FakeOpenAIServer(latency_ms=300, default_reply=Solve()) as reasoner,
    ):
        yield planner, reasoner


def models(
    planner: FakeOpenAIServer, reasoner: FakeOpenAIServer
) -> tuple[OpenAICompatChatModel, OpenAICompatChatModel]:
    return (
        OpenAICompatChatModel(base_urls=[planner.base_url], model="scout", max_retries=0),
        OpenAICompatChatModel(base_urls=[reasoner.base_url], model="r1", max_retries=0),
    )


async def test_parallel_delegates_over_http_come_back_in_call_order(
    servers: tuple[FakeOpenAIServer, FakeOpenAIServer],
) -> None:
    planner_server, reasoner_server = servers
    delegates = [
        ToolCallSpec("delegate", {"kind": "math", "task": task}, id=cid)
        for cid, task in TASKS.items()
    ]
    planner_server.enqueue(ChatReply(content=None, tool_calls=delegates), ChatReply("4, 6, 8"))
    planner, reasoner = models(planner_server, reasoner_server)

    result = await Pipeline(planner=planner, reasoner=reasoner).arun("Add three pairs.")

    assert result.status is RunStatus.COMPLETED, result.error
    assert result.answer == "4, 6, 8"
    # the three reasoner calls were on the wire at the same time
    assert len(reasoner_server.chat_requests) == 3
    assert reasoner_server.max_in_flight == 3
    # ... and their results reached the planner as tool messages in the order of the calls
    second = planner_server.chat_requests[1]["messages"]
    tool_messages = [m for m in second if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == list(TASKS)
    assert [json.loads(m["content"])["answer"] for m in tool_messages] == ["4", "6", "8"]
    assert result.usage["reasoner"].calls == 3
    await planner.aclose()
    await reasoner.aclose()


async def test_reasoner_in_native_tool_mode_gets_tools_and_no_action_prompt() -> None:
    """A reasoner with ``tool_mode: native`` sends ``tools`` and runs the server's parsed
    calls (before: the mode was carried and never read; it got the action-mode prompt)."""
    from agents.agent import make_agent
    from tools.base import tool_from_function

    def square(n: int) -> int:
        """Square a number.

        Args:
            n: the number.
        """
        return n * n

    with FakeOpenAIServer() as planner_server, FakeOpenAIServer() as reasoner_server:
        planner_server.enqueue(
            ChatReply(
                content=None,
                tool_calls=[ToolCallSpec("delegate", {"kind": "math", "task": "7^2"}, id="d1")],
            ),
            ChatReply("49"),
        )
        reasoner_server.enqueue(
            # a quoted integer: the argument policy converts it losslessly
            ChatReply(content=None, tool_calls=[ToolCallSpec("square", {"n": "7"}, id="s1")]),
            ChatReply(content='{"answer": "49", "steps": ["7*7"]}', reasoning="square it"),
        )
        planner, reasoner_model = models(planner_server, reasoner_server)
        reasoner = make_agent(
            "reasoner", reasoner_model, tools=[tool_from_function(square)], tool_mode="native"
        )
        result = await Pipeline(planner=planner, reasoner=reasoner).arun("7 squared?")
        await planner.aclose()
        await reasoner_model.aclose()

    assert result.status is RunStatus.COMPLETED, result.error
    first, second = reasoner_server.chat_requests
    assert [t["function"]["name"] for t in first["tools"]] == ["square"]
    assert '"action"' not in first["messages"][0]["content"]  # no action-mode protocol
    tool_turn = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_turn[0]["content"] == "49" and tool_turn[0]["tool_call_id"] == "s1"
    assert result.outputs[0]["result"] == {"answer": "49", "steps": ["7*7"]}
    assert result.usage["reasoner"].calls == 2
    assert result.enforcement["tools::square"]["coerced"] == 1
