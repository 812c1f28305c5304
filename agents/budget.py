"""The budget check every model-calling node makes before it calls a model."""

from __future__ import annotations

from typing import Any

from agents.agent import AgentContext
from orchestrator.exceptions import BudgetExhaustedError
from orchestrator.graph.state import RunState
from orchestrator.limits import exceeded_limit
from orchestrator.result import error_entry
from orchestrator.types import RunStatus

__all__ = ["budget_stop", "stopped"]


def stopped(exc: BudgetExhaustedError) -> dict[str, Any]:
    """The state update that ends the run ``budget_exhausted`` because of ``exc``."""
    return {"status": RunStatus.BUDGET_EXHAUSTED.value, "error": error_entry(exc)}


def budget_stop(ctx: AgentContext, state: RunState, now: float) -> dict[str, Any] | None:
    """The state update that ends the run ``budget_exhausted``, or ``None`` within budget."""
    over = exceeded_limit(
        limits=ctx.limits,
        steps=int(state.get("steps", 0)),
        usage=state.get("usage") or {},
        prices=ctx.prices,
        elapsed_s=now - float(state.get("started_at") or now),
    )
    if over is None:
        return None
    return stopped(BudgetExhaustedError(over, limit=over.split(" ", 1)[0]))
