"""Small enums and value types shared across the framework (no behaviour here)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DelegateKind", "Role", "RunStatus", "ToolMode"]


class Role(StrEnum):
    """Which model a call belongs to; usage and cost are accounted per role."""

    PLANNER = "planner"
    REASONER = "reasoner"


class ToolMode(StrEnum):
    """How a role calls tools.

    ``native``: the server parses tool calls (OpenAI ``tools``/``tool_calls``).
    ``action``: the model answers with one JSON object from a union schema
    (``{"action": <tool>, "arguments": {...}}`` or ``{"action": "final", ...}``), enforced by
    the schema layer; for models whose native tool calling can't be trusted.
    """

    NATIVE = "native"
    ACTION = "action"


class RunStatus(StrEnum):
    """How a run ended (``running`` only inside the graph)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    BUDGET_EXHAUSTED = "budget_exhausted"
    INTERRUPTED = "interrupted"
    TRUNCATED = "truncated"
    """The final answer was cut off by the token limit (``finish_reason: "length"``)."""


class DelegateKind(StrEnum):
    """What the planner hands to the reasoner."""

    MATH = "math"
    CODE = "code"
