"""Run the schema layer for an agent and turn its outcome into state updates and events.

Every model call made inside an enforcement is accounted, whether it ends valid, invalid
(``SchemaValidationError``: its replies are counted and emitted) or failed (a model error:
the replies before it, and the failed call, are kept for the run's result).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from agents.agent import Agent
from agents.calls import emit_model_calls, keep_failed_call
from orchestrator import telemetry
from orchestrator.events import EnforcementAttempt, emit
from orchestrator.exceptions import SchemaValidationError
from orchestrator.schema import EnforcementStats, EnforceOutcome, aenforce
from orchestrator.usage import Usage, noted_replies, usage_table

__all__ = ["EnforcedCall", "enforce_role"]


@dataclass
class EnforcedCall:
    """Outcome of one enforced call: the value (or the error), replies, usage and stats."""

    role: str
    value: Any = None
    error: SchemaValidationError | None = None
    reply: AIMessage | None = None
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    enforcement: dict[str, dict[str, int]] = field(default_factory=dict)

    def update(self) -> dict[str, Any]:
        """The state update for what this call cost: steps, usage, enforcement counts."""
        return {
            "steps": max(self.attempts, 1),
            "usage": usage_table(self.role, self.usage),
            "enforcement": self.enforcement,
        }


async def enforce_role(
    agent: Agent,
    messages: list[BaseMessage],
    schema: dict[str, Any],
    *,
    schema_name: str,
    max_retries: int,
    first_reply: BaseMessage | None = None,
    model: BaseChatModel | None = None,
) -> EnforcedCall:
    """``aenforce`` for ``agent``; never raises ``SchemaValidationError`` (it is returned).

    ``first_reply`` is a reply already received (and already accounted) to check first;
    ``model`` replaces the agent's model (e.g. one with tools bound).

    Raises:
        ModelError: a model call failed; the calls made before it are kept on the exception
            (``orchestrator.graph.state.keep_partial``) and their events emitted.
    """
    stats = EnforcementStats()
    out = EnforcedCall(role=agent.name)
    start = time.perf_counter()
    try:
        with telemetry.role(agent.name):
            res = await aenforce(
                model or agent.model,
                messages,
                schema,
                max_retries=max_retries,
                stats=stats,
                schema_name=schema_name,
                model_name=agent.model_name,
                first_reply=first_reply,
            )
    except SchemaValidationError as err:
        elapsed = time.perf_counter() - start
        replies = [r for r in err.replies if r is not first_reply]
        emit_model_calls(agent.name, replies, elapsed)
        out.error = err
        out.attempts = err.attempts
        out.usage = Usage.of_all(replies, latency_s=elapsed)
        outcome = EnforceOutcome.FAILED.value
    except Exception as exc:
        replies = [r for r in noted_replies(exc) if r is not first_reply]
        keep_failed_call(exc, agent.name, replies, time.perf_counter() - start)
        raise
    else:
        elapsed = time.perf_counter() - start
        out.value = res.value
        out.attempts = res.attempts
        replies = [m for m in res.messages if m is not first_reply]
        last = res.messages[-1] if res.messages else None
        out.reply = last if isinstance(last, AIMessage) else None
        emit_model_calls(agent.name, replies, elapsed)
        out.usage = Usage.of_all(replies, latency_s=elapsed)
        outcome = str(res.outcome)
    out.enforcement = stats.as_dict()
    emit(
        EnforcementAttempt(
            role=agent.name,
            schema_name=schema_name,
            attempts=out.attempts,
            outcome=outcome,
            rejections=tuple(
                {"attempt": r.attempt, "errors": list(r.errors), "reask": r.reask}
                for r in stats.rejections
            ),
        )
    )
    return out
