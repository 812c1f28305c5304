"""Token, latency and cost accounting per role.

Usage lives in the run state as plain dicts (``{"planner": {"prompt_tokens": ..., ...}}``) so
checkpoints stay JSON-friendly; :class:`RoleUsage` is the typed view in a ``RunResult``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Price",
    "RoleUsage",
    "UsageTable",
    "cost_of",
    "merge_usage",
    "total_tokens",
    "usage_entry",
]

UsageTable = dict[str, dict[str, float]]

_FIELDS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "calls", "latency_s")


class Price(BaseModel):
    """Price of a model in currency units (USD by convention) per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: float = Field(default=0.0, ge=0)
    output_per_million: float = Field(default=0.0, ge=0)


class RoleUsage(BaseModel):
    """What one role consumed during a run."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    calls: int = 0
    latency_s: float = 0.0
    estimated_calls: int = 0
    """Calls whose token counts were (partly) estimated client-side: the server reported
    none (a llama.cpp stream) or counted 0 reasoning tokens for reasoning it returned."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_entry(
    messages: BaseMessage | list[BaseMessage], latency_s: float = 0.0
) -> dict[str, float]:
    """Usage of one or more model replies, from their ``usage_metadata``.

    Reasoning tokens come from ``output_token_details.reasoning`` when the server reports them.
    Replies whose usage the client estimated (``response_metadata["usage_estimated"]``) are
    counted in ``estimated_calls`` (the key is present only when there are some).
    ``latency_s`` is the wall time the caller measured around the calls; when 0, the replies'
    ``response_metadata["latency_s"]`` are summed instead.
    """
    items = messages if isinstance(messages, list) else [messages]
    out = dict.fromkeys(_FIELDS, 0.0)
    for msg in items:
        meta: Mapping[str, Any] = getattr(msg, "usage_metadata", None) or {}
        out["prompt_tokens"] += float(meta.get("input_tokens", 0) or 0)
        out["completion_tokens"] += float(meta.get("output_tokens", 0) or 0)
        details = meta.get("output_token_details") or {}
        out["reasoning_tokens"] += float(details.get("reasoning", 0) or 0)
        out["calls"] += 1
        if msg.response_metadata.get("usage_estimated"):
            out["estimated_calls"] = out.get("estimated_calls", 0.0) + 1
        if not latency_s:
            out["latency_s"] += float(msg.response_metadata.get("latency_s", 0.0) or 0.0)
    if latency_s:
        out["latency_s"] = latency_s
    return out


def merge_usage(left: UsageTable | None, right: UsageTable | None) -> UsageTable:
    """LangGraph reducer: add usage tables role by role, field by field."""
    merged: UsageTable = {role: dict(v) for role, v in (left or {}).items()}
    for role, fields in (right or {}).items():
        slot = merged.setdefault(role, dict.fromkeys(_FIELDS, 0.0))
        for key, value in fields.items():
            slot[key] = slot.get(key, 0.0) + value
    return merged


def total_tokens(usage: UsageTable) -> int:
    """Prompt plus completion tokens over all roles."""
    return int(
        sum(v.get("prompt_tokens", 0) + v.get("completion_tokens", 0) for v in usage.values())
    )


def cost_of(usage: UsageTable, prices: Mapping[str, Price]) -> float:
    """Cost estimate of a usage table with per-role prices (roles without a price cost 0)."""
    cost = 0.0
    for role, fields in usage.items():
        price = prices.get(role)
        if price is None:
            continue
        cost += fields.get("prompt_tokens", 0) * price.input_per_million / 1e6
        cost += fields.get("completion_tokens", 0) * price.output_per_million / 1e6
    return cost
