"""The enforcement loop: call the model, coerce its reply, re-ask with the errors, within budget.

The loop is written once, as a generator that yields "call the model with these messages"
and receives the reply (httpx's ``_auth.py`` drives its auth flows the same way).
:func:`enforce` and :func:`aenforce` only drive it, one with ``invoke`` and one with
``ainvoke``, so the sync and async paths cannot drift apart.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from orchestrator.models.testing import FakeChatModel
    >>> model = FakeChatModel(responses=['{"n": "x"}', '{"n": 3}'])
    >>> result = enforce(model, [HumanMessage("n?")], {"properties": {"n": {"type": "integer"}}})
    >>> result.value, result.attempts, result.outcome.value
    ({'n': 3}, 2, 'reasked')
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from orchestrator import telemetry
from orchestrator.exceptions import SchemaValidationError
from orchestrator.schema.formats import response_format_for, schema_label
from orchestrator.schema.parse import ParsedOutput, parse_output
from orchestrator.schema.reasoning import message_parts
from orchestrator.schema.stats import EnforcementStats, EnforceOutcome
from orchestrator.schema.validate import SchemaLike, canonical_json, schema_dict
from orchestrator.types import model_label
from orchestrator.usage import Usage, note_replies

__all__ = ["EnforceResult", "aenforce", "enforce"]

_MAX_SCHEMA_IN_REASK = 4000

_Steps = Generator[list[BaseMessage], BaseMessage, "EnforceResult"]


@dataclass
class EnforceResult:
    """A value that matches its schema, and how it was obtained.

    Attributes:
        value: the validated value (a model instance for a pydantic schema).
        attempts: how many times the model was called.
        outcome: first pass, repaired, coerced or re-asked.
        messages: every reply the model returned, in order.
        usage: the :class:`~orchestrator.usage.Usage` of every reply, summed.
        reasoning: the reasoning of the accepted reply, if any.
    """

    value: Any
    attempts: int
    outcome: EnforceOutcome
    messages: list[BaseMessage] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    reasoning: str | None = None


def enforce(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: SchemaLike,
    *,
    max_retries: int = 2,
    stats: EnforcementStats | None = None,
    schema_name: str | None = None,
    model_name: str | None = None,
    config: RunnableConfig | None = None,
    first_reply: BaseMessage | None = None,
) -> EnforceResult:
    """Call ``model`` until its reply matches ``schema``, re-asking at most ``max_retries`` times.

    The request carries ``response_format`` (constrained decoding) when the model declares
    ``supports_response_format``. Each reply goes through :func:`~.parse.parse_output`; an
    invalid one is answered with a message listing every error as ``$.path: message``.

    Args:
        model: any LangChain chat model.
        messages: the conversation so far.
        schema: a JSON Schema dict or a pydantic model class.
        max_retries: re-asks allowed after the first call (0: one call only).
        stats: where to count the outcome, if anywhere.
        schema_name: the schema's name in stats and ``response_format`` (default: the
            model class name or the schema's ``title``).
        model_name: the model's name in stats (default: its ``model_name``/``model``).
        config: passed to ``invoke``.
        first_reply: a reply already received for ``messages`` (e.g. the final answer of a
            native tool-calling turn): it is checked first, and the model is called only to
            re-ask.

    Returns:
        An :class:`EnforceResult`.

    Raises:
        SchemaValidationError: no valid reply within budget; it carries ``attempts``, the last
            ``raw`` output, its ``errors``, every reply (``replies``) and the summed ``usage``.
        SchemaDefinitionError: the schema is invalid (raised before any model call).
        ModelError: the model call itself failed (the replies received before it are
            attached: :func:`orchestrator.usage.noted_replies`).
    """
    loop = _Loop(model, messages, schema, max_retries, stats, schema_name, model_name)
    steps = loop.steps()
    request = _begin(steps, first_reply, loop.schema_name)
    if isinstance(request, EnforceResult):
        return request
    while True:
        with telemetry.enforcement_attempt(loop.schema_name, request) as attempt:
            try:
                reply = model.invoke(request, config=config, **loop.invoke_kwargs)
            except Exception as exc:
                note_replies(exc, loop.replies)
                attempt.call_failed(exc)
                raise
            attempt.replied(reply)
            try:
                request = steps.send(reply)
            except StopIteration as done:
                result: EnforceResult = done.value
                return result


async def aenforce(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: SchemaLike,
    *,
    max_retries: int = 2,
    stats: EnforcementStats | None = None,
    schema_name: str | None = None,
    model_name: str | None = None,
    config: RunnableConfig | None = None,
    first_reply: BaseMessage | None = None,
) -> EnforceResult:
    """Async :func:`enforce` (the same loop, driven with ``ainvoke``)."""
    loop = _Loop(model, messages, schema, max_retries, stats, schema_name, model_name)
    steps = loop.steps()
    if first_reply is not None and len(first_reply.text) > OFF_LOOP_CHARS:
        request = await asyncio.to_thread(_begin, steps, first_reply, loop.schema_name)
    else:
        request = _begin(steps, first_reply, loop.schema_name)
    if isinstance(request, EnforceResult):
        return request
    while True:
        with telemetry.enforcement_attempt(loop.schema_name, request) as attempt:
            try:
                reply = await model.ainvoke(request, config=config, **loop.invoke_kwargs)
            except Exception as exc:
                note_replies(exc, loop.replies)
                attempt.call_failed(exc)
                raise
            attempt.replied(reply)
            step = await _astep(steps, reply)
            if isinstance(step, EnforceResult):
                return step
            request = step


OFF_LOOP_CHARS = 64 * 1024
"""Replies longer than this are parsed in a worker thread by :func:`aenforce`."""


async def _astep(steps: _Steps, reply: BaseMessage) -> list[BaseMessage] | EnforceResult:
    """:func:`_step`, in a worker thread for a long reply: parsing one takes long enough to
    stall every other run on the event loop."""
    if len(reply.text) <= OFF_LOOP_CHARS:
        return _step(steps, reply)
    return await asyncio.to_thread(_step, steps, reply)


def _step(steps: _Steps, reply: BaseMessage) -> list[BaseMessage] | EnforceResult:
    """The next request, or the result (a ``StopIteration`` cannot cross a thread's future)."""
    try:
        return steps.send(reply)
    except StopIteration as done:
        result: EnforceResult = done.value
        return result


def _begin(
    steps: _Steps, first_reply: BaseMessage | None, schema_name: str
) -> list[BaseMessage] | EnforceResult:
    """The first request; with a reply already received, the request after it (or the result,
    when that reply is accepted)."""
    request = next(steps)
    if first_reply is None:
        return request
    # the reply was traced where it was received; its check is an attempt all the same
    with telemetry.enforcement_attempt(schema_name, request):
        return _step(steps, first_reply)


class _Loop:
    """Everything about one enforced call except how the model is called."""

    def __init__(
        self,
        model: BaseChatModel,
        messages: Sequence[BaseMessage],
        schema: SchemaLike,
        max_retries: int,
        stats: EnforcementStats | None,
        schema_name: str | None,
        model_name: str | None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.schema = schema
        self.messages = list(messages)
        self.replies: list[BaseMessage] = []
        self.max_retries = max_retries
        self.stats = stats
        self.schema_name = schema_name or schema_label(schema)
        self.model_name = model_name or model_label(model)
        # Built now so an invalid schema fails before the model is called.
        response_format = response_format_for(schema, self.schema_name)
        self.invoke_kwargs: dict[str, Any] = (
            {"response_format": response_format}
            if getattr(model, "supports_response_format", False)
            else {}
        )

    def steps(self) -> _Steps:
        """Yield each request; receive each reply; return the result or raise."""
        conversation = list(self.messages)
        replies = self.replies
        usage = Usage()
        for attempt in range(1, self.max_retries + 2):
            reply = yield conversation
            replies.append(reply)
            if reply.response_metadata.get("grammar_fallback") and self.stats is not None:
                self.stats.record_fallback(self.model_name, self.schema_name)
            usage = usage + Usage.of(reply)
            reasoning, content = message_parts(reply)
            answer = _answer_text(reply, content)
            try:
                parsed = parse_output(
                    answer,
                    self.schema,
                    reasoning=reasoning,
                    allow_repair=_finish_reason(reply) != "length",
                )
            except SchemaValidationError as err:
                if attempt > self.max_retries:
                    self._record(EnforceOutcome.FAILED)
                    noun = "attempt" if attempt == 1 else "attempts"
                    raise SchemaValidationError(
                        f"{self.model_name} output did not match schema {self.schema_name!r} "
                        f"after {attempt} {noun}: {err.errors[0] if err.errors else err}",
                        errors=err.errors,
                        raw=reply.text,
                        tried=err.tried,
                        attempts=attempt,
                        usage=usage,
                        replies=replies,
                    ) from err
                reask = HumanMessage(self._reask(err))
                self._rejected(attempt, err, reask.text)
                conversation = [*conversation, _for_history(reply, answer), reask]
                continue
            outcome = _outcome(parsed) if attempt == 1 else EnforceOutcome.REASKED
            self._record(outcome)
            return EnforceResult(parsed.value, attempt, outcome, replies, usage, parsed.reasoning)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _reask(self, err: SchemaValidationError) -> str:
        lines = ["Your reply did not match the required JSON schema. Errors:"]
        lines.extend(f"- {e.path}: {e.message}" for e in err.errors)
        schema_text = canonical_json(schema_dict(self.schema))
        if len(schema_text) <= _MAX_SCHEMA_IN_REASK:
            lines.append(f"Reply with only the corrected JSON value, matching: {schema_text}")
        else:
            lines.append("Reply with only the corrected JSON value.")
        return "\n".join(lines)

    def _rejected(self, attempt: int, err: SchemaValidationError, reask: str) -> None:
        telemetry.attempt_rejected(err.errors, reask)
        if self.stats is not None:
            self.stats.reject(attempt, tuple(str(e) for e in err.errors), reask)

    def _record(self, outcome: EnforceOutcome) -> None:
        if self.stats is not None:
            self.stats.record(self.model_name, self.schema_name, outcome)


def _outcome(parsed: ParsedOutput) -> EnforceOutcome:
    if parsed.source.startswith("reasoning:"):
        return EnforceOutcome.FROM_REASONING
    if parsed.repaired:
        return EnforceOutcome.REPAIRED
    if parsed.coerced:
        return EnforceOutcome.COERCED
    return EnforceOutcome.FIRST_PASS


def _answer_text(reply: BaseMessage, content: str) -> str:
    """The reply's text; when it is empty but the model made native tool calls, those calls
    (written as text, so the tool-call candidates can match an action schema)."""
    if content.strip() or not isinstance(reply, AIMessage) or not reply.tool_calls:
        return content
    calls = [{"name": c["name"], "arguments": c["args"]} for c in reply.tool_calls]
    return "\n".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls)


def _for_history(reply: BaseMessage, answer: str) -> BaseMessage:
    """The reply as it goes back in a re-ask: native tool calls become text, since a call
    left in the history would need a tool result before the next user message."""
    if isinstance(reply, AIMessage) and reply.tool_calls:
        return AIMessage(content=answer)
    return reply


def _finish_reason(reply: BaseMessage) -> str | None:
    reason = reply.response_metadata.get("finish_reason")
    return reason if isinstance(reason, str) else None
