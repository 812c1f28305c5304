"""Calling an agent's model once: timing, usage, events. Shared by every model-calling node."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from orchestrator import telemetry
from orchestrator.events import ModelCallEvent, emit
from orchestrator.exceptions import ModelResponseError
from orchestrator.graph.state import keep_partial
from orchestrator.usage import Usage, usage_table

__all__ = ["emit_model_calls", "invoke_role", "keep_failed_call"]

_ERROR_CHARS = 300


def emit_model_calls(role: str, replies: Sequence[BaseMessage], latency_s: float) -> None:
    """One ``ModelCallEvent`` per reply (latency split evenly when only the total is known)."""
    for msg in replies:
        usage = Usage.of(msg)
        emit(
            ModelCallEvent(
                role=role,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                latency_s=usage.latency_s or latency_s / max(len(replies), 1),
            )
        )


def keep_failed_call(
    exc: BaseException, role: str, replies: Sequence[BaseMessage], latency_s: float
) -> None:
    """Account for calls that ended in ``exc``: events for the ``replies`` received before
    it and for the failed call itself, and their usage plus the failed call kept on the
    exception for the result."""
    emit_model_calls(role, replies, latency_s)
    before = sum(Usage.of(r).latency_s for r in replies)
    emit(
        ModelCallEvent(
            role=role,
            latency_s=max(latency_s - before, 0.0),
            error=f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS],
        )
    )
    usage = Usage.of_all(replies) + Usage(calls=1)
    usage = usage.model_copy(update={"latency_s": latency_s})
    keep_partial(exc, {"usage": usage_table(role, usage), "steps": len(replies)})


async def invoke_role(
    model: BaseChatModel | Runnable[Any, Any],
    messages: list[BaseMessage],
    role: str,
    **kwargs: Any,
) -> tuple[AIMessage, Usage]:
    """Call a model once; return its reply and its usage (the model-call event is emitted)."""
    start = time.perf_counter()
    try:
        reply = await model.ainvoke(messages, **kwargs)
    except Exception as exc:
        failed_after = time.perf_counter() - start
        telemetry.model_call_failed(role, exc, failed_after)
        keep_failed_call(exc, role, [], failed_after)
        raise
    latency = time.perf_counter() - start
    if not isinstance(reply, AIMessage):
        raise ModelResponseError(
            f"{role} model returned {type(reply).__name__}, expected AIMessage",
            excerpt=str(reply)[:200],
        )
    telemetry.model_call(role, reply, latency, messages)
    emit_model_calls(role, [reply], latency)
    return reply, Usage.of(reply, latency_s=latency)
