"""A planner turn is bounded: calls per turn, argument depth and size, and the wall-time
budget stops a model or tool call in flight."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import tool

from orchestrator.limits import Limits
from orchestrator.models.testing import FakeChatModel, FunctionChatModel
from orchestrator.pipeline import Pipeline
from orchestrator.types import RunStatus

pytestmark = pytest.mark.timeout(60)  # an attack that regresses fails, never hangs

CALLS: list[int] = []


@tool
def count(n: int) -> str:
    """Count one call.

    Args:
        n: any number.
    """
    CALLS.append(n)
    return "ok"


def _calls(n: int, args: Any = None) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"name": "count", "args": {"n": i} if args is None else args, "id": f"c{i}"}
            for i in range(n)
        ],
    )


def test_five_thousand_calls_in_one_turn_run_at_most_the_cap() -> None:
    CALLS.clear()
    planner = FakeChatModel([_calls(5000), AIMessage(content="done")])
    limits = Limits(max_tool_calls_per_turn=8)
    result = Pipeline(planner=planner, tools=[count], limits=limits).run("go")
    assert result.status is RunStatus.COMPLETED
    assert len(CALLS) == 8
    assert len(result.tool_results) == 8


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_deeply_nested_arguments_are_an_invalid_turn_not_a_silent_answer() -> None:
    CALLS.clear()
    deep = _calls(1, {"n": _nested(900)})
    planner = FakeChatModel([deep, deep, deep, deep])
    result = Pipeline(planner=planner, tools=[count]).run("go")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "invalid tool calls" in result.error.message
    assert CALLS == []


def test_deep_arguments_checkpoint_to_sqlite(tmp_path: Path) -> None:
    deep = _calls(1, {"n": _nested(900)})
    planner = FakeChatModel([deep, AIMessage(content="fine")])
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    result = Pipeline(planner=planner, tools=[count], checkpointer=url).run("go")
    assert result.status is RunStatus.COMPLETED and result.answer == "fine"


def test_huge_arguments_are_not_echoed_into_results() -> None:
    big = _calls(1, {"n": "x" * 5_000_000})
    planner = FakeChatModel([big, AIMessage(content="fine")])
    result = Pipeline(planner=planner, tools=[count]).run("go")
    assert result.status is RunStatus.COMPLETED
    assert len(result.to_json()) < 100_000


def test_wall_time_interrupts_a_model_call_in_flight() -> None:
    async def hang(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        await asyncio.Event().wait()  # a server that never answers
        return "never"

    limits = Limits(max_wall_time_s=0.5)
    started = time.perf_counter()
    pipeline = Pipeline(planner=FunctionChatModel(hang), limits=limits)
    result = asyncio.run(asyncio.wait_for(pipeline.arun("go"), 30))
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert result.error is not None and "max_wall_time_s" in result.error.message
    assert time.perf_counter() - started < 30  # bounded, not "forever"


def test_wall_time_interrupts_a_tool_in_flight() -> None:
    @tool
    async def stall(n: int) -> str:
        """Never finish.

        Args:
            n: anything.
        """
        await asyncio.Event().wait()
        return "never"

    planner = FakeChatModel(
        [AIMessage(content="", tool_calls=[{"name": "stall", "args": {"n": 1}, "id": "s"}])]
    )
    limits = Limits(max_wall_time_s=0.5)
    pipeline = Pipeline(planner=planner, tools=[stall], limits=limits)
    result = asyncio.run(asyncio.wait_for(pipeline.arun("go"), 30))
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert json.loads(result.to_json())["status"] == "budget_exhausted"


def test_arguments_200000_deep_from_a_server_fail_the_run_loudly() -> None:
    from orchestrator.models.openai_compat import OpenAICompatChatModel
    from tests.security._hostile_server import HostileServer

    with HostileServer("deep_arguments") as server:
        planner = OpenAICompatChatModel(base_urls=[server.base_url], model="m", max_retries=0)
        result = Pipeline(planner=planner, tools=[count]).run("go")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "invalid tool calls" in result.error.message
    assert result.answer in (None, "")
    assert len(result.to_json()) < 100_000
