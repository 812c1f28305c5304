"""enforce / aenforce: one loop, re-asks with exact errors, budget, stats, usage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from orchestrator.exceptions import SchemaDefinitionError, SchemaValidationError
from orchestrator.models.testing import FakeChatModel
from orchestrator.schema import (
    EnforcementStats,
    EnforceOutcome,
    EnforceResult,
    aenforce,
    enforce,
)
from orchestrator.types import SchemaIssue

SCHEMA: dict[str, Any] = {
    "title": "math",
    "type": "object",
    "properties": {"answer": {"type": "integer"}, "steps": {"type": "array"}},
    "required": ["answer"],
}
PROMPT: list[BaseMessage] = [SystemMessage("Answer in JSON."), HumanMessage("6 * 7?")]


def _reply(
    content: str, *, tokens: tuple[int, int, int] = (10, 5, 3), **metadata: Any
) -> AIMessage:
    inp, out, reasoning = tokens
    return AIMessage(
        content=content,
        usage_metadata={
            "input_tokens": inp,
            "output_tokens": out,
            "total_tokens": inp + out,
            "output_token_details": {"reasoning": reasoning},
        },
        response_metadata=metadata,
    )


async def _run(
    mode: str, model: FakeChatModel, messages: Sequence[BaseMessage], schema: Any, **kwargs: Any
) -> EnforceResult:
    if mode == "sync":
        return enforce(model, list(messages), schema, **kwargs)
    return await aenforce(model, list(messages), schema, **kwargs)


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
async def test_first_pass(mode: str) -> None:
    model = FakeChatModel([_reply('{"answer": 42}')])
    stats = EnforcementStats()
    result = await _run(mode, model, PROMPT, SCHEMA, stats=stats)
    assert (result.value, result.attempts, result.outcome) == (
        {"answer": 42},
        1,
        EnforceOutcome.FIRST_PASS,
    )
    assert result.usage is not None
    assert (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.reasoning_tokens,
    ) == (10, 5, 3)
    assert [m.content for m in result.messages] == ['{"answer": 42}']
    [(messages, options)] = model.requests
    assert messages == PROMPT and "response_format" not in options
    assert stats.count("fake", "math", EnforceOutcome.FIRST_PASS) == 1


@MODES
async def test_invalid_then_valid_reasks_with_the_failing_paths(mode: str) -> None:
    bad = _reply('<think>hmm</think>{"answer": "forty-two", "steps": 3}')
    model = FakeChatModel([bad, _reply('{"answer": 42, "steps": []}')])
    stats = EnforcementStats()
    result = await _run(mode, model, PROMPT, SCHEMA, stats=stats, model_name="r1")
    assert (result.value, result.attempts, result.outcome) == (
        {"answer": 42, "steps": []},
        2,
        EnforceOutcome.REASKED,
    )
    assert result.usage is not None
    assert (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
        result.usage.reasoning_tokens,
    ) == (20, 10, 6)
    second_request = model.requests[1][0]
    assert second_request[:2] == PROMPT
    assert second_request[2].content == bad.content
    reask = second_request[3]
    assert isinstance(reask, HumanMessage)
    assert reask.text.splitlines()[:3] == [
        "Your reply did not match the required JSON schema. Errors:",
        "- $.answer: 'forty-two' is not of type 'integer'",
        "- $.steps: 3 is not of type 'array'",
    ]
    assert '"required":["answer"]' in reask.text  # the schema is restated
    assert stats.as_dict() == {
        "r1::math": {
            "first_pass": 0,
            "repaired": 0,
            "coerced": 0,
            "from_reasoning": 0,
            "reasked": 1,
            "failed": 0,
        }
    }


@MODES
async def test_budget_exhausted_raises_with_attempts_last_output_errors_and_usage(
    mode: str,
) -> None:
    model = FakeChatModel([_reply("no idea"), _reply('{"answer": 1.5}'), _reply("unused")])
    stats = EnforcementStats()
    with pytest.raises(SchemaValidationError) as info:
        await _run(mode, model, PROMPT, SCHEMA, max_retries=1, stats=stats)
    err = info.value
    assert err.attempts == 2
    assert err.raw == '{"answer": 1.5}'
    assert err.errors == [SchemaIssue("$.answer", "1.5 is not of type 'integer'")]
    assert err.usage is not None
    assert (err.usage.prompt_tokens, err.usage.completion_tokens, err.usage.reasoning_tokens) == (
        20,
        10,
        6,
    )
    assert err.usage.calls == 2 and len(err.replies) == 2  # the failed attempts are accounted
    assert "after 2 attempts" in str(err)
    assert model.remaining == 1
    assert stats.count("fake", "math", EnforceOutcome.FAILED) == 1


@MODES
async def test_zero_retries_means_one_call(mode: str) -> None:
    model = FakeChatModel([_reply("nope")])
    with pytest.raises(SchemaValidationError, match="after 1 attempt: ") as info:
        await _run(mode, model, PROMPT, SCHEMA, max_retries=0)
    assert info.value.attempts == 1
    assert info.value.errors == [SchemaIssue("$", "no JSON value found in the output")]


@MODES
@pytest.mark.parametrize(
    ("content", "outcome"),
    [
        ("```json\n{'answer': 42,}\n```", EnforceOutcome.REPAIRED),
        ('{"answer": "42"}', EnforceOutcome.COERCED),
        ('Sure! {"answer": 42}', EnforceOutcome.FIRST_PASS),
    ],
)
async def test_first_reply_outcomes(mode: str, content: str, outcome: EnforceOutcome) -> None:
    result = await _run(mode, FakeChatModel([_reply(content)]), PROMPT, SCHEMA)
    assert (result.value, result.outcome) == ({"answer": 42}, outcome)


@MODES
async def test_response_format_sent_only_when_supported(mode: str) -> None:
    model = FakeChatModel([_reply('{"answer": 42}')], supports_response_format=True)
    await _run(mode, model, PROMPT, SCHEMA, schema_name="math answer")
    assert model.requests[0][1]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "math_answer", "schema": SCHEMA, "strict": True},
    }


@MODES
async def test_reasoning_of_the_accepted_reply(mode: str) -> None:
    reply = AIMessage(content='{"answer": 42}', additional_kwargs={"reasoning": "6 * 7 = 42"})
    result = await _run(mode, FakeChatModel([reply]), PROMPT, SCHEMA)
    assert result.reasoning == "6 * 7 = 42"


@MODES
async def test_answer_only_in_reasoning_when_content_is_empty(mode: str) -> None:
    reply = AIMessage(content="", additional_kwargs={"reasoning": 'so {"answer": 42}'})
    result = await _run(mode, FakeChatModel([reply]), PROMPT, SCHEMA)
    assert result.value == {"answer": 42}


@MODES
async def test_truncated_reply_is_reasked_not_repaired(mode: str) -> None:
    cut = _reply('{"answer": 4', finish_reason="length")
    model = FakeChatModel([cut, _reply('{"answer": 42}')])
    result = await _run(mode, model, PROMPT, SCHEMA)
    assert (result.value, result.outcome) == ({"answer": 42}, EnforceOutcome.REASKED)


@MODES
async def test_native_tool_call_matches_an_action_schema(mode: str) -> None:
    action = {
        "type": "object",
        "properties": {"action": {"const": "search"}, "arguments": {"type": "object"}},
        "required": ["action", "arguments"],
    }
    reply = AIMessage(content="", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c1"}])
    result = await _run(mode, FakeChatModel([reply]), PROMPT, action)
    assert result.value == {"action": "search", "arguments": {"q": "x"}}


@MODES
async def test_invalid_native_tool_call_goes_back_as_text(mode: str) -> None:
    action = {
        "type": "object",
        "properties": {"action": {"const": "final"}},
        "required": ["action"],
    }
    call = AIMessage(content="", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c1"}])
    model = FakeChatModel([call, '{"action": "final"}'])
    result = await _run(mode, model, PROMPT, action)
    assert result.outcome == EnforceOutcome.REASKED
    echoed = model.requests[1][0][2]
    assert isinstance(echoed, AIMessage) and echoed.tool_calls == []
    assert echoed.content == '<tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>'


class Answer(BaseModel):
    answer: int


@MODES
async def test_pydantic_schema(mode: str) -> None:
    stats = EnforcementStats()
    result = await _run(
        mode, FakeChatModel([_reply('{"answer": 42}')]), PROMPT, Answer, stats=stats
    )
    assert result.value == Answer(answer=42)
    assert list(stats.as_dict()) == ["fake::Answer"]


@MODES
async def test_invalid_schema_fails_before_calling_the_model(mode: str) -> None:
    model = FakeChatModel([_reply("{}")])
    with pytest.raises(SchemaDefinitionError):
        await _run(mode, model, PROMPT, {"type": "integr"})
    assert model.requests == []


def test_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        enforce(FakeChatModel([]), PROMPT, SCHEMA, max_retries=-1)
