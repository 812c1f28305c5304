"""A tool call that already failed, repeated with the same arguments, is not run again and
counts as invalid: a model stuck on one failing call ends the run instead of its budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agents.agent import make_agent
from agents.workflows.custom import custom_graph_builder
from orchestrator import FakeChatModel, Limits, Pipeline, RunStatus
from orchestrator.config.loading import parse_spec
from tools import ToolContext, build_tools
from tools.base import Toolset

RUNS: list[str] = []


@tool
def lookup(key: str) -> str:
    """Look a key up; only "a" exists."""
    RUNS.append(key)
    if key != "a":
        raise ValueError(f"no key {key!r}")
    return "1"


def calls(key: str, cid: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "lookup", "args": {"key": key}, "id": cid}])


def test_repeating_a_failed_call_counts_as_invalid_and_the_tool_runs_once() -> None:
    RUNS.clear()
    replies: list[Any] = [calls("b", f"c{i}") for i in range(8)]
    pipeline = Pipeline(planner=FakeChatModel(replies), tools=[lookup], limits=Limits(max_steps=8))
    result = pipeline.run("find b")
    assert RUNS == ["b"]  # the repeats never reached the tool
    assert result.status is RunStatus.FAILED  # before: budget_exhausted after 8 identical calls
    assert result.error is not None and "invalid tool calls in a row" in result.error.message
    assert result.steps == 4  # one real failure, then three repeats (max_invalid_tool_calls)
    assert "already failed with exactly these arguments" in result.tool_results[1]["result"]


def test_a_failed_call_with_new_arguments_runs() -> None:
    RUNS.clear()
    pipeline = Pipeline(
        planner=FakeChatModel([calls("b", "c1"), calls("a", "c2"), "1"]), tools=[lookup]
    )
    result = pipeline.run("find something")
    assert RUNS == ["b", "a"] and result.status is RunStatus.COMPLETED and result.answer == "1"


def test_expression_tools_refuse_empty_arguments_in_their_schema() -> None:
    tools = {
        t.name: t for t in build_tools(["evaluate", "check_equal", "read_file"], ToolContext("."))
    }
    for name, fields in (
        ("evaluate", ["expression"]),
        ("check_equal", ["a", "b"]),
        ("read_file", ["path"]),
    ):
        props = tools[name].args_schema.model_json_schema()["properties"]  # type: ignore[union-attr]
        assert all(props[f]["minLength"] == 1 for f in fields), name


def test_in_action_mode_a_repeated_failing_call_counts_too() -> None:
    RUNS.clear()
    action = '{"action": "lookup", "arguments": {"key": "b"}}'
    planner = make_agent("planner", FakeChatModel([action] * 8), tools=[lookup], tool_mode="action")
    pipeline = Pipeline(planner=planner, limits=Limits(max_steps=8))
    result = pipeline.run("find b")
    assert RUNS == ["b"]
    # before: a well-formed action reset the streak, so the run spent its whole budget
    assert result.status is RunStatus.FAILED and result.steps == 4


def test_a_custom_step_out_of_tool_turns_is_budget_exhausted(tmp_path: Path) -> None:
    spec = parse_spec(
        "models: {planner: {}}\nagents: {solver: {model: planner}}\n"
        "tools: {builtin: [evaluate]}\ngraph: {steps: {solve: {agent: solver}}}\n",
        base_dir=tmp_path,
    )
    assert spec.graph is not None
    tools = Toolset(build_tools(["evaluate"], ToolContext(tmp_path)))
    actions = [
        f'{{"action": "evaluate", "arguments": {{"expression": "{i}+1"}}}}' for i in range(3)
    ]
    solver = FakeChatModel(actions)
    agents = [make_agent("solver", solver, prompt="Solve.", tools=tools, tool_mode="action")]
    result = Pipeline(
        planner=solver,
        agents=agents,
        graph_builder=custom_graph_builder(spec.graph, Toolset()),
        limits=Limits(max_reasoner_tool_steps=2),
    ).run("x")
    assert result.status is RunStatus.BUDGET_EXHAUSTED  # before: failed, SchemaValidationError
    assert result.error is not None and result.error.type == "BudgetExhaustedError"
    assert "max_reasoner_tool_steps" in result.error.message
