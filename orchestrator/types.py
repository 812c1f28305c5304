"""Small enums and value types shared across the framework (no behaviour here)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "BUILTIN_TOOL_NAMES",
    "DelegateKind",
    "Role",
    "RunStatus",
    "SchemaIssue",
    "ToolMode",
    "default_tool_mode",
    "model_label",
]


BUILTIN_TOOL_NAMES: tuple[str, ...] = (
    "read_file",
    "write_file",
    "list_files",
    "apply_edit",
    "run_python",
    "run_tests",
    "evaluate",
    "simplify",
    "check_equal",
    "search",
    "repo_map",
    "git_diff",
    "localise",
)
"""The built-in tools, by name, in their documented order: the one list (the config checks
names against it without importing the tools; ``tools.base.BUILTIN_TOOLS`` maps each to its
factory)."""


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


def default_tool_mode(*, parses_tool_calls: bool, reasoner: bool) -> ToolMode:
    """The one rule for an agent that does not say: native tool calls for a model served by
    something that parses them, except the reasoner (an R1-style model, whose tool calls are
    not trusted); schema-enforced action mode otherwise (the reasoner, local models)."""
    return ToolMode.NATIVE if parses_tool_calls and not reasoner else ToolMode.ACTION


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


@dataclass(frozen=True)
class SchemaIssue:
    """One validation problem: where (JSON path such as ``$.steps[2]``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def model_label(model: object) -> str:
    """A model's own name, the one it goes by in statistics everywhere: its ``model_name``
    (the GGUF file stem for the embedded model), else its ``model`` (the served name), else
    its class name."""
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
