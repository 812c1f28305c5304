"""Run limits and the pure check that says which one, if any, has been hit."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.usage import Price, UsageTable, cost_of, total_tokens

__all__ = ["Limits", "exceeded_limit"]


class Limits(BaseModel):
    """Budgets for one run. ``None`` means unlimited.

    Example:
        >>> Limits(max_steps=10, max_cost_usd=0.05)
        Limits(max_steps=10, max_total_tokens=None, ...)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_steps: int = Field(default=25, ge=1, description="model turns (planner + reasoner)")
    max_total_tokens: int | None = Field(default=None, ge=1)
    max_wall_time_s: float | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_invalid_tool_calls: int = Field(
        default=3, ge=1, description="consecutive invalid planner turns before the run fails"
    )
    max_reasoner_tool_steps: int = Field(
        default=6, ge=1, description="tool turns the reasoner may take inside one delegate call"
    )
    max_tool_calls_per_turn: int = Field(
        default=32, ge=1, description="tool calls run from one planner turn; more are dropped"
    )
    max_tool_argument_chars: int = Field(
        default=1_000_000,
        ge=1,
        description="largest tool-call arguments (JSON characters); larger calls are invalid",
    )


def exceeded_limit(
    *,
    limits: Limits,
    steps: int,
    usage: UsageTable,
    prices: Mapping[str, Price],
    elapsed_s: float,
) -> str | None:
    """The description of the first limit reached, or ``None`` while within budget."""
    if steps >= limits.max_steps:
        return f"max_steps reached ({steps}/{limits.max_steps})"
    if limits.max_total_tokens is not None:
        used = total_tokens(usage)
        if used >= limits.max_total_tokens:
            return f"max_total_tokens reached ({used}/{limits.max_total_tokens})"
    if limits.max_wall_time_s is not None and elapsed_s >= limits.max_wall_time_s:
        return f"max_wall_time_s reached ({elapsed_s:.1f}s/{limits.max_wall_time_s}s)"
    if limits.max_cost_usd is not None:
        cost = cost_of(usage, prices)
        if cost >= limits.max_cost_usd:
            return f"max_cost_usd reached ({cost:.4f}/{limits.max_cost_usd})"
    return None
