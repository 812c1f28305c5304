"""The spans themselves (imports OpenTelemetry; loaded only when a run is traced).

Attribute names follow the OpenTelemetry GenAI semantic conventions; Bicameral's own live
under ``bicameral.*``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from orchestrator.telemetry.settings import Tracing

__all__ = ["ActiveTracing", "AttemptSpan", "RunSpan", "tracer_of"]

_SCOPE = "bicameral"
_MAX_TEXT = 8000


def tracer_of(provider: Any) -> trace.Tracer:
    """Bicameral's tracer from a tracer provider."""
    return provider.get_tracer(_SCOPE)  # type: ignore[no-any-return]


class RunSpan:
    """The run's span; ``finish`` records the outcome."""

    def __init__(self, span: Span, tracing: Tracing) -> None:
        self._span = span
        self._tracing = tracing

    def finish(self, result: Any) -> None:
        """Status, tokens per role and cost from a ``RunResult``."""
        span = self._span
        attributes: dict[str, Any] = {
            "bicameral.status": str(result.status.value),
            "bicameral.cost_usd": float(result.cost_usd),
            "bicameral.steps": int(result.steps),
        }
        prompt = completion = reasoning = 0
        for role, usage in result.usage.items():
            prompt += usage.prompt_tokens
            completion += usage.completion_tokens
            reasoning += usage.reasoning_tokens
            attributes[f"bicameral.usage.{role}.input_tokens"] = usage.prompt_tokens
            attributes[f"bicameral.usage.{role}.output_tokens"] = usage.completion_tokens
        attributes["gen_ai.usage.input_tokens"] = prompt
        attributes["gen_ai.usage.output_tokens"] = completion
        attributes["gen_ai.usage.reasoning.output_tokens"] = reasoning
        span.set_attributes(attributes)
        if result.error is not None:
            span.set_attribute("error.type", result.error.type)
            span.set_status(Status(StatusCode.ERROR, result.error.message[:500]))
        if self._tracing.capture_content and result.answer:
            span.set_attribute("gen_ai.output.messages", _clip(result.answer))


class AttemptSpan:
    """One schema-enforcement attempt; ``replied`` adds the model call under it."""

    def __init__(self, active: ActiveTracing, span: Span, role: str, messages: Sequence[Any]):
        self._active = active
        self._span = span
        self._role = role
        self._messages = messages
        self._start = time.perf_counter()

    def replied(self, reply: Any) -> None:
        """The attempt's model call, from the attempt's start to now."""
        latency = time.perf_counter() - self._start
        self._active.chat_span(self._role, reply, latency, self._messages)

    def call_failed(self, error: BaseException) -> None:
        """The attempt's model call raised ``error`` (no reply)."""
        latency = time.perf_counter() - self._start
        self._active.chat_span(self._role, None, latency, self._messages, error=error)


class ActiveTracing:
    """Spans for one run; the hooks in ``_hooks`` call into this."""

    def __init__(self, tracing: Tracing) -> None:
        self.tracing = tracing
        self.tracer: trace.Tracer = tracing.tracer
        self.thread_id = ""

    @contextmanager
    def run_span(self, *, pipeline: str, thread_id: str, task: str | None) -> Iterator[RunSpan]:
        self.thread_id = thread_id
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.conversation.id": thread_id,
            "bicameral.pipeline": pipeline,
        }
        if task is None:
            attributes["bicameral.resumed"] = True
        elif self.tracing.capture_content:
            attributes["gen_ai.input.messages"] = _clip(task)
        span = self.tracer.start_span(f"invoke_workflow {pipeline}", attributes=attributes)
        with _Current(span):
            yield RunSpan(span, self.tracing)

    def node_span(self, name: str, step: int) -> _Current:
        span = self.tracer.start_span(
            f"node {name}", attributes={"bicameral.node": name, "bicameral.step": step}
        )
        return _Current(span)

    def chat_span(
        self,
        role: str,
        reply: Any,
        latency_s: float,
        messages: Sequence[Any] = (),
        *,
        error: BaseException | None = None,
    ) -> None:
        end = time.time_ns()
        tracing = self.tracing
        model = tracing.model_names.get(role, "")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": tracing.provider_names.get(role, "unknown"),
            "gen_ai.request.model": model,
            "gen_ai.conversation.id": self.thread_id,
            "bicameral.role": role,
        }
        # what the server reported, and only that: an absent figure is not a zero
        meta = getattr(reply, "response_metadata", None)
        if meta:
            served = meta.get("model_name") or meta.get("model")
            if served:
                attributes["gen_ai.response.model"] = str(served)
            finish = meta.get("finish_reason")
            if finish:
                attributes["gen_ai.response.finish_reasons"] = (str(finish),)
            estimated = meta.get("usage_estimated")
            if estimated:  # counts the server did not give, estimated from the text
                attributes["bicameral.usage.estimated"] = tuple(str(f) for f in estimated)
        usage = getattr(reply, "usage_metadata", None)
        if usage:
            input_tokens = int(usage.get("input_tokens") or 0)
            output_tokens = int(usage.get("output_tokens") or 0)
            attributes["gen_ai.usage.input_tokens"] = input_tokens
            attributes["gen_ai.usage.output_tokens"] = output_tokens
            reasoning = (usage.get("output_token_details") or {}).get("reasoning")
            if reasoning is not None:
                attributes["gen_ai.usage.reasoning.output_tokens"] = int(reasoning)
            price = tracing.prices.get(role)
            if price is not None:
                attributes["bicameral.cost_usd"] = (
                    input_tokens * price.input_per_million
                    + output_tokens * price.output_per_million
                ) / 1e6
        if error is not None:
            attributes["error.type"] = type(error).__name__
        if tracing.capture_content:
            attributes["gen_ai.input.messages"] = _messages_json(messages)
            if reply is not None:
                attributes["gen_ai.output.messages"] = _messages_json([reply])
        span = self.tracer.start_span(
            f"chat {model}" if model else "chat",
            kind=SpanKind.CLIENT,
            start_time=end - int(latency_s * 1e9),
            attributes=attributes,
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
        span.end(end_time=end)

    def tool_span(
        self,
        name: str,
        arguments: dict[str, Any],
        ok: bool,
        result: str,
        duration_s: float,
        call_id: str | None = None,
    ) -> None:
        end = time.time_ns()
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.conversation.id": self.thread_id,
            "bicameral.tool.ok": ok,
        }
        if call_id:  # the model's own id, so the span matches the call in the chat
            attributes["gen_ai.tool.call.id"] = call_id
        if self.tracing.capture_content:
            attributes["gen_ai.tool.call.arguments"] = _clip(json.dumps(arguments, default=str))
            attributes["gen_ai.tool.call.result"] = _clip(result)
        span = self.tracer.start_span(
            f"execute_tool {name}",
            kind=SpanKind.INTERNAL,
            start_time=end - int(duration_s * 1e9),
            attributes=attributes,
        )
        if not ok:
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR, result[:200]))
        span.end(end_time=end)

    def attempt_span(self, schema_name: str, role: str, messages: Sequence[Any]) -> _Attempt:
        span = self.tracer.start_span(
            f"enforce {schema_name}",
            attributes={
                "bicameral.schema": schema_name,
                "bicameral.role": role,
                # a re-ask (``rejected``) or a failure overwrites this
                "bicameral.enforcement.outcome": "accepted",
            },
        )
        return _Attempt(span, AttemptSpan(self, span, role, messages))

    def rejected(self, errors: Sequence[Any], reask: str) -> None:
        span = trace.get_current_span()
        span.set_attribute("bicameral.enforcement.outcome", "reasked")
        span.set_attribute(
            "bicameral.enforcement.error_paths", [str(getattr(e, "path", e)) for e in errors]
        )
        span.set_attribute("bicameral.enforcement.errors", [str(e)[:300] for e in errors][:20])
        if self.tracing.capture_content:
            span.set_attribute("bicameral.enforcement.reask", _clip(reask))


class _Current:
    """Makes a started span current for a block, then ends it (cheaper than the SDK's
    decorated ``start_as_current_span``, which matters at one span per node)."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.token: object = None

    def __enter__(self) -> Span:
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception):
            self.failed(exc)
        otel_context.detach(self.token)  # type: ignore[arg-type]
        self.span.end()

    def failed(self, exc: Exception) -> None:
        if "Interrupt" in type(exc).__name__:  # LangGraph pausing for approval: not an error
            self.span.set_attribute("bicameral.interrupted", True)
            return
        self.span.record_exception(exc)  # as the SDK's own context managers do
        self.span.set_attributes({"error.type": type(exc).__name__})
        self.span.set_status(Status(StatusCode.ERROR, str(exc)[:500]))


class _Attempt(_Current):
    __slots__ = ("handle",)

    def __init__(self, span: Span, handle: AttemptSpan) -> None:
        super().__init__(span)
        self.handle = handle

    def __enter__(self) -> AttemptSpan:  # type: ignore[override]
        super().__enter__()
        return self.handle

    def failed(self, exc: Exception) -> None:
        paths = [str(getattr(e, "path", "")) for e in getattr(exc, "errors", [])]
        self.span.set_attributes(
            {"bicameral.enforcement.outcome": "failed", "bicameral.enforcement.error_paths": paths}
        )
        super().failed(exc)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _messages_json(messages: Sequence[Any]) -> str:
    out = []
    for msg in messages:
        kind = getattr(msg, "type", "message")
        role = {"human": "user", "ai": "assistant"}.get(kind, kind)
        content = getattr(msg, "content", msg)
        out.append({"role": role, "content": content if isinstance(content, str) else str(content)})
    return _clip(json.dumps(out))
