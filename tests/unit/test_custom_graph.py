"""Custom graphs from YAML: agent and tool steps, templates, conditional edges, budgets."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage

from agents.agent import make_agent
from agents.workflows.custom import custom_graph_builder
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
    agents = [
        make_agent("solver", solver, prompt="Solve.", tool_mode="action"),
        make_agent("reporter", reporter, prompt="Report.", tool_mode="action"),
    ]
    tools = Toolset(build_tools(["evaluate"], ToolContext(tmp)))
    return Pipeline(
        planner=reporter,
        agents=agents,
        graph_builder=custom_graph_builder(spec.graph, tools),
        **kw,  # type: ignore[arg-type]
    )


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
    assert result.error.type == "SchemaValidationError"  # the class, not a hand-written name


def test_a_custom_agent_in_native_tool_mode_calls_tools_natively(tmp_path: Path) -> None:
    """Custom agents had no tool mode (always action mode); now the Agent's mode is used."""
    spec = parse_spec(
        "models: {planner: {}}\nagents: {calc: {model: planner}}\n"
        "graph: {steps: {work: {agent: calc}}}\n",
        base_dir=tmp_path,
    )
    assert spec.graph is not None
    call = {"name": "evaluate", "args": {"expression": "6*7"}, "id": "e1"}
    model = FakeChatModel([AIMessage("", tool_calls=[call]), '"42"'])
    tools = build_tools(["evaluate"], ToolContext(tmp_path))
    calc = make_agent("calc", model, prompt="Compute.", tools=tools, tool_mode="native")
    result = Pipeline(
        planner=model, agents=[calc], graph_builder=custom_graph_builder(spec.graph, Toolset())
    ).run("6*7?")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.answer == "42"
    assert [(r["tool"], r["result"]) for r in result.tool_results] == [("evaluate", "42")]
    first, _ = model.requests[0]
    assert '"action"' not in str(first[0].content)  # no action-mode protocol in the prompt


def test_a_run_time_expression_failure_is_an_expression_error(tmp_path: Path) -> None:
    spec = parse_spec(
        "models: {planner: {}}\nagents: {w: {model: planner}}\n"
        "graph:\n  steps: {a: {agent: w}, b: {agent: w}}\n"
        '  edges: [{from: a, to: b, when: "a > 3"}]\n',
        base_dir=tmp_path,
    )
    assert spec.graph is not None
    writer = make_agent("w", FakeChatModel(['"text"']), prompt="Write.", tool_mode="action")
    result = Pipeline(
        planner=FakeChatModel([]),
        agents=[writer],
        graph_builder=custom_graph_builder(spec.graph, Toolset()),
    ).run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "ExpressionError"  # was ConfigError
