"""Run the schema layer for a role and turn its outcome into state updates and events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from agents.calls import emit_model_calls
from orchestrator import telemetry
from orchestrator.events import EnforcementAttempt, emit
from orchestrator.exceptions import SchemaValidationError
from orchestrator.schema import EnforcementStats, aenforce
from orchestrator.usage import UsageTable, merge_usage, usage_entry

__all__ = ["EnforcedCall", "enforce_role"]


@dataclass
class EnforcedCall:
    """Outcome of one enforced call: the value (or the error), replies, usage and stats."""

    value: Any = None
    error: SchemaValidationError | None = None
    reply: AIMessage | None = None
    attempts: int = 0
    usage: UsageTable = field(default_factory=dict)
    enforcement: dict[str, dict[str, int]] = field(default_factory=dict)


async def enforce_role(
    model: BaseChatModel,
    messages: list[BaseMessage],
    schema: dict[str, Any],
    *,
    role: str,
    schema_name: str,
    model_name: str,
    max_retries: int,
) -> EnforcedCall:
    """``aenforce`` for a role; never raises ``SchemaValidationError`` (it is returned)."""
    stats = EnforcementStats()
    out = EnforcedCall()
    start = time.perf_counter()
    try:
        with telemetry.role(role):
            res = await aenforce(
                model,
                messages,
                schema,
                max_retries=max_retries,
                stats=stats,
                schema_name=schema_name,
                model_name=model_name,
            )
    except SchemaValidationError as err:
        out.error = err
        out.attempts = err.attempts
        entry = {
            "prompt_tokens": float(err.usage.get("input_tokens", 0)),
            "completion_tokens": float(err.usage.get("output_tokens", 0)),
            "reasoning_tokens": float(err.usage.get("reasoning_tokens", 0)),
            "calls": float(err.attempts),
            "latency_s": time.perf_counter() - start,
        }
        out.usage = {role: entry}
        outcome = "failed"
    else:
        out.value = res.value
        out.attempts = res.attempts
        replies = [m for m in res.messages if isinstance(m, AIMessage)]
        out.reply = replies[-1] if replies else None
        elapsed = time.perf_counter() - start
        emit_model_calls(role, replies, elapsed)
        table: UsageTable = {}
        for reply in replies:
            table = merge_usage(table, {role: usage_entry(reply)})
        if table and not table[role].get("latency_s"):
            table[role]["latency_s"] = elapsed
        out.usage = table
        outcome = str(res.outcome)
    out.enforcement = stats.as_dict()
    emit(
        EnforcementAttempt(
            role=role,
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
