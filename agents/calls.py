"""Calling a role's model: timing, usage, events. Shared by the plan and reason nodes."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from orchestrator import telemetry
from orchestrator.events import ModelCallEvent, emit
from orchestrator.exceptions import ModelResponseError
from orchestrator.usage import UsageTable, usage_entry

__all__ = ["emit_model_calls", "invoke_role"]


def emit_model_calls(role: str, messages: list[AIMessage], latency_s: float) -> None:
    """One ``ModelCallEvent`` per reply (latency split evenly when only the total is known)."""
    for msg in messages:
        entry = usage_entry(msg)
        emit(
            ModelCallEvent(
                role=role,
                prompt_tokens=int(entry["prompt_tokens"]),
                completion_tokens=int(entry["completion_tokens"]),
                reasoning_tokens=int(entry["reasoning_tokens"]),
                latency_s=entry["latency_s"] or latency_s / max(len(messages), 1),
            )
        )


async def invoke_role(
    model: BaseChatModel | Runnable[Any, Any],
    messages: list[BaseMessage],
    role: str,
    **kwargs: Any,
) -> tuple[AIMessage, UsageTable]:
    """Call a model once; return its reply and the usage entry for the role."""
    start = time.perf_counter()
    reply = await model.ainvoke(messages, **kwargs)
    latency = time.perf_counter() - start
    if not isinstance(reply, AIMessage):
        raise ModelResponseError(
            f"{role} model returned {type(reply).__name__}, expected AIMessage",
            excerpt=str(reply)[:200],
        )
    telemetry.model_call(role, reply, latency, messages)
    emit_model_calls(role, [reply], latency)
    return reply, {role: usage_entry(reply, latency)}
