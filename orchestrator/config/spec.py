"""A pipeline file as typed data: pydantic models with the defaults that keep files short.

:class:`PipelineSpec` is what a YAML pipeline becomes once :func:`orchestrator.config.load_spec`
has interpolated and validated it; it can also be built from a dict in Python. A minimal
pipeline names only its models; the standard ``planner`` and ``reasoner`` agents are filled in::

    models:
      planner: {base_url: http://127.0.0.1:8000/v1, model: scout}
      reasoner: {base_url: http://127.0.0.1:8001/v1, model: r1}

Relative paths in a file (prompt and schema files, ``workspace``, ``model_path``, a SQLite
checkpoint, a chat template) are resolved against the file's directory, passed as the
validation context ``{"base_dir": Path}`` (the working directory when absent).

Cross-field checks raise :class:`SpecIssue`, a ``ValueError`` that says where, relative to the
object being validated, the problem is; ``config.py`` turns it into ``file:line:col: message``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator

from orchestrator.config._common import (
    IDENTIFIER,
    JsonSchema,
    SpecIssue,
    SpecModel,
    StrTuple,
    base_dir,
    did_you_mean,
    read_small_file,
    resolve_path,
    resolve_referenced_file,
)
from orchestrator.config._graph_spec import (
    END,
    GRAPH_STATE_NAMES,
    Condition,
    EdgeSpec,
    GraphSpec,
    StepSpec,
    TemplateText,
)
from orchestrator.config._mcp_spec import McpServerSpec, McpTransport
from orchestrator.config._model_spec import ModelSpec, Price, Provider, ServeSpec, infer_provider
from orchestrator.config._telemetry_spec import TelemetrySpec
from orchestrator.config._tools_spec import ToolsSpec, module_problem
from orchestrator.config.checkpoint_url import parse_checkpoint_url
from orchestrator.exceptions import ConfigError
from orchestrator.limits import Limits
from orchestrator.text.suggest import close_matches
from orchestrator.types import BUILTIN_TOOL_NAMES, Role, ToolMode, default_tool_mode

__all__ = [
    "BUILTIN_TOOL_NAMES",
    "END",
    "GRAPH_STATE_NAMES",
    "IDENTIFIER",
    "MCP_REF_PREFIX",
    "AgentSpec",
    "Condition",
    "EdgeSpec",
    "GraphSpec",
    "JsonSchema",
    "Limits",
    "McpServerSpec",
    "McpTransport",
    "ModelSpec",
    "PipelineSpec",
    "Price",
    "Provider",
    "Role",
    "ServeSpec",
    "SpecIssue",
    "SpecModel",
    "StepSpec",
    "StrTuple",
    "TelemetrySpec",
    "TemplateText",
    "ToolMode",
    "ToolsSpec",
    "Workflow",
    "agent_defaults",
    "base_dir",
    "check_checkpoint",
    "did_you_mean",
    "infer_provider",
    "module_problem",
    "resolve_path",
]


class CodingAssistantSpec(SpecModel):
    """Settings of the coding_assistant workflow."""

    mode: Literal["workflow", "agent"] = "workflow"
    """workflow (default; for small models): localise from the failing tests, the reasoner
    writes edits, apply, test, loop. agent: the planner drives with native tool calls
    (localise, search, read_file, repo_map, run_tests, delegate to the reasoner, apply_edit)
    within the run's budgets; its default prompt is ``agents/prompts/coding_agent.md``."""
    test_command: str | None = None
    """The command that runs the workspace's tests; default: detected (pytest or unittest
    with the workspace's virtualenv, npm test, go test ./..., cargo test)."""
    context_tokens: int = Field(default=8000, ge=500, le=64000)
    """Budget of the localised context the reasoner sees, in (estimated) tokens."""


class Workflow(StrEnum):
    """Built-in workflows a pipeline file can name instead of writing a graph."""

    CODING_ASSISTANT = "coding_assistant"


class AgentSpec(SpecModel):
    """An agent: a model with a prompt, tools and a tool-calling mode."""

    model: str = Field(validation_alias=AliasChoices("model", "role"))
    """Key of the model in ``models`` (alias ``role``); default: the agent's own name."""
    prompt: str | None = None
    """System prompt text; default: the role's built-in prompt. Filled from prompt_file."""
    prompt_file: str | None = None
    """File holding the system prompt, relative to the pipeline file."""
    tools: StrTuple = ()
    """Tool names (built-in, or ``module:attr`` allow-listed in tools.modules); default:
    every enabled tool for the planner, none for other agents."""
    tool_mode: ToolMode | None = None
    """native or action; default (``orchestrator.types.default_tool_mode``): native for an
    openai model other than the reasoner's, action otherwise."""
    output_schema: JsonSchema | None = None
    """JSON Schema the agent's final result must match (inline or a file path)."""

    @model_validator(mode="before")
    @classmethod
    def _read_prompt_file(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("prompt_file"), str):
            return data
        if data.get("prompt") is not None:
            raise SpecIssue("give prompt or prompt_file, not both", loc=("prompt_file",))
        name = data["prompt_file"]
        try:
            path = resolve_referenced_file(name, info, "prompt file")
        except SpecIssue as issue:
            raise SpecIssue(issue.message, loc=("prompt_file",)) from None
        try:
            text = read_small_file(path)
        except FileNotFoundError:
            raise SpecIssue(
                f"prompt file {name!r} not found (looked for {path})", loc=("prompt_file",)
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecIssue(
                f"cannot read prompt file {name!r}: {exc}", loc=("prompt_file",)
            ) from None
        return {**data, "prompt": text, "prompt_file": str(path)}


def agent_defaults(
    name: str, raw: Any, models: Mapping[str, Any], tools: Any, mcp_servers: Any = None
) -> Any:
    """``raw`` (one agent's mapping from a file) with the defaults for ``name`` filled in.

    The planner's default tools are every enabled tool, those of every MCP server included.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return raw
    agent = dict(raw)
    if "model" not in agent and "role" not in agent and name in models:
        agent["model"] = name
    ref = agent.get("model", agent.get("role"))
    if "tools" not in agent and name == Role.PLANNER:
        servers = list(mcp_servers) if isinstance(mcp_servers, Mapping) else []
        agent["tools"] = [*_enabled_tools(tools), *(MCP_REF_PREFIX + s for s in servers)]
    if "tool_mode" not in agent and isinstance(ref, str) and ref in models:
        model = models[ref]
        if isinstance(model, ModelSpec):
            provider = model.provider
        else:
            provider = infer_provider(model) if isinstance(model, Mapping) else Provider.LOCAL
        mode = default_tool_mode(
            parses_tool_calls=provider is Provider.OPENAI,
            reasoner=ref == Role.REASONER or name == Role.REASONER,
        )
        agent["tool_mode"] = mode.value
    return agent


def _enabled_tools(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, ToolsSpec):
        return raw.enabled
    if raw is None:
        return BUILTIN_TOOL_NAMES
    if not isinstance(raw, Mapping):
        return ()
    builtin = raw.get("builtin", raw.get("allow", BUILTIN_TOOL_NAMES))
    modules = raw.get("modules", ())
    names = [builtin] if isinstance(builtin, str) else builtin
    mods = [modules] if isinstance(modules, str) else modules
    if not isinstance(names, list | tuple) or not isinstance(mods, list | tuple):
        return ()
    return tuple(str(n) for n in names) + tuple(m for m in mods if isinstance(m, str) and ":" in m)


_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]+")
MCP_REF_PREFIX = "mcp:"
"""An agent's ``tools:`` entry ``mcp:NAME`` gives it every tool of MCP server ``NAME``."""


def _mcp_ref_problem(ref: str, servers: Mapping[str, Any]) -> str | None:
    name = ref.removeprefix(MCP_REF_PREFIX)
    if name in servers:
        return None
    return f"{ref!r}: no MCP server named {name!r} in mcp_servers{did_you_mean(name, servers)}"


def check_checkpoint(url: str, info: ValidationInfo) -> str:
    """Validate a checkpointer URL; make a relative SQLite path absolute (``sqlite:////abs``)."""
    try:
        parsed = parse_checkpoint_url(url)
    except ConfigError as exc:
        raise SpecIssue(exc.message) from None
    if parsed.kind != "sqlite" or parsed.path == ":memory:":
        return parsed.url
    return "sqlite:///" + str(resolve_path(str(parsed.path), info))


class PipelineSpec(SpecModel):
    """A whole pipeline file."""

    version: Literal[1] = 1
    """Format version."""
    name: str = "pipeline"
    """Pipeline name (shown in progress and results)."""
    description: str | None = None
    """Free text."""
    workflow: Workflow | None = None
    """A built-in workflow instead of the standard graph: coding_assistant (explore, test,
    edit, re-test in a loop); default: the standard planner/reasoner graph."""
    max_attempts: int = Field(default=3, ge=1)
    """coding_assistant: edit-and-test rounds before giving up."""
    coding_assistant: CodingAssistantSpec = CodingAssistantSpec()
    """coding_assistant: mode, test command and context budget."""
    models: dict[str, ModelSpec]
    """Models by role; ``planner`` (required unless a graph is given) and ``reasoner`` are the
    standard roles, other names are for custom agents."""
    tools: ToolsSpec = ToolsSpec()
    """Tools the pipeline may use."""
    mcp_servers: dict[str, McpServerSpec] = Field(default_factory=dict)
    """MCP servers whose tools the pipeline may call, by name; the planner gets all of their
    (allow-listed) tools, another agent names a server's tools as ``mcp:NAME``."""
    limits: Limits = Limits()
    """Run budgets."""
    checkpoint: str | None = None
    """Checkpointer: memory, sqlite:///path.db (relative to this file) or postgres://...;
    default: the caller's (SQLite file for the CLI, memory for the Python API)."""
    workspace: Path | None = None
    """Directory the file tools are confined to (relative to this file); default: the caller's."""
    agents: dict[str, AgentSpec] = Field(default_factory=dict)
    """Agents by name; ``planner`` and ``reasoner`` exist by default for the standard roles."""
    graph: GraphSpec | None = None
    """A custom graph; default: the standard planner/reasoner graph."""
    telemetry: TelemetrySpec | None = None
    """OpenTelemetry traces of runs (extra ``otel``); default: off, unless the standard
    ``OTEL_EXPORTER_OTLP_*`` variables are set."""

    @model_validator(mode="before")
    @classmethod
    def _standard_agents(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        models, agents = data.get("models"), data.get("agents")
        agents = {} if agents is None else agents
        if not isinstance(models, Mapping) or not isinstance(agents, Mapping):
            return data
        merged = dict(agents)
        for role in Role:
            if role.value in models and role.value not in merged:
                merged[role.value] = {}
        tools = data.get("tools")
        servers = data.get("mcp_servers")
        filled = {
            name: agent_defaults(name, raw, models, tools, servers) for name, raw in merged.items()
        }
        return {**data, "agents": filled}

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, servers: dict[str, McpServerSpec]) -> dict[str, McpServerSpec]:
        for name in servers:
            if not _SERVER_NAME.fullmatch(name):
                raise SpecIssue(
                    f"MCP server name {name!r}: use letters, digits, '_' and '-'",
                    loc=(name,),
                    at_key=True,
                )
        return servers

    @field_validator("checkpoint")
    @classmethod
    def _checkpoint(cls, url: str | None, info: ValidationInfo) -> str | None:
        return None if url is None else check_checkpoint(url, info)

    @field_validator("workspace")
    @classmethod
    def _workspace(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return None if path is None else resolve_path(str(path), info)

    @field_validator("agents")
    @classmethod
    def _agent_refs(
        cls, agents: dict[str, AgentSpec], info: ValidationInfo
    ) -> dict[str, AgentSpec]:
        models, tools = info.data.get("models"), info.data.get("tools")
        for name, agent in agents.items():
            if models is not None and agent.model not in models:
                hint = did_you_mean(agent.model, models)
                raise SpecIssue(
                    f"agent {name!r} uses unknown model {agent.model!r}{hint}",
                    loc=(name, "model"),
                )
            # mcp_servers is missing from info.data when it failed validation itself: that
            # error is reported, not a consequence of it here.
            servers = info.data.get("mcp_servers")
            for i, ref in enumerate(agent.tools):
                problem = (
                    (_mcp_ref_problem(ref, servers) if servers is not None else None)
                    if ref.startswith(MCP_REF_PREFIX)
                    else tools.problem(ref)
                    if isinstance(tools, ToolsSpec)
                    else None
                )
                if problem is not None:
                    raise SpecIssue(problem, loc=(name, "tools", i))
        return agents

    @field_validator("graph")
    @classmethod
    def _step_refs(cls, graph: GraphSpec | None, info: ValidationInfo) -> GraphSpec | None:
        agents, tools = info.data.get("agents"), info.data.get("tools")
        for name, step in graph.steps.items() if graph is not None else ():
            if step.agent is not None and agents is not None and step.agent not in agents:
                hint = did_you_mean(step.agent, agents)
                raise SpecIssue(
                    f"step {name!r} uses unknown agent {step.agent!r}{hint}",
                    loc=("steps", name, "agent"),
                )
            if step.tool is not None and isinstance(tools, ToolsSpec):
                problem = tools.problem(step.tool)
                if problem is not None:
                    raise SpecIssue(problem, loc=("steps", name, "tool"))
        return graph

    @model_validator(mode="after")
    def _planner_needed(self) -> PipelineSpec:
        if self.workflow is not None and self.graph is not None:
            raise SpecIssue("give a workflow or a graph, not both", loc=("workflow",))
        if self.graph is None and Role.PLANNER.value not in self.models:
            message = "models.planner is required for the standard graph"
            close = close_matches(Role.PLANNER.value, self.models)
            if close:
                raise SpecIssue(
                    f"{message} (is {close[0]!r} a misspelling of 'planner'?)",
                    loc=("models", close[0]),
                    at_key=True,
                )
            raise SpecIssue(message, loc=("models",), at_key=True)
        return self

    def model_for(self, agent: str) -> ModelSpec:
        """The model an agent runs on."""
        return self.models[self.agents[agent].model]
