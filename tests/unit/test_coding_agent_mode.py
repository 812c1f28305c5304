"""The coding assistant's agent mode: the planner drives with native tool calls (localise,
delegate to the reasoner, apply_edit, run_tests) on the standard graph; edits still go
through the tool schemas and the workspace confinement. Scripted planner, real tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agents.agent import make_agent
from agents.prompts import load_prompt
from agents.workflows.coding_assistant import edits_schema
from orchestrator import FakeChatModel, FunctionChatModel, Pipeline, RunStatus, load_pipeline
from tools import ToolContext, build_tools

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "coding_assistant" / "sample_repo"
TOOLS = ["localise", "search", "read_file", "repo_map", "run_tests", "apply_edit"]


def _call(name: str, args: dict[str, Any], ident: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": ident}])


def scripted_planner(messages: list[BaseMessage], options: dict[str, Any]) -> AIMessage | str:
    """localise -> delegate(code) with the context -> apply each edit -> run_tests -> answer."""
    results = [m for m in messages if isinstance(m, ToolMessage)]
    if not results:
        return _call("localise", {}, "c1")
    last = results[-1]
    if last.tool_call_id == "c1":
        context = json.loads(str(last.content))["context"]
        task = f"Fix the failing test.\n{context['text']}"
        schema = edits_schema(context["files"])
        return _call("delegate", {"kind": "code", "task": task, "output_schema": schema}, "c2")
    if last.tool_call_id == "c2":
        edits = json.loads(str(last.content))["edits"]
        return AIMessage(
            "",
            tool_calls=[
                {"name": "apply_edit", "args": edit, "id": f"e{i}"} for i, edit in enumerate(edits)
            ],
        )
    if last.tool_call_id.startswith("e"):
        return _call("run_tests", {}, "c3")
    report = json.loads(str(last.content))
    return "Tests pass." if report["ok"] else "Tests still failing."


def test_agent_mode_fixes_the_sample_with_a_scripted_planner(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo)
    fix = {
        "explanation": "add, not subtract",
        "edits": [{"path": "calc.py", "search": "return a - b", "replace": "return a + b"}],
    }
    reasoner = FakeChatModel([json.dumps(fix)])
    pipeline = Pipeline(
        planner=make_agent(
            "planner",
            FunctionChatModel(scripted_planner),
            prompt=load_prompt("coding_agent"),
            tools=build_tools(TOOLS, ToolContext(repo)),
        ),
        reasoner=reasoner,
    )
    result = pipeline.run("Fix the failing test")
    assert result.status is RunStatus.COMPLETED and result.answer == "Tests pass."
    assert result.changed_files == ["calc.py"]
    assert "return a + b" in (repo / "calc.py").read_text()
    delegated = str(reasoner.requests[0][0][-1].content)
    assert "### calc.py lines 4-6 (function add)" in delegated  # the localised context
    used = [r["tool"] for r in result.tool_results]
    assert used[0] == "localise" and "apply_edit" in used and used[-1] == "run_tests"


def test_agent_mode_is_chosen_in_yaml(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "name: c\nworkflow: coding_assistant\ncoding_assistant:\n  mode: agent\n"
        "models:\n  planner: {base_url: 'http://127.0.0.1:8409/v1', model: m}\n"
        "tools:\n  builtin: [localise, search, read_file, repo_map, run_tests, apply_edit]\n"
    )
    pipeline = load_pipeline(tmp_path / "p.yaml", workspace=SAMPLE, checkpoint="memory")
    assert "plan" in pipeline.build().nodes  # the standard graph: the planner drives
    assert pipeline.context.planner.prompt.startswith("You are the planner of a coding assistant")
    assert "localise" in pipeline.context.planner.toolset
