"""What a run's LangGraph stream means to Bicameral: the stream modes a run asks for, each
chunk as Bicameral events, and how the run ended (status, error, the state to report).

``Pipeline`` drives the stream (checkpointer, run resources, wall-time budget); this module
reads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.types import StreamMode

from orchestrator.events import Event, FinalEvent, InterruptEvent, TokenEvent
from orchestrator.exceptions import BudgetExhaustedError
from orchestrator.graph.state import with_partial_work
from orchestrator.result import ErrorInfo, RunResult
from orchestrator.types import Role, RunStatus

__all__ = ["RunOutcome", "final_result", "stream_modes"]


def stream_modes(*, tokens: bool, events: bool) -> list[StreamMode]:
    """The stream modes for a run.

    "updates" carries interrupts. Node events ("custom") cost a cross-thread wake-up of the
    loop each (LangGraph's custom writer uses ``call_soon_threadsafe``), about a quarter of a
    fast run's orchestration, so callers that drop them ask for none. "values" hands over the
    state after each step, so a clean run needs no checkpoint read (and deserialisation) at
    the end. "messages" streams tokens.
    """
    modes: list[StreamMode] = ["custom", "updates", "values"] if events else ["updates", "values"]
    if tokens:
        modes.append("messages")
    return modes


class RunOutcome:
    """How a run's stream went: the last state it handed over, a pending approval, and the
    error that ended it."""

    def __init__(self) -> None:
        self.values: dict[str, Any] | None = None
        self.pending: dict[str, Any] | None = None
        self.error: ErrorInfo | None = None
        self._status: RunStatus | None = None
        self._failure: BaseException | None = None

    def take(self, mode: str, chunk: Any) -> list[Event]:
        """One ``(mode, chunk)`` of the stream -> the events it means (the state is kept)."""
        if mode == "values":
            self.values = chunk
        elif mode == "custom" and isinstance(chunk, Event):
            return [chunk]
        elif mode == "messages":
            return _token_events(chunk)
        elif mode == "updates" and "__interrupt__" in chunk:
            interrupts = chunk["__interrupt__"]
            self.pending = dict(interrupts[0].value) if interrupts else {}
            return [InterruptEvent(request=self.pending)]
        return []

    def ended_by(self, exc: Exception) -> None:
        """The run stopped on ``exc``: a budget, or a failure (the checkpoint stays
        resumable)."""
        if isinstance(exc, GraphRecursionError):
            limit = BudgetExhaustedError(str(exc).splitlines()[0], limit="recursion_limit")
            self._status, self.error = RunStatus.BUDGET_EXHAUSTED, ErrorInfo.of(limit)
        elif isinstance(exc, BudgetExhaustedError):
            self._status, self.error = RunStatus.BUDGET_EXHAUSTED, ErrorInfo.of(exc)
            self._failure = exc
        else:
            self._status, self.error, self._failure = RunStatus.FAILED, ErrorInfo.of(exc), exc

    async def final_values(self, app: Any, config: RunnableConfig) -> dict[str, Any]:
        """The state to report: the last one streamed, or the checkpoint's after an error,
        with what a failing node did before it failed (calls made, tools run)."""
        values = self.values
        if values is None or self.error is not None:
            values = (await app.aget_state(config)).values
        if self._failure is not None:
            values = with_partial_work(values, self._failure)
        return values

    @property
    def status(self) -> RunStatus | None:
        """How the run ended; ``None``: as its state says (completed or failed)."""
        if self.pending is not None and self._status is None:
            return RunStatus.INTERRUPTED
        return self._status


async def final_result(events: AsyncIterator[Event]) -> RunResult:
    """The result a run's events end with."""
    result: RunResult | None = None
    async for event in events:
        if isinstance(event, FinalEvent):
            result = event.result
    assert result is not None  # a run always ends with a FinalEvent
    return result


def _token_events(chunk: Any) -> list[Event]:
    message, meta = chunk
    if not isinstance(message, AIMessageChunk):
        return []
    node = str((meta or {}).get("langgraph_node", ""))
    role = Role.REASONER.value if node == "reason" else Role.PLANNER.value
    out: list[Event] = []
    reasoning = message.additional_kwargs.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        out.append(TokenEvent(role=role, text=reasoning, reasoning=True))
    if isinstance(message.content, str) and message.content:
        out.append(TokenEvent(role=role, text=message.content))
    return out
