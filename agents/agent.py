"""The :class:`Agent` value and the context that holds a run's agents by name.

An agent is everything one model needs to act in a workflow: the model, the name it goes by
in statistics, its system prompt, its tools and how it calls them, its price and the schema
its final result must match. :func:`make_agent` is the one factory (the loader builds every
agent of a pipeline file with it; Python code may too, or build an ``Agent`` by hand), and
the one place where defaults are decided.

Example:
    >>> from orchestrator.models.testing import FakeChatModel
    >>> agent = make_agent("planner", FakeChatModel(responses=["hi"]))
    >>> agent.model_name, agent.tool_mode.value
    ('fake', 'native')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from agents.prompts import load_prompt
from orchestrator.exceptions import ConfigError
from orchestrator.limits import Limits
from orchestrator.types import Role, ToolMode, default_tool_mode, model_label
from orchestrator.usage import Price
from tools.base import Toolset

__all__ = ["Agent", "AgentContext", "make_agent", "tool_mode_for"]


@dataclass(frozen=True)
class Agent:
    """One model ready to act: model, statistics name, prompt, tools, tool mode, price, schema.

    Attributes:
        name: the agent's name; usage and cost are accounted under it (``planner``,
            ``reasoner`` or a custom graph's agent name).
        model: any langchain-core chat model.
        model_name: the model's name in enforcement statistics (``model::schema``).
        prompt: the system prompt.
        toolset: the tools it may call.
        tool_mode: ``native`` (the server parses tool calls) or ``action`` (schema-enforced
            JSON actions).
        price: for the cost estimate and ``max_cost_usd``.
        output_schema: JSON Schema its final result must match (custom graphs).
    """

    name: str
    model: BaseChatModel
    model_name: str
    prompt: str
    toolset: Toolset = field(default_factory=Toolset)
    tool_mode: ToolMode = ToolMode.ACTION
    price: Price = field(default_factory=Price)
    output_schema: dict[str, Any] | None = None


def tool_mode_for(model: BaseChatModel, *, reasoner: bool) -> ToolMode:
    """The default tool mode of ``model`` (see :func:`orchestrator.types.default_tool_mode`).

    A model class may declare ``default_tool_mode`` (the embedded model says ``action``: it
    has no server-side tool-call parser).
    """
    declared = getattr(model, "default_tool_mode", None)
    parses = declared is None or ToolMode(declared) is ToolMode.NATIVE
    return default_tool_mode(parses_tool_calls=parses, reasoner=reasoner)


def make_agent(
    name: str,
    model: BaseChatModel,
    *,
    prompt: str | None = None,
    tools: Toolset | Sequence[BaseTool] = (),
    tool_mode: ToolMode | str | None = None,
    price: Price | None = None,
    model_name: str | None = None,
    output_schema: dict[str, Any] | None = None,
    reasoner: bool | None = None,
) -> Agent:
    """Build an :class:`Agent`, deciding every default in one place.

    Args:
        name: the agent's name (``planner``, ``reasoner``, or a graph agent's name).
        model: the chat model.
        prompt: system prompt; default: the reasoner's built-in prompt for a reasoner, the
            planner's otherwise.
        tools: LangChain tools or a ready ``Toolset``.
        tool_mode: default: :func:`tool_mode_for`.
        price: default: free.
        model_name: default: the model's own name (:func:`~orchestrator.types.model_label`).
        output_schema: JSON Schema of the final result, if any.
        reasoner: whether the agent plays the reasoner (default: ``name == "reasoner"``).
    """
    is_reasoner = name == Role.REASONER if reasoner is None else reasoner
    return Agent(
        name=name,
        model=model,
        model_name=model_name or model_label(model),
        prompt=prompt or load_prompt("reasoner" if is_reasoner else "planner"),
        toolset=tools if isinstance(tools, Toolset) else Toolset(tools),
        tool_mode=ToolMode(tool_mode) if tool_mode else tool_mode_for(model, reasoner=is_reasoner),
        price=price or Price(),
        output_schema=output_schema,
    )


@dataclass(frozen=True)
class AgentContext:
    """What every node of a workflow uses: the agents by name, limits, retry budget.

    ``agents`` holds at least ``planner``; ``reasoner`` when there is one; custom graphs add
    their own agents by name. Prices come from the agents.
    """

    agents: Mapping[str, Agent]
    limits: Limits = field(default_factory=Limits)
    max_enforce_retries: int = 2
    prices: Mapping[str, Price] = field(init=False)

    def __post_init__(self) -> None:
        if Role.PLANNER not in self.agents:
            raise ConfigError("a pipeline needs a planner agent")
        for key, agent in self.agents.items():
            if key != agent.name:
                raise ConfigError(f"agent {agent.name!r} is registered as {key!r}")
        object.__setattr__(self, "prices", {n: a.price for n, a in self.agents.items()})

    def retries_within(self, steps: int) -> int:
        """Re-asks one enforced call may spend so that the run stays within ``max_steps``
        (``steps`` taken so far)."""
        return max(0, min(self.max_enforce_retries, self.limits.max_steps - steps - 1))

    @property
    def planner(self) -> Agent:
        """The planner agent."""
        return self.agents[Role.PLANNER]

    @property
    def reasoner(self) -> Agent | None:
        """The reasoner agent, if the pipeline has one."""
        return self.agents.get(Role.REASONER)
