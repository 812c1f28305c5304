"""Token, latency and cost accounting: one :class:`Usage` value, added up per role.

A :class:`Usage` is built from a LangChain message (:meth:`Usage.of`) and added with ``+``.
The run state keeps a table of role name -> ``Usage.as_entry()`` (plain numbers, so
checkpoints stay JSON-friendly); ``RunResult.usage`` holds the ``Usage`` values again.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> reply = AIMessage("4", usage_metadata={
    ...     "input_tokens": 9, "output_tokens": 2, "total_tokens": 11})
    >>> total = Usage.of(reply) + Usage.of(reply)
    >>> total.prompt_tokens, total.calls
    (18, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Price",
    "RoleUsage",
    "Usage",
    "UsageTable",
    "cost_of",
    "merge_usage",
    "note_replies",
    "noted_replies",
    "total_tokens",
    "usage_table",
]

UsageTable = dict[str, dict[str, float]]
"""Role name -> :meth:`Usage.as_entry` (the run state's form)."""


class Price(BaseModel):
    """Price of a model in currency units (USD by convention) per million tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: float = Field(default=0.0, ge=0)
    output_per_million: float = Field(default=0.0, ge=0)


class Usage(BaseModel):
    """What one or more model calls consumed. Values add with ``+``.

    Attributes:
        prompt_tokens: input tokens.
        completion_tokens: output tokens (reasoning included, as servers count them).
        reasoning_tokens: the part of the output that was reasoning, when reported.
        calls: model calls.
        latency_s: wall time of the calls.
        estimated_calls: calls whose token counts were (partly) estimated client-side: the
            server reported none (a llama.cpp stream) or 0 reasoning tokens for reasoning it
            returned (``response_metadata["usage_estimated"]``).
    """

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    calls: int = 0
    latency_s: float = 0.0
    estimated_calls: int = 0

    @classmethod
    def of(cls, message: BaseMessage, *, latency_s: float | None = None) -> Usage:
        """One call's usage, from a reply's ``usage_metadata`` (LangChain's standard field).

        ``latency_s`` is the time the caller measured; by default the reply's
        ``response_metadata["latency_s"]`` (set by Bicameral's clients), else 0.
        """
        meta: Mapping[str, Any] = getattr(message, "usage_metadata", None) or {}
        details = meta.get("output_token_details") or {}
        if latency_s is None:
            latency_s = float(message.response_metadata.get("latency_s", 0.0) or 0.0)
        return cls(
            prompt_tokens=int(meta.get("input_tokens", 0) or 0),
            completion_tokens=int(meta.get("output_tokens", 0) or 0),
            reasoning_tokens=int(details.get("reasoning", 0) or 0),
            calls=1,
            latency_s=latency_s,
            estimated_calls=1 if message.response_metadata.get("usage_estimated") else 0,
        )

    @classmethod
    def of_all(cls, messages: Iterable[BaseMessage], *, latency_s: float | None = None) -> Usage:
        """The sum over several replies; ``latency_s``, when given, replaces their latencies."""
        total = sum((cls.of(m) for m in messages), cls())
        if latency_s is not None and latency_s > 0:
            total = total.model_copy(update={"latency_s": latency_s})
        return total

    @classmethod
    def from_entry(cls, entry: Mapping[str, float]) -> Usage:
        """A usage from its state-table form."""
        return cls(
            prompt_tokens=int(entry.get("prompt_tokens", 0)),
            completion_tokens=int(entry.get("completion_tokens", 0)),
            reasoning_tokens=int(entry.get("reasoning_tokens", 0)),
            calls=int(entry.get("calls", 0)),
            latency_s=float(entry.get("latency_s", 0.0)),
            estimated_calls=int(entry.get("estimated_calls", 0)),
        )

    def as_entry(self) -> dict[str, float]:
        """The state-table form: plain numbers by field name (``estimated_calls`` only
        when there are some)."""
        entry = {
            "prompt_tokens": float(self.prompt_tokens),
            "completion_tokens": float(self.completion_tokens),
            "reasoning_tokens": float(self.reasoning_tokens),
            "calls": float(self.calls),
            "latency_s": self.latency_s,
        }
        if self.estimated_calls:
            entry["estimated_calls"] = float(self.estimated_calls)
        return entry

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            calls=self.calls + other.calls,
            latency_s=self.latency_s + other.latency_s,
            estimated_calls=self.estimated_calls + other.estimated_calls,
        )

    def __bool__(self) -> bool:
        return self.calls > 0 or self.prompt_tokens > 0 or self.completion_tokens > 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def cost(self, price: Price) -> float:
        """Cost estimate at ``price``."""
        return (
            self.prompt_tokens * price.input_per_million
            + self.completion_tokens * price.output_per_million
        ) / 1e6


RoleUsage = Usage
"""What one role consumed during a run (the name ``RunResult.usage`` documents)."""


def usage_table(role: str, usage: Usage) -> UsageTable:
    """A state update's ``usage`` for one role (empty when nothing was used)."""
    return {role: usage.as_entry()} if usage else {}


def merge_usage(left: UsageTable | None, right: UsageTable | None) -> UsageTable:
    """LangGraph reducer: add usage tables role by role, field by field."""
    merged: UsageTable = {role: dict(v) for role, v in (left or {}).items()}
    for role, fields in (right or {}).items():
        slot = merged.setdefault(role, {})
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
        if price is not None:
            cost += fields.get("prompt_tokens", 0) * price.input_per_million / 1e6
            cost += fields.get("completion_tokens", 0) * price.output_per_million / 1e6
    return cost


_REPLIES_ATTR = "bicameral_replies"


def note_replies(exc: BaseException, replies: Iterable[BaseMessage]) -> None:
    """Attach to ``exc`` the replies received before it was raised, so that whoever catches
    it can still account for them (a model call that fails after earlier ones succeeded)."""
    setattr(exc, _REPLIES_ATTR, [*noted_replies(exc), *replies])


def noted_replies(exc: BaseException) -> list[BaseMessage]:
    """The replies :func:`note_replies` attached to ``exc`` (``[]`` when none)."""
    found = getattr(exc, _REPLIES_ATTR, None)
    return list(found) if isinstance(found, list) else []
