"""Custom graphs from YAML: agent and tool steps, templates, conditional edges, budgets."""

from __future__ import annotations

from pathlib import Path

from agents.workflows.custom import AgentRuntime, custom_graph_builder
from orchestrator import FakeChatModel, Pipeline, RunStatus
from orchestrator.config.loading import parse_spec
from tools._context import ToolContext
from tools.base import Toolset, build_tools

SPEC = """
models:
  reasoner: {}
  planner: {}
agents:
  solver: {model: reasoner}
  reporter: {model: planner}
tools: {builtin: [evaluate]}
graph:
  steps:
    solve:
      agent: solver
      output_schema:
        type: object
        properties: {expr: {type: string}}
        required: [expr]
    check: {tool: evaluate, args: {expression: "{{ solve['expr'] }}"}}
    report: {agent: reporter, input: "{{ task }}: {{ solve['expr'] }} = {{ check }}"}
  edges:
    - {from: solve, to: check}
    - {from: check, to: solve, when: "'error' in str(check) and steps < 5"}
    - {from: check, to: report}
"""


def _pipeline(solver: FakeChatModel, reporter: FakeChatModel, tmp: Path, **kw: object) -> Pipeline:
    spec = parse_spec(SPEC, base_dir=tmp)
    assert spec.graph is not None
    agents = {
        "solver": AgentRuntime("solver", solver, "fake", "Solve.", Toolset()),
        "reporter": AgentRuntime("reporter", reporter, "fake", "Report.", Toolset()),
    }
    tools = Toolset(build_tools(["evaluate"], ToolContext(tmp)))
    return Pipeline(
        planner=reporter, graph_builder=custom_graph_builder(spec.graph, agents, tools), **kw
    )  # type: ignore[arg-type]


def test_steps_templates_and_edges(tmp_path: Path) -> None:
    solver = FakeChatModel(['{"expr": "6*7"}'])
    reporter = FakeChatModel(['"6*7 is 42"'])
    result = _pipeline(solver, reporter, tmp_path).run("compute")
    assert result.status is RunStatus.COMPLETED
    assert result.answer == "6*7 is 42"
    assert result.outputs == [{"step": "solve", "result": {"expr": "6*7"}}]
    [request, _] = reporter.requests[0]
    assert "compute: 6*7 = 42" in str(request[-1].content)
    assert result.tool_results[0]["tool"] == "evaluate"


def test_condition_loops_back_on_a_tool_error(tmp_path: Path) -> None:
    solver = FakeChatModel(['{"expr": "6*"}', '{"expr": "2+2"}'])
    reporter = FakeChatModel(['"four"'])
    result = _pipeline(solver, reporter, tmp_path).run("compute")
    assert result.status is RunStatus.COMPLETED and result.answer == "four"
    assert len(solver.requests) == 2
    assert [r["ok"] for r in result.tool_results] == [False, True]


def test_invalid_agent_output_fails_the_step(tmp_path: Path) -> None:
    solver = FakeChatModel(["no json"] * 3)
    result = _pipeline(solver, FakeChatModel([]), tmp_path, max_enforce_retries=2).run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "step 'solve'" in result.error.message
