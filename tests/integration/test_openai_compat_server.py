"""The client against the fake vLLM server over real sockets: replies, in all four modes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable

from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec
from tests.integration.conftest import ModelFactory

Model = Runnable[LanguageModelInput, BaseMessage]
MODES = ["invoke", "ainvoke", "stream", "astream"]


async def call(model: Model, mode: str, prompt: Any = "hi") -> AIMessage:
    """One call in the given mode; streams are added up into one message."""
    if mode == "invoke":
        result = model.invoke(prompt)
    elif mode == "ainvoke":
        result = await model.ainvoke(prompt)
    else:
        chunks = (
            list(model.stream(prompt))
            if mode == "stream"
            else [c async for c in model.astream(prompt)]
        )
        pieces = [c for c in chunks if isinstance(c, AIMessageChunk)]
        assert len(pieces) == len(chunks)
        total = pieces[0]
        for piece in pieces[1:]:
            total = total + piece
        result = AIMessage(
            **total.model_dump(exclude={"type", "tool_call_chunks", "chunk_position"})
        )
    assert isinstance(result, AIMessage)
    return result


def weather(city: str, days: list[int] | None = None) -> str:
    """Weather for a city over some days."""
    return "sunny"


def calls(message: AIMessage) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["args"]) for c in message.tool_calls]


@pytest.mark.parametrize("mode", MODES)
async def test_plain_chat(server: FakeOpenAIServer, make_model: ModelFactory, mode: str) -> None:
    server.enqueue(
        ChatReply(
            "Hello there, friend.",
            usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        )
    )
    message = await call(make_model(), mode)
    assert message.content == "Hello there, friend."
    assert message.additional_kwargs == {}
    assert message.tool_calls == []
    assert message.usage_metadata == {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13}
    meta = message.response_metadata
    assert (meta["model_name"], meta["finish_reason"], meta["base_url"]) == (
        "smol",
        "stop",
        server.base_url,
    )
    assert meta["latency_s"] > 0
    [request] = server.chat_requests
    assert request["messages"] == [{"role": "user", "content": "hi"}]
    assert request.get("stream", False) is mode.endswith("stream")
    if mode.endswith("stream"):
        assert request["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_r1_reasoning_with_a_reasoning_parser(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str, field: str
) -> None:
    server.enqueue(
        ChatReply(
            '{"answer": 4}',
            reasoning="2 + 2 = 4, so the answer is 4.",
            reasoning_field=field,
            reasoning_tokens=11,
        )
    )
    message = await call(make_model(), mode)
    assert message.content == '{"answer": 4}'
    assert message.additional_kwargs == {"reasoning": "2 + 2 = 4, so the answer is 4."}
    assert message.usage_metadata is not None
    assert message.usage_metadata.get("output_token_details") == {"reasoning": 11}


@pytest.mark.parametrize("mode", MODES)
async def test_r1_reasoning_without_a_parser(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(ChatReply('<think>\nLet me add: 2 + 2 = 4.\n</think>\n\n{"answer": 4}'))
    message = await call(make_model(), mode)
    assert message.content == '{"answer": 4}'
    reasoning = message.additional_kwargs["reasoning"]
    assert reasoning.strip() == "Let me add: 2 + 2 = 4."
    if not mode.endswith("stream"):
        assert reasoning == "Let me add: 2 + 2 = 4."


@pytest.mark.parametrize("mode", MODES)
async def test_lone_closing_think_with_prefilled_template(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(ChatReply("Adding: 2 + 2 = 4.\n</think>\n\n4"))
    message = await call(make_model(think_prefilled=True), mode)
    assert message.content == "4"
    assert message.additional_kwargs["reasoning"].strip() == "Adding: 2 + 2 = 4."


async def test_lone_closing_think_is_split_without_the_flag(
    server: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    server.enqueue(ChatReply("Adding: 2 + 2 = 4.\n</think>\n\n4"))
    message = await call(make_model(), "ainvoke")
    assert (message.content, message.additional_kwargs["reasoning"]) == ("4", "Adding: 2 + 2 = 4.")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("repeat_name", [False, True], ids=["vllm", "llamacpp"])
async def test_native_tool_calls(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str, repeat_name: bool
) -> None:
    server.enqueue(
        ChatReply(
            None,
            tool_calls=[
                ToolCallSpec("weather", '{"city": "Paris", "days": [1, 2]}', id="call_a"),
                ToolCallSpec("weather", {"city": "Rome"}, id="call_b"),
            ],
            repeat_name=repeat_name,
            chunk_chars=5,
        )
    )
    message = await call(make_model().bind_tools([weather], tool_choice="required"), mode)
    assert message.tool_calls == [
        {
            "name": "weather",
            "args": {"city": "Paris", "days": [1, 2]},
            "id": "call_a",
            "type": "tool_call",
        },
        {"name": "weather", "args": {"city": "Rome"}, "id": "call_b", "type": "tool_call"},
    ]
    assert message.content == ""
    [request] = server.chat_requests
    assert request["tool_choice"] == "required"
    assert request["tools"][0]["function"]["strict"] is True


@pytest.mark.parametrize("mode", MODES)
async def test_named_tool_choice_with_finish_reason_stop(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    """vLLM answers a named tool_choice with finish_reason "stop": calls still count."""
    server.enqueue(
        ChatReply("", tool_calls=[ToolCallSpec("weather", {"city": "Oslo"})], finish_reason="stop")
    )
    model = make_model().bind_tools([weather], tool_choice="weather")
    message = await call(model, mode)
    assert calls(message) == [("weather", {"city": "Oslo"})]
    assert message.response_metadata["finish_reason"] == "stop"
    assert server.chat_requests[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "weather"},
    }


LEFT_IN_CONTENT = [
    # Llama 4 pythonic calls the server's parser missed (nested list/dict arguments)
    ("[weather(city='Paris', days=[1, 2])]", ""),
    # JSON calls left in content, alone and after some text
    ('{"name": "weather", "parameters": {"city": "Paris", "days": [1, 2]}}', ""),
    (
        'I will check.\n{"name": "weather", "arguments": {"city": "Paris", "days": [1, 2]}}',
        "I will check.",
    ),
    ('<|python_start|>weather(city="Paris", days=[1, 2])<|python_end|>', ""),
    (
        '<tool_call>\n{"name": "weather", "arguments": {"city": "Paris", "days": [1, 2]}}'
        "\n</tool_call>",
        "",
    ),
    ('```json\n{"name": "weather", "arguments": {"city": "Paris", "days": [1, 2]}}\n```', ""),
]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
@pytest.mark.parametrize(("content", "rest"), LEFT_IN_CONTENT)
async def test_tool_calls_left_in_content_are_recovered(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str, content: str, rest: str
) -> None:
    server.enqueue(ChatReply(content))
    message = await call(make_model().bind_tools([weather]), mode)
    assert calls(message) == [("weather", {"city": "Paris", "days": [1, 2]})]
    assert message.content == rest


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_tool_calls_left_in_streamed_content_are_recovered(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(ChatReply("[weather(city='Paris', days=[1, 2])]", chunk_chars=3))
    message = await call(make_model().bind_tools([weather]), mode)
    assert calls(message) == [("weather", {"city": "Paris", "days": [1, 2]})]


async def test_reasoning_model_with_a_call_after_thinking(
    server: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    server.enqueue(ChatReply("<think>Need weather(city='Rome')?</think>[weather(city='Oslo')]"))
    message = await call(make_model().bind_tools([weather]), "invoke")
    assert calls(message) == [("weather", {"city": "Oslo"})]
    assert message.additional_kwargs["reasoning"] == "Need weather(city='Rome')?"


async def test_response_format_is_passed_through(
    server: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    server.enqueue(ChatReply('{"answer": 4}'))
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": True},
    }
    message = await make_model().ainvoke("2+2?", response_format=schema)
    assert message.content == '{"answer": 4}'
    assert server.chat_requests[0]["response_format"] == schema


async def test_200_concurrent_calls_through_one_client(
    server: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    server.default_reply = ChatReply("ok", latency_ms=20)
    try:
        model = make_model(max_connections=200)
        results = await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(200)))
        await model.aclose()
    finally:
        server.default_reply = None
    assert [r.content for r in results] == ["ok"] * 200
    assert len(server.chat_requests) == 200


async def test_one_model_serves_several_event_loops(
    server: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    server.enqueue(ChatReply("a"), ChatReply("b"), ChatReply("c"))
    model = make_model()
    assert (await model.ainvoke("x")).content == "a"
    in_thread = await asyncio.to_thread(lambda: asyncio.run(model.ainvoke("y")))
    assert in_thread.content == "b"
    assert model.invoke("z").content == "c"
    model.close()
