"""Turn a pipeline file into a runnable ``Pipeline``: models, tools, agents, graph.

``load_pipeline(path)`` is the YAML door onto the Python API; everything it builds could be
written by hand (``examples/python_api.py`` does).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from orchestrator.config.spec import MCP_REF_PREFIX, AgentSpec, ModelSpec, PipelineSpec, Provider
from orchestrator.exceptions import ConfigError
from orchestrator.integrations.mcp_loading import load_mcp_tools
from orchestrator.pipeline import GraphBuilder, Pipeline
from orchestrator.types import Role
from orchestrator.usage import Price
from tools.base import ToolContext, build_tools, require_approval, tool_from_function

__all__ = ["build_model", "flag_overrides", "load_pipeline", "pipeline_from_spec"]

Notice = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def build_model(spec: ModelSpec, role: str, *, notice: Notice | None = None) -> BaseChatModel:
    """The chat model for one ``models.<role>`` entry."""
    if spec.provider is Provider.OPENAI:
        from orchestrator.models.openai_compat import OpenAICompatChatModel

        return OpenAICompatChatModel(
            base_urls=list(spec.base_urls),
            model=spec.model or role,
            api_key_env=spec.api_key_env,
            temperature=spec.temperature,
            top_p=spec.top_p,
            max_tokens=spec.max_tokens,
            timeout=spec.timeout_s,
            max_retries=spec.max_retries,
            extra_body=dict(spec.extra_body)
            | ({"seed": spec.seed} if spec.seed is not None else {}),
        )
    from orchestrator.models.local import LocalChatModel, fallback_notice

    kwargs: dict[str, Any] = {"model_path": spec.model_path, "seed": spec.seed}
    for field in ("n_ctx", "n_threads", "temperature", "top_p", "max_tokens"):
        value = getattr(spec, field)
        if value is not None:
            kwargs[field] = value
    model = LocalChatModel(**kwargs)
    if notice is not None:
        notice(fallback_notice(role))
    return model


def _user_tool(ref: str) -> BaseTool:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"user tool {ref!r} cannot be loaded: {exc}") from None
    if isinstance(obj, BaseTool):
        return obj
    if callable(obj):
        return tool_from_function(obj, name=attr)
    raise ConfigError(f"user tool {ref!r} is neither a LangChain tool nor a function")


def _tools(
    names: Sequence[str],
    ctx: ToolContext,
    approval: Sequence[str] = (),
    mcp: Mapping[str, Sequence[BaseTool]] | None = None,
) -> list[BaseTool]:
    builtin = [n for n in names if ":" not in n]
    out = build_tools(builtin, ctx)
    out.extend(_user_tool(n) for n in names if ":" in n and not n.startswith(MCP_REF_PREFIX))
    for ref in names:
        if ref.startswith(MCP_REF_PREFIX):
            out.extend((mcp or {}).get(ref.removeprefix(MCP_REF_PREFIX), ()))
    gated = {ref.rpartition(":")[2] for ref in approval}
    return [require_approval(t) if t.name in gated else t for t in out]


def _agent(spec: PipelineSpec, name: str) -> AgentSpec | None:
    return spec.agents.get(name)


def pipeline_from_spec(
    spec: PipelineSpec,
    *,
    workspace: str | Path | None = None,
    checkpoint: str | None = None,
    notice: Notice | None = _stderr,
    graph_builder: GraphBuilder | None = None,
) -> Pipeline:
    """Build the ``Pipeline`` a spec describes.

    ``workspace`` and ``checkpoint`` override the file's (the CLI's ``--workspace`` and
    ``--checkpoint``); the workspace defaults to the file's ``workspace`` or the current
    directory.
    """
    root = Path(workspace or spec.workspace or Path.cwd()).resolve()
    if not root.is_dir():
        raise ConfigError(f"workspace {str(root)!r} is not a directory")
    tool_ctx = ToolContext(root, test_command=spec.coding_assistant.test_command)
    planner_agent = _agent(spec, Role.PLANNER.value)
    reasoner_agent = _agent(spec, Role.REASONER.value)
    if planner_agent is None and spec.graph is not None:
        first = next((s.agent for s in spec.graph.steps.values() if s.agent), None)
        planner_agent = spec.agents[first] if first else None
    if planner_agent is None:
        raise ConfigError("the pipeline has no planner (models.planner or agents.planner)")
    models: dict[str, BaseChatModel] = {}

    def model_for(agent: AgentSpec, role: str) -> BaseChatModel:
        if agent.model not in models:
            models[agent.model] = build_model(spec.models[agent.model], role, notice=notice)
        return models[agent.model]

    planner = model_for(planner_agent, Role.PLANNER.value)
    reasoner = model_for(reasoner_agent, Role.REASONER.value) if reasoner_agent else None
    prices: dict[str, Price] = {}
    names: dict[str, str] = {}
    named = [(Role.PLANNER.value, planner_agent), (Role.REASONER.value, reasoner_agent)]
    named += [(n, a) for n, a in spec.agents.items() if n not in (Role.PLANNER, Role.REASONER)]
    for role, agent in named:
        if agent is None:
            continue
        mspec = spec.models[agent.model]
        prices[role] = Price(
            input_per_million=mspec.price.input_per_million,
            output_per_million=mspec.price.output_per_million,
        )
        names[role] = mspec.model or (
            Path(mspec.model_path).name if mspec.model_path else "embedded"
        )
    servers, mcp = load_mcp_tools(spec)
    builder = graph_builder or _workflow_builder(spec, model_for, tool_ctx, mcp)
    return Pipeline(
        planner=planner,
        reasoner=reasoner,
        tools=_tools(planner_agent.tools, tool_ctx, spec.tools.require_approval, mcp),
        reasoner_tools=_tools(reasoner_agent.tools, tool_ctx, (), mcp) if reasoner_agent else (),
        limits=spec.limits,
        checkpointer=checkpoint or spec.checkpoint,
        planner_mode=planner_agent.tool_mode,
        reasoner_mode=reasoner_agent.tool_mode if reasoner_agent else None,
        planner_prompt=planner_agent.prompt or _coding_agent_prompt(spec),
        reasoner_prompt=reasoner_agent.prompt if reasoner_agent else None,
        prices=prices,
        model_names=names,
        graph_builder=builder,
        name=spec.name,
        resources=[servers] if servers else (),
    )


def _coding_agent_prompt(spec: PipelineSpec) -> str | None:
    if spec.workflow == "coding_assistant" and spec.coding_assistant.mode == "agent":
        from agents.prompts import load_prompt

        return load_prompt("coding_agent")
    return None


def _workflow_builder(
    spec: PipelineSpec,
    model_for: Callable[[AgentSpec, str], BaseChatModel],
    tool_ctx: ToolContext,
    mcp: Mapping[str, Sequence[BaseTool]],
) -> GraphBuilder | None:
    if spec.workflow == "coding_assistant" and spec.coding_assistant.mode == "agent":
        return None  # the planner drives: the standard graph, with the coding tools
    if spec.workflow == "coding_assistant":
        from agents.workflows.coding_assistant import coding_assistant_graph

        attempts, settings = spec.max_attempts, spec.coding_assistant
        return lambda ctx: coding_assistant_graph(
            ctx,
            max_attempts=attempts,
            workspace=tool_ctx.workspace,
            context_tokens=settings.context_tokens,
        )
    if spec.graph is None:
        return None
    from agents.prompts import load_prompt
    from agents.workflows.custom import AgentRuntime, custom_graph_builder
    from tools.base import Toolset

    used = {step.agent for step in spec.graph.steps.values() if step.agent is not None}
    runtimes: dict[str, AgentRuntime] = {}
    for name in sorted(used):
        agent = spec.agents[name]
        mspec = spec.models[agent.model]
        default_prompt = "reasoner" if agent.model == Role.REASONER.value else "planner"
        runtimes[name] = AgentRuntime(
            name=name,
            model=model_for(agent, name),
            model_name=mspec.model or "embedded",
            prompt=agent.prompt or load_prompt(default_prompt),
            toolset=Toolset(_tools(agent.tools, tool_ctx, (), mcp)),
            output_schema=agent.output_schema,
        )
    step_tools = [s.tool for s in spec.graph.steps.values() if s.tool is not None]
    return custom_graph_builder(
        spec.graph, runtimes, Toolset(_tools(sorted(set(step_tools)), tool_ctx))
    )


def agent_tools(
    spec: PipelineSpec, *, workspace: str | Path | None = None
) -> dict[str, list[BaseTool]]:
    """Every tool each agent of ``spec`` would see (built-in, user modules, MCP), by agent.

    MCP servers are started briefly to list their tools (``bicameral tools``).
    """
    root = Path(workspace or spec.workspace or Path.cwd()).resolve()
    tool_ctx = ToolContext(root)
    _, mcp = load_mcp_tools(spec)
    out: dict[str, list[BaseTool]] = {}
    for name, agent in spec.agents.items():
        approval = spec.tools.require_approval if name == Role.PLANNER.value else ()
        out[name] = _tools(agent.tools, tool_ctx, approval, mcp)
    return out


def flag_overrides(
    *,
    planner_url: str | None = None,
    reasoner_url: str | None = None,
    planner_model: str | None = None,
    reasoner_model: str | None = None,
) -> list[str]:
    """The CLI's model flags as ``--set`` overrides."""
    out: list[str] = []
    for role, url, name in (
        ("planner", planner_url, planner_model),
        ("reasoner", reasoner_url, reasoner_model),
    ):
        if url:
            out += [f"models.{role}.base_url={url}", f"models.{role}.provider=openai"]
        if name:
            out.append(f"models.{role}.model={name}")
    return out


def load_pipeline(
    path: str | Path,
    *,
    overrides: Iterable[str] = (),
    workspace: str | Path | None = None,
    checkpoint: str | None = None,
    notice: Notice | None = _stderr,
) -> Pipeline:
    """Read a pipeline file and build its ``Pipeline``.

    Example:
        >>> pipeline = load_pipeline("examples/math_solver.yaml")  # doctest: +SKIP
        >>> pipeline.run("What is 2**10?").answer  # doctest: +SKIP

    Raises:
        ConfigError: with ``file:line:col: message`` for anything wrong in the file.
    """
    from orchestrator.config.loading import load_spec

    spec = load_spec(path, list(overrides))
    return pipeline_from_spec(spec, workspace=workspace, checkpoint=checkpoint, notice=notice)
