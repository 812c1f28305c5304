"""Typed run events: what ``Pipeline.stream()`` yields and the CLI renders as live progress.

Nodes emit events through LangGraph's custom stream writer (``get_stream_writer``), so a
compiled Bicameral graph streams them with ``stream_mode="custom"`` like any LangGraph graph.
Every event is a small frozen dataclass with a ``kind``; ``to_dict()`` gives a JSON-friendly form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from langgraph.config import get_stream_writer

if TYPE_CHECKING:
    from orchestrator.result import RunResult

__all__ = [
    "EnforcementAttempt",
    "Event",
    "EventKind",
    "FinalEvent",
    "InterruptEvent",
    "ModelCallEvent",
    "NodeEnd",
    "NodeStart",
    "TokenEvent",
    "ToolCallEvent",
    "emit",
]


class EventKind(StrEnum):
    NODE_START = "node_start"
    NODE_END = "node_end"
    MODEL_CALL = "model_call"
    TOOL_CALL = "tool_call"
    ENFORCEMENT = "enforcement"
    TOKEN = "token"
    INTERRUPT = "interrupt"
    FINAL = "final"


@dataclass(frozen=True)
class Event:
    """Base class of run events."""

    kind: ClassVar[EventKind]

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"kind": self.kind.value, **data}


@dataclass(frozen=True)
class NodeStart(Event):
    kind: ClassVar[EventKind] = EventKind.NODE_START
    node: str
    step: int = 0


@dataclass(frozen=True)
class NodeEnd(Event):
    kind: ClassVar[EventKind] = EventKind.NODE_END
    node: str
    duration_s: float = 0.0


@dataclass(frozen=True)
class ModelCallEvent(Event):
    """One model call: tokens and latency, per role; ``error`` says why a call that got no
    reply failed (``"ModelConnectionError: ..."``), and is empty for a reply."""

    kind: ClassVar[EventKind] = EventKind.MODEL_CALL
    role: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class ToolCallEvent(Event):
    kind: ClassVar[EventKind] = EventKind.TOOL_CALL
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    ok: bool = True
    summary: str = ""


@dataclass(frozen=True)
class EnforcementAttempt(Event):
    """The schema layer's verdict on one role's output.

    ``rejections`` holds each re-asked reply: ``{"attempt", "errors", "reask"}``.
    """

    kind: ClassVar[EventKind] = EventKind.ENFORCEMENT
    role: str
    schema_name: str
    attempts: int
    outcome: str
    rejections: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class TokenEvent(Event):
    """Streamed text from a model; ``reasoning`` marks thinking text."""

    kind: ClassVar[EventKind] = EventKind.TOKEN
    role: str
    text: str
    reasoning: bool = False


@dataclass(frozen=True)
class InterruptEvent(Event):
    """The run paused for human approval of a tool call."""

    kind: ClassVar[EventKind] = EventKind.INTERRUPT
    request: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FinalEvent(Event):
    kind: ClassVar[EventKind] = EventKind.FINAL
    result: RunResult

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "result": self.result.model_dump(mode="json")}


def emit(event: Event) -> None:
    """Send an event to whoever streams the graph (a no-op when nobody does)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run
        return
    writer(event)
