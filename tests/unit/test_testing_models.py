"""FakeChatModel and FunctionChatModel: the test doubles shipped with the package."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage

from orchestrator.exceptions import ModelError
from orchestrator.models.testing import FakeChatModel, FunctionChatModel

CALL = {"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1"}


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_scripted_replies_in_order_then_model_error() -> None:
    scripted = AIMessage(content="", tool_calls=[CALL])
    model = FakeChatModel(["first", scripted])
    assert model.invoke("a").content == "first"
    reply = model.invoke("b")
    assert reply.tool_calls == [{**CALL, "type": "tool_call"}]
    assert reply.response_metadata["finish_reason"] == "tool_calls"
    assert model.remaining == 0
    with pytest.raises(ModelError, match="no scripted response left"):
        model.invoke("c")


def test_keyword_responses_and_exceptions_are_raised() -> None:
    model = FakeChatModel(responses=[ValueError("boom"), "after"])
    with pytest.raises(ValueError, match="boom"):
        model.invoke("x")
    assert model.invoke("y").content == "after"


def test_only_known_kinds_are_scripted() -> None:
    with pytest.raises(TypeError, match="AIMessage, str or exception"):
        FakeChatModel([42])  # type: ignore[list-item]


def test_requests_record_messages_and_options() -> None:
    model = FakeChatModel(["ok", "ok"])
    bound = model.bind_tools([add], tool_choice="required")
    bound.invoke([HumanMessage("add 1 and 2")], stop=["END"])
    model.invoke("plain", response_format={"type": "json_object"})
    (messages, options), (_, second) = model.requests
    assert [m.text for m in messages] == ["add 1 and 2"]
    assert options["tool_choice"] == "required"
    assert options["stop"] == ["END"]
    assert options["tools"][0]["function"]["name"] == "add"
    assert model.bound_tools == options["tools"]
    assert second == {"response_format": {"type": "json_object"}}


def test_usage_counts_words_unless_scripted() -> None:
    model = FakeChatModel(
        [
            AIMessage(content="three word answer", additional_kwargs={"reasoning": "two words"}),
            AIMessage(
                content="x",
                usage_metadata={"input_tokens": 9, "output_tokens": 9, "total_tokens": 18},
            ),
        ]
    )
    first = model.invoke("one two")
    assert first.usage_metadata == {"input_tokens": 2, "output_tokens": 5, "total_tokens": 7}
    assert model.invoke("y").usage_metadata == {
        "input_tokens": 9,
        "output_tokens": 9,
        "total_tokens": 18,
    }


def test_scripted_messages_are_not_mutated() -> None:
    scripted = AIMessage(content="same")
    model = FakeChatModel([scripted, scripted])
    model.invoke("a")
    model.invoke("b")
    assert scripted.usage_metadata is None
    assert scripted.response_metadata == {}


def test_supports_response_format_is_off_by_default_and_settable() -> None:
    assert FakeChatModel([]).supports_response_format is False
    assert FakeChatModel([], supports_response_format=True).supports_response_format is True
    assert FakeChatModel.__test__ is False
    assert FunctionChatModel.__test__ is False


def _join(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    message = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    return message


def test_stream_yields_pieces_that_add_up_to_the_reply() -> None:
    scripted = AIMessage(
        content="Paris is  sunny.\n", tool_calls=[CALL], additional_kwargs={"reasoning": "hm"}
    )
    chunks = list(FakeChatModel([scripted]).stream("weather"))
    assert len(chunks) > 3
    message = _join(chunks)
    assert message.content == "Paris is  sunny.\n"
    assert message.tool_calls == [{**CALL, "type": "tool_call"}]
    assert message.additional_kwargs == {"reasoning": "hm"}
    assert message.usage_metadata is not None


async def test_async_paths() -> None:
    model = FakeChatModel(["one", "two words"])
    assert (await model.ainvoke("x")).content == "one"
    chunks = [c async for c in model.astream("y")]
    assert _join(chunks).content == "two words"
    assert len(model.requests) == 2


def test_function_model_decides_from_messages_and_options() -> None:
    def fn(messages: list[BaseMessage], options: dict[str, Any]) -> AIMessage | str:
        if options.get("tools"):
            return AIMessage(content="", tool_calls=[CALL])
        return messages[-1].text.upper()

    model = FunctionChatModel(fn)
    assert model.invoke("hello").content == "HELLO"
    assert model.bind_tools([add]).invoke("add").tool_calls[0]["name"] == "add"
    assert _join(list(model.stream("abc def"))).content == "ABC DEF"


async def test_function_model_with_async_fn() -> None:
    async def fn(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        return f"{len(messages)} message(s)"

    model = FunctionChatModel(fn=fn)
    assert (await model.ainvoke("hi")).content == "1 message(s)"
    assert _join([c async for c in model.astream("hi")]).content == "1 message(s)"
    with pytest.raises(ModelError, match="needs ainvoke"):
        model.invoke("inside a running loop")


def test_function_model_with_async_fn_from_sync_code() -> None:
    async def fn(messages: list[BaseMessage], options: dict[str, Any]) -> str:
        return "ran on a fresh loop"

    assert FunctionChatModel(fn).invoke("hi").content == "ran on a fresh loop"
