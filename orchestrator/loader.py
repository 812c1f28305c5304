"""Turn a pipeline file into a runnable ``Pipeline``: models, tools, agents, graph.

``load_pipeline(path)`` is the YAML door onto the Python API; everything it builds could be
written by hand (``examples/python_api.py`` does).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

import orchestrator._companions  # noqa: F401  (agents/tools are ours: checked before use)

# isort: split
from agents.agent import Agent, make_agent
from orchestrator.config.spec import (
    MCP_REF_PREFIX,
    AgentSpec,
    ModelSpec,
    PipelineSpec,
    Provider,
    TelemetrySpec,
)
from orchestrator.exceptions import ConfigError
from orchestrator.integrations.mcp_loading import load_mcp_tools
from orchestrator.pipeline import GraphBuilder, Pipeline
from orchestrator.redact import Redactor
from orchestrator.telemetry.settings import TelemetrySettings
from orchestrator.types import Role
from orchestrator.usage import Price
from tools.base import ToolContext, build_tools, require_approval, tool_from_function

__all__ = [
    "agent_from_spec",
    "build_model",
    "flag_overrides",
    "load_pipeline",
    "pipeline_from_spec",
]

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
            max_in_flight=spec.max_in_flight,
            replica_cooldown_s=spec.replica_cooldown_s,
            deadline=spec.deadline_s,
            max_response_bytes=spec.max_response_bytes,
            extra_body=dict(spec.extra_body)
            | ({"seed": spec.seed} if spec.seed is not None else {}),
            grammar_backend=spec.grammar,
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
    """Import ``module:attr`` and make it a tool.

    Trust model: a user tool is code the pipeline's author asks Bicameral to run in its own
    process, exactly like an ``import``; only allow-listed, non-standard-library modules are
    imported (:func:`~orchestrator.config.spec.module_problem`), and only a LangChain tool or a
    Python function whose every parameter is annotated becomes a tool: a C builtin such as
    ``os.system`` or an untyped helper is refused.
    """
    from orchestrator.config.spec import module_problem

    if (problem := module_problem(ref)) is not None:
        raise ConfigError(f"user tool {problem}")
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"user tool {ref!r} cannot be loaded: {exc}") from None
    if isinstance(obj, BaseTool):
        return obj
    if _typed_function(obj):
        return tool_from_function(obj, name=attr)
    raise ConfigError(
        f"user tool {ref!r} is neither a LangChain tool nor a Python function with type "
        "annotations on every parameter"
    )


def _typed_function(obj: object) -> bool:
    if not inspect.isfunction(obj):
        return False  # builtins (os.system), classes, partials, arbitrary callables
    params = inspect.signature(obj).parameters.values()
    return all(p.annotation is not inspect.Parameter.empty for p in params)


def _placeholder_tool(ref: str) -> BaseTool:
    """A stand-in for a user tool that is never imported (``bicameral graph``)."""
    from langchain_core.tools import StructuredTool

    def placeholder() -> str:
        raise ConfigError(f"user tool {ref!r} was not loaded")

    name = ref.rpartition(":")[2]
    return StructuredTool.from_function(placeholder, name=name, description=f"user tool {ref}")


def _tools(
    names: Sequence[str],
    ctx: ToolContext,
    approval: Sequence[str] = (),
    *,
    import_user_tools: bool = True,
    mcp: Mapping[str, Sequence[BaseTool]] | None = None,
) -> list[BaseTool]:
    builtin = [n for n in names if ":" not in n]
    out = build_tools(builtin, ctx)
    make = _user_tool if import_user_tools else _placeholder_tool
    out.extend(make(n) for n in names if ":" in n and not n.startswith(MCP_REF_PREFIX))
    for ref in names:
        if ref.startswith(MCP_REF_PREFIX):
            out.extend((mcp or {}).get(ref.removeprefix(MCP_REF_PREFIX), ()))
    gated = {ref.rpartition(":")[2] for ref in approval}
    return [require_approval(t) if t.name in gated else t for t in out]


def agent_from_spec(
    name: str,
    spec: AgentSpec,
    *,
    model: BaseChatModel,
    model_spec: ModelSpec,
    tools: Sequence[BaseTool],
) -> Agent:
    """The ``Agent`` an agent entry of a pipeline file describes (through ``make_agent``,
    the one factory; its model name is the model's own, as in the Python API)."""
    return make_agent(
        name,
        model,
        prompt=spec.prompt,
        tools=tools,
        tool_mode=spec.tool_mode,
        price=Price(
            input_per_million=model_spec.price.input_per_million,
            output_per_million=model_spec.price.output_per_million,
        ),
        output_schema=spec.output_schema,
        reasoner=name == Role.REASONER or spec.model == Role.REASONER,
    )


def pipeline_from_spec(
    spec: PipelineSpec,
    *,
    workspace: str | Path | None = None,
    checkpoint: str | None = None,
    notice: Notice | None = _stderr,
    graph_builder: GraphBuilder | None = None,
    import_user_tools: bool = True,
    otlp_endpoint: str | None = None,
) -> Pipeline:
    """Build the ``Pipeline`` a spec describes.

    ``workspace``, ``checkpoint`` and ``otlp_endpoint`` override the file's (the CLI's
    ``--workspace``, ``--checkpoint`` and ``--otlp-endpoint``); the workspace defaults to the
    file's ``workspace`` or the current directory. With ``import_user_tools=False`` the
    ``tools.modules`` tools are stand-ins and no user module is imported (enough to draw the
    graph, not to run it).
    """
    root = Path(workspace or spec.workspace or Path.cwd()).resolve()
    if not root.is_dir():
        raise ConfigError(f"workspace {str(root)!r} is not a directory")
    tool_ctx = ToolContext(root, test_command=spec.coding_assistant.test_command)
    planner_spec = spec.agents.get(Role.PLANNER.value)
    if planner_spec is None and spec.graph is not None:
        first = next((s.agent for s in spec.graph.steps.values() if s.agent), None)
        planner_spec = spec.agents[first] if first else None
    if planner_spec is None:
        raise ConfigError("the pipeline has no planner (models.planner or agents.planner)")
    models: dict[str, BaseChatModel] = {}
    servers, mcp = load_mcp_tools(spec)
    tools_for = functools.partial(_tools, import_user_tools=import_user_tools, mcp=mcp)

    def agent(name: str, agent_spec: AgentSpec, approval: Sequence[str] = ()) -> Agent:
        if agent_spec.model not in models:
            models[agent_spec.model] = build_model(
                spec.models[agent_spec.model], name, notice=notice
            )
        return agent_from_spec(
            name,
            agent_spec,
            model=models[agent_spec.model],
            model_spec=spec.models[agent_spec.model],
            tools=tools_for(agent_spec.tools, tool_ctx, approval),
        )

    coding_prompt = _coding_agent_prompt(spec)
    if coding_prompt is not None and planner_spec.prompt is None:
        planner_spec = planner_spec.model_copy(update={"prompt": coding_prompt})
    planner = agent(Role.PLANNER.value, planner_spec, spec.tools.require_approval)
    reasoner_spec = spec.agents.get(Role.REASONER.value)
    reasoner = agent(Role.REASONER.value, reasoner_spec) if reasoner_spec else None
    used = set()
    if spec.graph is not None:
        used = {s.agent for s in spec.graph.steps.values() if s.agent is not None}
    others = [
        agent(name, spec.agents[name])
        for name in sorted(used)
        if name not in (Role.PLANNER, Role.REASONER)
    ]
    builder = graph_builder or _workflow_builder(spec, tool_ctx, tools_for)
    pipeline = Pipeline(
        planner=planner,
        reasoner=reasoner,
        agents=others,
        limits=spec.limits,
        checkpointer=checkpoint or spec.checkpoint,
        graph_builder=builder,
        name=spec.name,
        resources=[servers] if servers else (),
        telemetry=_telemetry(spec, otlp_endpoint),
    )
    pipeline.launch = {"workspace": str(root)}
    return pipeline


def _coding_agent_prompt(spec: PipelineSpec) -> str | None:
    if spec.workflow == "coding_assistant" and spec.coding_assistant.mode == "agent":
        from agents.prompts import load_prompt

        return load_prompt("coding_agent")
    return None


def _telemetry(spec: PipelineSpec, endpoint: str | None) -> TelemetrySettings | None:
    """Tracing settings: the file's ``telemetry:``, ``--otlp-endpoint``, then the environment."""
    from orchestrator.telemetry.settings import settings_from_env

    section = spec.telemetry
    if section is not None and not section.enabled:
        return None
    settings = None
    if section is not None or endpoint:
        section = section or TelemetrySpec()
        settings = TelemetrySettings(
            endpoint=endpoint or section.endpoint,
            headers=section.headers(),
            service_name=section.service_name,
            capture_content=section.capture_content,
            provider_names=dict(section.provider_names),
            timeout_s=section.timeout_s,
        )
    return settings_from_env(settings)


def _workflow_builder(
    spec: PipelineSpec,
    tool_ctx: ToolContext,
    tools_for: Callable[[Sequence[str], ToolContext], list[BaseTool]] = _tools,
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
    from agents.workflows.custom import custom_graph_builder
    from tools.base import Toolset

    step_tools = [s.tool for s in spec.graph.steps.values() if s.tool is not None]
    return custom_graph_builder(spec.graph, Toolset(tools_for(sorted(set(step_tools)), tool_ctx)))


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
        out[name] = _tools(agent.tools, tool_ctx, approval, mcp=mcp)
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
    import_user_tools: bool = True,
    allow_outside_files: bool = False,
    secrets: Redactor | None = None,
    origins: Mapping[str, str] | None = None,
    otlp_endpoint: str | None = None,
) -> Pipeline:
    """Read a pipeline file and build its ``Pipeline``.

    Prompt, schema and template files must lie in the file's folder unless
    ``allow_outside_files``; ``import_user_tools=False`` builds stand-ins for the
    ``tools.modules`` tools instead of importing them. ``secrets`` is filled with the values
    interpolated from the environment and the models' API keys, for the caller to redact.
    ``origins`` says how the user wrote an override when not as ``--set`` (see
    :func:`~orchestrator.config.loading.load_spec`).

    Example:
        >>> pipeline = load_pipeline("examples/math_solver.yaml")  # doctest: +SKIP
        >>> pipeline.run("What is 2**10?").answer  # doctest: +SKIP

    Raises:
        ConfigError: with ``file:line:col: message`` for anything wrong in the file.
    """
    from orchestrator.config.loading import load_spec

    spec = load_spec(
        path,
        list(overrides),
        origins=origins,
        secrets=secrets,
        allow_outside_files=allow_outside_files,
    )
    if secrets is not None:
        for model in spec.models.values():
            key = os.environ.get(model.api_key_env) if model.api_key_env else None
            if key:
                secrets.add(key, f"${{{model.api_key_env}}}")
    pipeline = pipeline_from_spec(
        spec,
        workspace=workspace,
        checkpoint=checkpoint,
        notice=notice,
        import_user_tools=import_user_tools,
        otlp_endpoint=otlp_endpoint,
    )
    pipeline.launch.update(pipeline=str(Path(path).resolve()), overrides=list(overrides))
    return pipeline
