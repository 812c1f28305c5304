"""Bookkeeping under failure: every model call is counted and emitted, budgets hold inside
enforcement loops, and work done before a failure still shows in the result."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agents.agent import make_agent
from agents.workflows.coding_assistant import coding_assistant_graph
from orchestrator import (
    FakeChatModel,
    Limits,
    ModelCallEvent,
    ModelConnectionError,
    NodeStart,
    Pipeline,
    RunStatus,
)
from orchestrator.events import Event, FinalEvent
from tools import ToolContext, build_tools

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "coding_assistant" / "sample_repo"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _delegate(cid: str = "d1", task: str = "1+1") -> AIMessage:
    args = {"kind": "math", "task": task}
    return AIMessage(content="", tool_calls=[{"name": "delegate", "args": args, "id": cid}])


def _usage(n_in: int, n_out: int) -> dict[str, Any]:
    return {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out}


def _events(pipeline: Pipeline, task: str) -> tuple[list[Event], Any]:
    events = list(pipeline.stream(task))
    final = events[-1]
    assert isinstance(final, FinalEvent)
    return events, final.result


def test_failed_enforcement_emits_a_model_call_event_per_call() -> None:
    planner = FakeChatModel([_delegate(), "gave up"])
    bad = [AIMessage("no json here", usage_metadata=_usage(10, 5)) for _ in range(3)]
    pipeline = Pipeline(planner=planner, reasoner=FakeChatModel(bad), max_enforce_retries=2)
    events, result = _events(pipeline, "x")
    reasoner_calls = [e for e in events if isinstance(e, ModelCallEvent) and e.role == "reasoner"]
    assert len(reasoner_calls) == 3  # before: none (the failed enforcement emitted nothing)
    assert [e.prompt_tokens for e in reasoner_calls] == [10, 10, 10]
    assert result.usage["reasoner"].calls == 3
    assert result.usage["reasoner"].prompt_tokens == 30


def test_a_failed_model_call_still_counts_the_calls_and_tools_before_it() -> None:
    planner = FakeChatModel([_delegate()])
    reasoner = FakeChatModel(
        [
            AIMessage(
                '{"action": "add", "arguments": {"a": 1, "b": 1}}', usage_metadata=_usage(7, 3)
            ),
            ModelConnectionError("cannot reach http://127.0.0.1:9/v1: connection refused"),
        ]
    )
    agent = make_agent("reasoner", reasoner, tools=[add], tool_mode="action")
    result = Pipeline(planner=planner, reasoner=agent).run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "ModelConnectionError"
    # before: usage had the planner alone and tool_results was empty
    assert result.usage["reasoner"].calls == 2  # the reply, and the call that failed
    assert result.usage["reasoner"].prompt_tokens == 7
    assert [r["tool"] for r in result.tool_results] == ["add"]


def test_a_failing_planner_call_is_counted() -> None:
    planner = FakeChatModel([ModelConnectionError("cannot reach http://127.0.0.1:9/v1")])
    result = Pipeline(planner=planner).run("x")
    assert result.status is RunStatus.FAILED
    assert result.usage["planner"].calls == 1  # before: usage was empty


def test_a_failing_call_is_an_event_that_says_why() -> None:
    """The run log, ``bicameral runs show``, the UI and the progress display all read events:
    a call that failed left none, so they showed a gap where the call had waited."""
    planner = FakeChatModel([ModelConnectionError("cannot reach http://127.0.0.1:9/v1")])
    events, result = _events(Pipeline(planner=planner), "x")
    assert result.status is RunStatus.FAILED
    [failed] = [e for e in events if isinstance(e, ModelCallEvent)]
    assert failed.role == "planner"
    assert failed.error.startswith("ModelConnectionError: cannot reach")
    assert failed.prompt_tokens == 0 and failed.latency_s >= 0


def test_the_failed_call_after_enforced_replies_is_its_own_event() -> None:
    planner = FakeChatModel([_delegate()])
    reasoner = FakeChatModel(
        [AIMessage("no json", usage_metadata=_usage(4, 2)), ModelConnectionError("down")]
    )
    events, _ = _events(Pipeline(planner=planner, reasoner=reasoner), "x")
    calls = [e for e in events if isinstance(e, ModelCallEvent) and e.role == "reasoner"]
    assert [(e.prompt_tokens, bool(e.error)) for e in calls] == [(4, False), (0, True)]


def test_max_steps_holds_inside_the_reasoners_enforcement_loop() -> None:
    planner = FakeChatModel([_delegate()] * 5)
    reasoner = FakeChatModel(["not json"] * 40)
    limits = Limits(max_steps=6, max_reasoner_tool_steps=6)
    agent = make_agent("reasoner", reasoner, tools=[add], tool_mode="action")
    result = Pipeline(planner=planner, reasoner=agent, limits=limits, max_enforce_retries=2).run(
        "x"
    )
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert result.steps <= 6  # before: 8/6
    assert result.usage["planner"].calls + result.usage["reasoner"].calls == result.steps


def test_parallel_delegates_share_the_remaining_steps() -> None:
    turn = AIMessage(
        content="",
        tool_calls=[
            {"name": "delegate", "args": {"kind": "math", "task": t}, "id": t} for t in "abc"
        ],
    )
    planner = FakeChatModel([turn] * 4)
    reasoner = FakeChatModel(["nope"] * 60)
    limits = Limits(max_steps=8)
    result = Pipeline(planner=planner, reasoner=reasoner, limits=limits).run("x")
    assert result.steps <= 8  # before: 11/8


def test_node_start_carries_the_step_for_reason_nodes() -> None:
    planner = FakeChatModel([_delegate(), "done"])
    reasoner = FakeChatModel(['{"answer": "2", "steps": []}'])
    events, _ = _events(Pipeline(planner=planner, reasoner=reasoner), "x")
    starts = {e.node: e.step for e in events if isinstance(e, NodeStart)}
    assert starts["reason"] == 1  # before: always 0


def test_coding_assistant_keeps_tool_results_when_a_later_model_call_fails(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    reasoner = FakeChatModel([ModelConnectionError("cannot reach http://127.0.0.1:9/v1")])
    tools = build_tools(["localise", "apply_edit", "run_tests"], ToolContext(repo))
    pipeline = Pipeline(
        planner=FakeChatModel([]),
        reasoner=reasoner,
        tools=tools,
        graph_builder=lambda ctx: coding_assistant_graph(ctx, max_attempts=1, workspace=repo),
    )
    result = pipeline.run("fix it")
    assert result.status is RunStatus.FAILED
    assert [r["tool"] for r in result.tool_results] == ["localise"]  # before: []
    assert result.usage["reasoner"].calls == 1
