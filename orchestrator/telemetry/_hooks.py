"""The hooks the run calls. Each is a no-op (one context-variable read) when tracing is off.

The active ``Tracing`` lives in a context variable that ``run`` sets for the run's duration;
LangGraph runs nodes in tasks that copy the context, so every node, model call and tool call
of the run (and only of that run) sees it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.telemetry._spans import ActiveTracing, AttemptSpan, RunSpan, _Current
    from orchestrator.telemetry.settings import Tracing

__all__ = [
    "attempt_rejected",
    "enforcement_attempt",
    "model_call",
    "model_call_failed",
    "node",
    "role",
    "run",
    "tool_call",
]

_ACTIVE: ContextVar[ActiveTracing | None] = ContextVar("bicameral_tracing", default=None)
_ROLE: ContextVar[str | None] = ContextVar("bicameral_tracing_role", default=None)
_NULL: AbstractContextManager[None] = nullcontext()


class _NullRun:
    """What ``run`` yields when tracing is off."""

    def finish(self, result: Any) -> None:
        """Nothing to record."""


class _NullAttempt:
    def replied(self, reply: Any) -> None:
        """Nothing to record."""

    def call_failed(self, error: BaseException) -> None:
        """Nothing to record."""


_NULL_RUN = _NullRun()
_NULL_ATTEMPT = _NullAttempt()


@contextmanager
def run(
    tracing: Tracing | None, *, pipeline: str, thread_id: str, task: str | None
) -> Iterator[RunSpan | _NullRun]:
    """The run's span (``invoke_workflow``); yields an object whose ``finish(result)`` records
    status, usage and cost."""
    if tracing is None:
        yield _NULL_RUN
        return
    from orchestrator.telemetry._spans import ActiveTracing

    active = ActiveTracing(tracing)
    token = _ACTIVE.set(active)
    try:
        with active.run_span(pipeline=pipeline, thread_id=thread_id, task=task) as span:
            yield span
    finally:
        _reset(token)


def _reset(token: Any) -> None:
    try:
        _ACTIVE.reset(token)
    except ValueError:  # an async generator closed from another context
        _ACTIVE.set(None)


def node(name: str, step: int) -> AbstractContextManager[Any] | _Current:
    """A node's span, current while the node runs."""
    active = _ACTIVE.get()
    return _NULL if active is None else active.node_span(name, step)


def role(name: str) -> AbstractContextManager[Any]:
    """Mark model calls inside the block (enforced ones) as made for role ``name``."""
    if _ACTIVE.get() is None:
        return _NULL
    return _RoleScope(name)


class _RoleScope:
    __slots__ = ("name", "token")

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.token = _ROLE.set(self.name)

    def __exit__(self, *exc: object) -> None:
        _ROLE.reset(self.token)


def model_call(
    role: str | None, reply: Any, latency_s: float, messages: Sequence[Any] = ()
) -> None:
    """A ``chat`` span for a reply that took ``latency_s`` (recorded after the fact)."""
    active = _ACTIVE.get()
    if active is not None:
        active.chat_span(role or _ROLE.get() or "", reply, latency_s, messages)


def model_call_failed(role: str, error: BaseException, latency_s: float) -> None:
    """A ``chat`` span, marked as an error, for a call that raised after ``latency_s``."""
    active = _ACTIVE.get()
    if active is not None:
        active.chat_span(role, None, latency_s, error=error)


def tool_call(
    name: str,
    arguments: dict[str, Any],
    ok: bool,
    result: str,
    duration_s: float,
    *,
    call_id: str | None = None,
) -> None:
    """An ``execute_tool`` span for a finished tool call (recorded after the fact);
    ``call_id`` is the model's id for the call, when it gave one."""
    active = _ACTIVE.get()
    if active is not None:
        active.tool_span(name, arguments, ok, result, duration_s, call_id)


def enforcement_attempt(
    schema_name: str, messages: Sequence[Any] = ()
) -> AbstractContextManager[AttemptSpan | _NullAttempt]:
    """One schema-enforcement attempt's span; call ``replied(reply)`` on what it yields."""
    active = _ACTIVE.get()
    if active is None:
        return nullcontext(_NULL_ATTEMPT)
    return active.attempt_span(schema_name, _ROLE.get() or "", messages)


def attempt_rejected(errors: Sequence[Any], reask: str) -> None:
    """The current attempt's reply failed validation; the model is re-asked with ``reask``."""
    active = _ACTIVE.get()
    if active is not None:
        active.rejected(errors, reask)
