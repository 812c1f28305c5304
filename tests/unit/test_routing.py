"""Routing is a pure function of the state."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Send

from orchestrator.graph.routing import ACT, FINISH, INVALID_TURN_KEY, PLAN, REASON, route_after_plan
from orchestrator.graph.state import StandardState


def state(*messages: object, status: str = "running") -> StandardState:
    return StandardState(messages=list(messages), status=status, invalid_streak=1)


def test_final_answer_goes_to_finish() -> None:
    assert route_after_plan(state(HumanMessage("q"), AIMessage("a")), has_reasoner=True) == FINISH


def test_a_stopped_run_goes_to_finish_whatever_the_message() -> None:
    ai = AIMessage("", tool_calls=[{"name": "t", "args": {}, "id": "1"}])
    assert route_after_plan(state(ai, status="budget_exhausted"), has_reasoner=True) == FINISH


def test_invalid_turn_asks_the_planner_again() -> None:
    ai = AIMessage("junk", additional_kwargs={INVALID_TURN_KEY: True})
    assert route_after_plan(state(ai), has_reasoner=True) == PLAN


def test_fan_out_one_send_per_delegate_and_one_for_tools() -> None:
    ai = AIMessage(
        "",
        tool_calls=[
            {"name": "delegate", "args": {"kind": "math", "task": "a"}, "id": "d1"},
            {"name": "read_file", "args": {"path": "x"}, "id": "t1"},
            {
                "name": "delegate",
                "args": {"kind": "code", "task": "b", "output_schema": {}},
                "id": "d2",
            },
        ],
    )
    sends = route_after_plan(state(ai), has_reasoner=True)
    assert isinstance(sends, list) and all(isinstance(s, Send) for s in sends)
    assert [s.node for s in sends] == [ACT, REASON, REASON]
    assert sends[0].arg == {
        "calls": [dict(ai.tool_calls[1])],
        "invalid_streak": 1,
        "steps": 0,
        "checked": False,
        "failed_calls": [],
    }
    assert [s.arg["delegate"]["call_id"] for s in sends[1:]] == ["d1", "d2"]


def test_parallel_delegates_share_the_steps_left() -> None:
    ai = AIMessage(
        "",
        tool_calls=[
            {"name": "delegate", "args": {"kind": "math", "task": t}, "id": t} for t in "abc"
        ],
    )
    sends = route_after_plan({**state(ai), "steps": 4}, has_reasoner=True, max_steps=10)
    assert isinstance(sends, list)
    assert [(s.arg["steps"], s.arg["step_budget"]) for s in sends] == [(4, 2), (4, 2), (4, 2)]
    sends = route_after_plan({**state(ai), "steps": 9}, has_reasoner=True, max_steps=10)
    assert isinstance(sends, list)
    assert [s.arg["step_budget"] for s in sends] == [1, 0, 0]
    assert sends[2].arg["delegate"]["output_schema"] is None  # an empty schema means default


def test_without_a_reasoner_delegate_is_an_ordinary_unknown_tool() -> None:
    ai = AIMessage("", tool_calls=[{"name": "delegate", "args": {}, "id": "d1"}])
    [send] = route_after_plan(state(ai), has_reasoner=False)
    assert send.node == ACT
