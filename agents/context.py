"""What the node functions need: models, tools, prompts, limits. Built once per pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel

from orchestrator.limits import Limits
from orchestrator.types import Role, ToolMode
from orchestrator.usage import Price
from tools.base import Toolset

__all__ = ["AgentContext", "default_tool_mode"]


def default_tool_mode(model: BaseChatModel, role: Role) -> ToolMode:
    """Native tool calls for a planner on a server that parses them; action mode otherwise.

    The reasoner (an R1-style model) and small local models get the schema-enforced action
    mode. A model may declare ``default_tool_mode`` to override the guess.
    """
    declared = getattr(model, "default_tool_mode", None)
    if declared is not None:
        return ToolMode(declared)
    if role is Role.REASONER:
        return ToolMode.ACTION
    return ToolMode.NATIVE


@dataclass(frozen=True)
class AgentContext:
    """Everything the plan, reason, act and finish nodes use, passed in (no globals)."""

    planner: BaseChatModel
    reasoner: BaseChatModel | None
    planner_tools: Toolset
    reasoner_tools: Toolset
    planner_mode: ToolMode
    reasoner_mode: ToolMode
    planner_prompt: str
    reasoner_prompt: str
    limits: Limits = field(default_factory=Limits)
    prices: Mapping[str, Price] = field(default_factory=dict)
    max_enforce_retries: int = 2
    model_names: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def model_name(self, role: Role) -> str:
        """A stable name for stats (``model_name`` attribute, else the class name)."""
        if role.value in self.model_names:
            return self.model_names[role.value]
        model = self.planner if role is Role.PLANNER else self.reasoner
        for attr in ("model_name", "model"):
            value = getattr(model, attr, None)
            if isinstance(value, str) and value:
                return value
        return type(model).__name__
