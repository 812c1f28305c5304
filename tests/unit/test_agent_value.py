"""The Agent value: one factory, one default tool mode, one model name, one argument policy,
one usage value, errors recorded by class."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

import orchestrator.exceptions as exceptions_module
from agents.agent import make_agent, tool_mode_for
from orchestrator import FakeChatModel, Limits, Pipeline, RunStatus, ToolMode
from orchestrator.config.loading import parse_spec
from orchestrator.config.spec import agent_defaults
from orchestrator.loader import pipeline_from_spec
from orchestrator.models.local import LocalChatModel
from orchestrator.models.openai_compat import OpenAICompatChatModel
from orchestrator.result import ErrorInfo
from orchestrator.usage import Usage
from tools.base import Toolset


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _native_call(args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "add", "args": args, "id": "c1"}])


@pytest.mark.parametrize("mode", [ToolMode.NATIVE, ToolMode.ACTION])
def test_the_same_call_gets_the_same_answer_in_both_modes(mode: ToolMode) -> None:
    """``{"a": "2"}`` for an integer: coerced in both modes (before: rejected in native)."""
    if mode is ToolMode.NATIVE:
        replies: list[Any] = [_native_call({"a": "2", "b": 3}), "5"]
    else:
        replies = [
            '{"action": "add", "arguments": {"a": "2", "b": 3}}',
            '{"action": "final", "result": "5"}',
        ]
    planner = make_agent("planner", FakeChatModel(replies), tools=[add], tool_mode=mode)
    result = Pipeline(planner=planner).run("2+3")
    assert result.status is RunStatus.COMPLETED
    assert result.tool_results[0]["ok"] and result.tool_results[0]["result"] == "5"
    assert result.tool_results[0]["arguments"] == {"a": 2, "b": 3}
    coerced = sum(v["coerced"] for v in result.enforcement.values())
    assert coerced == 1  # counted once, in the enforcement statistics


@pytest.mark.parametrize("mode", [ToolMode.NATIVE, ToolMode.ACTION])
def test_arguments_are_checked_once_per_call(
    mode: ToolMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    original = Toolset.check

    def counting(self: Toolset, name: str, args: Any) -> Any:
        checks.append(name)
        return original(self, name, args)

    monkeypatch.setattr(Toolset, "check", counting)
    if mode is ToolMode.NATIVE:
        replies: list[Any] = [_native_call({"a": 2, "b": 3}), "5"]
    else:
        replies = [
            '{"action": "add", "arguments": {"a": 2, "b": 3}}',
            '{"action": "final", "result": "5"}',
        ]
    planner = make_agent("planner", FakeChatModel(replies), tools=[add], tool_mode=mode)
    assert Pipeline(planner=planner).run("2+3").status is RunStatus.COMPLETED
    # native: the argument policy once; action: the schema layer already enforced them
    assert len(checks) == (1 if mode is ToolMode.NATIVE else 0)


@pytest.mark.parametrize("provider", ["openai", "local"])
@pytest.mark.parametrize("name", ["planner", "reasoner", "writer"])
def test_the_default_tool_mode_is_one_rule(provider: str, name: str, tmp_path: Path) -> None:
    models: dict[str, Any] = {name: {"provider": provider}}
    from_file = agent_defaults(name, {}, models, None)["tool_mode"]
    model = (
        OpenAICompatChatModel(base_urls=["http://127.0.0.1:9/v1"], model="m")
        if provider == "openai"
        else LocalChatModel(model_path=str(_gguf(tmp_path)))
    )
    from_python = tool_mode_for(model, reasoner=name == "reasoner")
    assert from_file == from_python.value


def _gguf(tmp: Path) -> Path:
    path = tmp / "tiny-model.gguf"
    path.write_bytes(b"GGUF" + bytes(64))
    return path


def test_one_model_has_one_name_in_statistics(tmp_path: Path) -> None:
    """YAML standard, YAML custom graph and Python API: the model's own name (before:
    ``embedded``, the file stem, ``embedded``...)."""
    gguf = _gguf(tmp_path)
    spec = parse_spec(
        f"""
models:
  planner: {{model_path: {gguf}}}
agents:
  writer: {{model: planner}}
graph:
  steps:
    write: {{agent: writer}}
""",
        base_dir=tmp_path,
    )
    ctx = pipeline_from_spec(spec, workspace=tmp_path, notice=None).context
    python = make_agent("planner", LocalChatModel(model_path=str(gguf)))
    names = {ctx.planner.model_name, ctx.agents["writer"].model_name, python.model_name}
    assert names == {"tiny-model"}


def test_a_bare_model_and_an_agent_make_the_same_context() -> None:
    model = FakeChatModel(["hi"])
    bare = Pipeline(planner=model, tools=[add]).context.planner
    given = Pipeline(planner=make_agent("planner", model, tools=[add])).context.planner
    assert (bare.model_name, bare.prompt, bare.tool_mode, bare.toolset.names) == (
        given.model_name,
        given.prompt,
        given.tool_mode,
        given.toolset.names,
    )


def test_usage_is_one_value_built_from_a_message_and_added() -> None:
    reply = AIMessage(
        "4",
        usage_metadata={
            "input_tokens": 9,
            "output_tokens": 4,
            "total_tokens": 13,
            "output_token_details": {"reasoning": 3},
        },
    )
    total = Usage.of(reply, latency_s=0.5) + Usage.of(reply, latency_s=0.25)
    assert total == Usage(
        prompt_tokens=18, completion_tokens=8, reasoning_tokens=6, calls=2, latency_s=0.75
    )
    assert Usage.from_entry(total.as_entry()) == total
    assert not Usage()


def test_every_name_exported_by_exceptions_is_an_exception() -> None:
    """``SchemaError`` was a dataclass exported next to the exceptions; it is now the value
    ``orchestrator.types.SchemaIssue``."""
    for name in exceptions_module.__all__:
        obj = getattr(exceptions_module, name)
        assert inspect.isclass(obj) and issubclass(obj, Exception), name


def test_budget_errors_are_recorded_from_the_exception_class() -> None:
    result = Pipeline(
        planner=make_agent(
            "planner", FakeChatModel([_native_call({"a": 1, "b": 1})] * 5), tools=[add]
        ),
        limits=Limits(max_steps=2),
    ).run("loop")
    assert result.status is RunStatus.BUDGET_EXHAUSTED
    assert result.error == ErrorInfo.of(
        exceptions_module.BudgetExhaustedError("max_steps reached (2/2)", limit="max_steps")
    )


def test_an_agent_next_to_bare_tools_is_refused() -> None:
    agent = make_agent("planner", FakeChatModel(["x"]))
    with pytest.raises(
        exceptions_module.ConfigError, match="give the planner's tools to its Agent"
    ):
        Pipeline(planner=agent, tools=[add])
