"""The standard graph end to end with scripted models: every route and every limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool

from agents.agent import make_agent
from orchestrator import (
    FakeChatModel,
    FunctionChatModel,
    Limits,
    ModelConnectionError,
    Pipeline,
    Price,
    RunStatus,
    ToolMode,
)
from orchestrator.models.testing import FakeChatModel as Fake


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def call(name: str, args: dict[str, Any], cid: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": cid}


def calls(*items: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=list(items))


def tool_messages(planner: Fake, request: int) -> list[ToolMessage]:
    messages, _ = planner.requests[request]
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_direct_answer_completes() -> None:
    result = Pipeline(planner=FakeChatModel(["Paris"])).run("Capital of France?")
    assert result.status is RunStatus.COMPLETED
    assert result.answer == "Paris"
    assert result.steps == 1
    assert result.usage["planner"].calls == 1


def test_tool_call_then_answer() -> None:
    planner = FakeChatModel([calls(call("add", {"a": 2, "b": 3}, "c1")), "5"])
    result = Pipeline(planner=planner, tools=[add]).run("2+3?")
    assert result.status is RunStatus.COMPLETED and result.answer == "5"
    [tm] = tool_messages(planner, 1)
    assert tm.content == "5" and tm.tool_call_id == "c1" and tm.status == "success"
    assert result.tool_results == [
        {"tool": "add", "arguments": {"a": 2, "b": 3}, "ok": True, "result": "5"}
    ]


def test_invalid_arguments_go_back_to_the_planner_not_the_tool() -> None:
    planner = FakeChatModel([calls(call("add", {"a": "two", "b": 3}, "c1")), "gave up"])
    result = Pipeline(planner=planner, tools=[add]).run("2+3?")
    [tm] = tool_messages(planner, 1)
    assert tm.status == "error" and "$.a" in str(tm.content)
    assert result.status is RunStatus.COMPLETED


def test_unknown_tool_is_a_tool_error() -> None:
    planner = FakeChatModel([calls(call("ad", {"a": 1, "b": 2}, "c1")), "ok"])
    Pipeline(planner=planner, tools=[add]).run("x")
    [tm] = tool_messages(planner, 1)
    assert tm.status == "error" and "unknown tool" in str(tm.content).lower()
    assert "add" in str(tm.content)  # did-you-mean


def test_consecutive_invalid_calls_fail_the_run() -> None:
    bad = [calls(call("nope", {}, f"c{i}")) for i in range(5)]
    result = Pipeline(
        planner=FakeChatModel(bad), tools=[add], limits=Limits(max_invalid_tool_calls=3)
    ).run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "3 invalid tool calls in a row" in result.error.message


def test_delegates_run_in_parallel_and_return_in_call_order() -> None:
    both_started = asyncio.Event()
    started: list[str] = []

    async def reasoner_fn(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        task = str(messages[-1].content)
        started.append(task)
        if len(started) == 2:
            both_started.set()
        # the first subtask can only finish once the second has started: proves parallelism
        await asyncio.wait_for(both_started.wait(), timeout=10)
        answer = "4" if "2+2" in task else "6"
        return f'<think>easy</think>{{"answer": "{answer}", "steps": ["add"]}}'

    planner = FakeChatModel(
        [
            calls(
                call("delegate", {"kind": "math", "task": "2+2"}, "d1"),
                call("delegate", {"kind": "math", "task": "3+3"}, "d2"),
            ),
            "4 and 6",
        ]
    )
    result = Pipeline(planner=planner, reasoner=FunctionChatModel(reasoner_fn)).run("sums")
    assert result.status is RunStatus.COMPLETED
    tms = tool_messages(planner, 1)
    assert [t.tool_call_id for t in tms] == ["d1", "d2"]
    assert [json.loads(str(t.content))["answer"] for t in tms] == ["4", "6"]
    assert [o["result"]["answer"] for o in result.outputs] == ["4", "6"]
    assert result.usage["reasoner"].calls == 2


def test_reasoner_output_repaired_and_validated() -> None:
    planner = FakeChatModel([calls(call("delegate", {"kind": "math", "task": "1/2"}, "d1")), "ok"])
    reasoner = FakeChatModel(["Sure!\n```json\n{'answer': '0.5', 'steps': ['divide',],}\n```"])
    result = Pipeline(planner=planner, reasoner=reasoner).run("half")
    assert result.outputs[0]["result"] == {"answer": "0.5", "steps": ["divide"]}
    [counts] = result.enforcement.values()
    assert counts["repaired"] == 1


def test_caller_schema_wins_and_reask_feeds_errors_back() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 10}},
        "required": ["n"],
    }
    planner = FakeChatModel(
        [
            calls(
                call("delegate", {"kind": "math", "task": "big n", "output_schema": schema}, "d1")
            ),
            "done",
        ]
    )
    reasoner = FakeChatModel(['{"n": 3}', '{"n": 12}'])
    result = Pipeline(planner=planner, reasoner=reasoner).run("x")
    assert result.outputs[0]["result"] == {"n": 12}
    second_request, _ = reasoner.requests[1]
    assert "$.n" in str(second_request[-1].content)


def test_reasoner_that_never_satisfies_schema_gives_planner_a_tool_error() -> None:
    planner = FakeChatModel(
        [calls(call("delegate", {"kind": "math", "task": "?"}, "d1")), "could not solve"]
    )
    reasoner = FakeChatModel(["no json here"] * 3)
    result = Pipeline(planner=planner, reasoner=reasoner, max_enforce_retries=2).run("x")
    [tm] = tool_messages(planner, 1)
    assert tm.status == "error" and "did not produce a valid result" in str(tm.content)
    assert result.status is RunStatus.COMPLETED and result.outputs == []
    assert reasoner.remaining == 0


def test_max_steps_ends_with_budget_exhausted() -> None:
    loop = [calls(call("add", {"a": 1, "b": i}, f"c{i}")) for i in range(10)]
    result = Pipeline(planner=FakeChatModel(loop), tools=[add], limits=Limits(max_steps=3)).run(
        "loop"
    )
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert result.steps == 3 and len(result.tool_results) == 3
    assert result.error is not None and "max_steps" in result.error.message


def test_token_and_cost_limits() -> None:
    loop = [calls(call("add", {"a": 1, "b": i}, f"c{i}")) for i in range(10)]
    result = Pipeline(
        planner=FakeChatModel(loop), tools=[add], limits=Limits(max_total_tokens=150)
    ).run("loop")
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert "max_total_tokens" in (result.error.message if result.error else "")
    priced = Pipeline(
        planner=make_agent(
            "planner", FakeChatModel(loop), tools=[add], price=Price(input_per_million=1000.0)
        ),
        limits=Limits(max_cost_usd=0.1),
    ).run("loop")
    assert priced.status is RunStatus.BUDGET_EXHAUSTED and priced.cost_usd >= 0.1


def test_wall_time_limit_uses_the_clock() -> None:
    now = [1000.0]

    def clock() -> float:
        now[0] += 30.0
        return now[0]

    loop = [calls(call("add", {"a": 1, "b": i}, f"c{i}")) for i in range(10)]
    result = Pipeline(
        planner=FakeChatModel(loop), tools=[add], clock=clock, limits=Limits(max_wall_time_s=100)
    ).run("loop")
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert "max_wall_time_s" in (result.error.message if result.error else "")


def test_model_error_fails_the_run_and_resume_continues() -> None:
    planner = FakeChatModel(
        [
            calls(call("add", {"a": 1, "b": 2}, "c1")),
            ModelConnectionError("cannot reach http://127.0.0.1:9/v1: connection refused"),
            "3",
        ]
    )
    pipeline = Pipeline(planner=planner, tools=[add])
    failed = pipeline.run("1+2")
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None and failed.error.type == "ModelConnectionError"
    assert len(failed.tool_results) == 1
    resumed = pipeline.resume(failed.thread_id)
    assert resumed.status is RunStatus.COMPLETED and resumed.answer == "3"
    assert len(resumed.tool_results) == 1  # the completed tool call did not run again


def test_action_mode_planner_uses_tools_through_json() -> None:
    planner = FakeChatModel(
        [
            '{"action": "add", "arguments": {"a": 20, "b": 22}}',
            '{"action": "final", "result": "42"}',
        ]
    )
    agent = make_agent("planner", planner, tools=[add], tool_mode=ToolMode.ACTION)
    result = Pipeline(planner=agent).run("20+22")
    assert result.status is RunStatus.COMPLETED and result.answer == "42"
    assert result.tool_results[0]["result"] == "42"
    second, _ = planner.requests[1]
    assert "Tool add result" in str(second[-1].content)


def test_action_mode_invalid_reply_is_retried_then_fails() -> None:
    planner = FakeChatModel(["nonsense"] * 12)
    result = Pipeline(
        planner=make_agent("planner", planner, tools=[add], tool_mode=ToolMode.ACTION),
        max_enforce_retries=1,
        limits=Limits(max_invalid_tool_calls=2),
    ).run("x")
    assert result.status is RunStatus.FAILED


def test_stream_yields_typed_events_ending_with_final() -> None:
    planner = FakeChatModel([calls(call("add", {"a": 2, "b": 3}, "c1")), "5"])
    events = list(Pipeline(planner=planner, tools=[add]).stream("2+3?"))
    kinds = [e.kind.value for e in events]
    assert kinds[-1] == "final"
    for kind in ("node_start", "node_end", "model_call", "tool_call", "token"):
        assert kind in kinds
    tool_event = next(e for e in events if e.kind.value == "tool_call")
    assert tool_event.to_dict()["arguments"] == {"a": 2, "b": 3}


@pytest.mark.asyncio
async def test_arun_and_astream_in_a_running_loop() -> None:
    result = await Pipeline(planner=FakeChatModel(["hi"])).arun("hello")
    assert result.answer == "hi"
    sync_result = Pipeline(planner=FakeChatModel(["hey"])).run("inside a loop")
    assert sync_result.answer == "hey"


def test_routing_runs_on_the_event_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """LangGraph runs a sync conditional edge in a worker thread when the graph runs async;
    routing is a pure look at the state, so it must stay on the loop (``inline_route``)."""
    import threading

    import agents.workflows.standard as graph_module

    threads: list[str] = []
    real = graph_module.route_after_plan

    def spy(state: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(state, **kwargs)

    monkeypatch.setattr(graph_module, "route_after_plan", spy)
    planner = FakeChatModel([calls(call("add", {"a": 2, "b": 3}, "c1")), "5"])

    async def run() -> tuple[str, Any]:
        result = await Pipeline(planner=planner, tools=[add]).arun("2+3?")
        return threading.current_thread().name, result

    loop_thread, result = asyncio.run(run())
    assert result.answer == "5"
    assert threads == [loop_thread, loop_thread]
