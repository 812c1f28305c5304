"""The wire format: messages/tools -> JSON, JSON -> AIMessage (pure functions, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel

from orchestrator.exceptions import ModelResponseError
from orchestrator.models._reply import ReplyContext, decode_completion, decode_tool_calls
from orchestrator.models._usage import usage_metadata
from orchestrator.models._wire import (
    dumps,
    encode_messages,
    encode_tool_choice,
    encode_tools,
    loads,
    move_guided_fields,
)

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "when": {
                    "type": "object",
                    "properties": {"day": {"type": "integer"}},
                },
                "tags": {"type": "array", "items": {"type": "object", "properties": {}}},
            },
            "required": ["city"],
        },
    },
}
TOOLS_CTX = ReplyContext(tool_names=frozenset({"get_weather", "add"}), recover_calls=True)


def completion(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
    return {"id": "chatcmpl-1", "model": "smol", "choices": [choice], **extra}


PLAIN = ReplyContext()


def decode(message: dict[str, Any], ctx: ReplyContext = PLAIN, **extra: Any) -> AIMessage:
    return decode_completion(completion(message, **extra), ctx, url="http://h/v1", latency_s=0.5)


# --- requests ---------------------------------------------------------------------------------


def test_messages_of_every_role_encode_to_openai_dicts() -> None:
    messages = [
        SystemMessage("be brief"),
        HumanMessage("weather?", name="ann"),
        AIMessage(
            content="",
            tool_calls=[{"name": "get_weather", "args": {"z": 1, "city": "Paris"}, "id": "c1"}],
            additional_kwargs={"reasoning": "never sent back"},
        ),
        ToolMessage("sunny", tool_call_id="c1"),
        ChatMessage(role="developer", content="note"),
    ]
    assert encode_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather?", "name": "ann"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "z": 1}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
        {"role": "developer", "content": "note"},
    ]


def test_text_parts_join_but_image_parts_pass_through() -> None:
    text_only = HumanMessage(content=[{"type": "text", "text": "a"}, "b"])
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    with_image = HumanMessage(content=["look", image])
    assert encode_messages([text_only, with_image]) == [
        {"role": "user", "content": "ab"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, image]},
    ]


def test_unknown_message_type_is_refused() -> None:
    with pytest.raises(TypeError, match="RemoveMessage"):
        encode_messages([RemoveMessage(id="x")])


def test_dumps_is_deterministic_and_compact() -> None:
    a = dumps({"b": 1, "a": {"y": "é", "x": [2, 1]}})
    b = dumps({"a": {"x": [2, 1], "y": "é"}, "b": 1})
    assert a == b == '{"a":{"x":[2,1],"y":"é"},"b":1}'.encode()


def test_dumps_keeps_schema_property_order() -> None:
    """Constrained decoding emits fields in schema order: steps before answer stays so."""
    schema = {
        "type": "object",
        "properties": {"steps": {"type": "array", "items": {"type": "string"}}, "answer": {}},
        "required": ["steps", "answer"],
    }
    body = {"response_format": {"json_schema": {"schema": schema, "name": "math"}}}
    text = dumps(body).decode()
    assert text.index('"steps"') < text.index('"answer"')
    assert text.index('"items"') < text.index('"type":"array"')  # inside a property: sorted
    assert text.index('"name"') < text.index('"schema"')


def test_strict_tools_close_every_object_schema_but_keep_required() -> None:
    [tool] = encode_tools([WEATHER], strict=True)
    function = tool["function"]
    assert function["strict"] is True
    params = function["parameters"]
    assert params["additionalProperties"] is False
    assert params["required"] == ["city"]
    assert params["properties"]["when"]["additionalProperties"] is False
    assert "required" not in params["properties"]["when"]
    assert params["properties"]["tags"]["items"]["additionalProperties"] is False
    assert WEATHER["function"]["parameters"].get("additionalProperties") is None  # not mutated


def test_strict_tools_reach_nested_models_and_defs() -> None:
    class Point(BaseModel):
        x: int

    class Shape(BaseModel):
        """A shape."""

        points: list[Point]
        meta: dict[str, str]

    [tool] = encode_tools([Shape], strict=True)
    params = tool["function"]["parameters"]
    assert params["properties"]["points"]["items"]["additionalProperties"] is False
    assert params["properties"]["meta"]["additionalProperties"] == {"type": "string"}
    with_defs = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {
                "type": "object",
                "properties": {"p": {"$ref": "#/$defs/P"}, "q": {"anyOf": [{"$ref": "#/$defs/P"}]}},
                "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            },
        },
    }
    [tool] = encode_tools([with_defs], strict=True)
    assert tool["function"]["parameters"]["$defs"]["P"]["additionalProperties"] is False


def test_non_strict_tools_are_left_as_given() -> None:
    [tool] = encode_tools([WEATHER], strict=False)
    assert tool == WEATHER


def test_functions_become_tools() -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    [tool] = encode_tools([add], strict=True)
    assert tool["function"]["name"] == "add"
    assert tool["function"]["parameters"]["required"] == ["a", "b"]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (None, None),
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        (True, "required"),
        (False, "none"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "f"}},
            {"type": "function", "function": {"name": "f"}},
        ),
    ],
)
def test_tool_choice(choice: Any, wire: Any) -> None:
    assert encode_tool_choice(choice) == wire


def test_tool_choice_of_wrong_type_is_refused() -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        encode_tool_choice(3)


def test_guided_fields_move_to_structured_outputs() -> None:
    body: dict[str, Any] = {"guided_json": {"type": "object"}, "guided_choice": ["a", "b"]}
    move_guided_fields(body)
    assert body == {"structured_outputs": {"json": {"type": "object"}, "choice": ["a", "b"]}}


# --- replies ----------------------------------------------------------------------------------


def test_usage_with_reasoning_and_cached_tokens() -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "completion_tokens_details": {"reasoning_tokens": 5},
        "prompt_tokens_details": {"cached_tokens": 8},
    }
    assert usage_metadata(usage) == {
        "input_tokens": 10,
        "output_tokens": 7,
        "total_tokens": 17,
        "output_token_details": {"reasoning": 5},
        "input_token_details": {"cache_read": 8},
    }
    assert usage_metadata({"prompt_tokens": 3, "prompt_tokens_details": None}) == {
        "input_tokens": 3,
        "output_tokens": 0,
        "total_tokens": 3,
    }
    assert usage_metadata(None) is None


def test_tool_calls_valid_invalid_and_without_id() -> None:
    calls, invalid = decode_tool_calls(
        [
            {"id": "a", "function": {"name": "f", "arguments": '{"x": 1}'}},
            {"id": "b", "function": {"name": "g", "arguments": '{"x": '}},
            {"function": {"name": "h", "arguments": ""}},
            {"id": "d", "function": {"name": "k", "arguments": {"y": 2}}},
            {"id": "e", "function": {"name": "m", "arguments": "[1]"}},
            "junk",
        ]
    )
    assert [(c["name"], c["args"], c["id"]) for c in calls] == [
        ("f", {"x": 1}, "a"),
        ("h", {}, calls[1]["id"]),
        ("k", {"y": 2}, "d"),
    ]
    assert str(calls[1]["id"]).startswith("call_2_")
    assert [(i["name"], i["args"]) for i in invalid] == [("g", '{"x": '), ("m", "[1]")]


def test_plain_reply_with_metadata_and_usage() -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    msg = decode({"content": "Hello!"}, usage=usage)
    assert msg.content == "Hello!"
    assert msg.additional_kwargs == {}
    assert msg.id == "chatcmpl-1"
    assert msg.usage_metadata == {"input_tokens": 4, "output_tokens": 2, "total_tokens": 6}
    assert msg.response_metadata == {
        "model_name": "smol",
        "finish_reason": "stop",
        "latency_s": 0.5,
        "base_url": "http://h/v1",
    }


@pytest.mark.parametrize(
    ("message", "reasoning", "content"),
    [
        ({"content": "4", "reasoning": "2+2"}, "2+2", "4"),
        ({"content": "4", "reasoning": None, "reasoning_content": "old"}, "old", "4"),
        ({"content": "<think>2+2</think>\n\n4"}, "2+2", "4"),
        ({"content": "2+2 is 4</think>4"}, "2+2 is 4", "4"),
        ({"content": None, "reasoning": "all thinking"}, "all thinking", ""),
        ({"content": "<think>cut off"}, "cut off", ""),
        # real vLLM R1 server, </think> forced: a second closing tag left in content
        ({"content": "\n</think>", "reasoning": "12 * 7 = 90"}, "12 * 7 = 90", ""),
        ({"content": "more</think>84", "reasoning": "12 * 7"}, "12 * 7\n\nmore", "84"),
    ],
)
def test_reasoning_never_stays_in_content(
    message: dict[str, Any], reasoning: str, content: str
) -> None:
    msg = decode(message)
    assert msg.content == content
    assert msg.additional_kwargs["reasoning"] == reasoning


def test_think_prefilled_makes_an_untagged_reply_reasoning() -> None:
    ctx = ReplyContext(think_prefilled=True)
    msg = decode({"content": "still thinking"}, ctx)
    assert (msg.content, msg.additional_kwargs["reasoning"]) == ("", "still thinking")
    msg = decode({"content": "x</think>answer"}, ctx)
    assert (msg.content, msg.additional_kwargs["reasoning"]) == ("answer", "x")


def test_native_tool_calls_are_found_whatever_the_finish_reason() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "add", "arguments": '{"a":1}'}}
    msg = decode({"content": None, "tool_calls": [call]}, TOOLS_CTX)
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.tool_calls == [{"name": "add", "args": {"a": 1}, "id": "c", "type": "tool_call"}]


@pytest.mark.parametrize(
    ("content", "rest"),
    [
        ("[get_weather(city='Paris', days=[1, 2])]", ""),
        ('{"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2]}}', ""),
        (
            'Let me check. <tool_call>{"name": "get_weather", "arguments": '
            '{"city": "Paris", "days": [1, 2]}}</tool_call>',
            "Let me check.",
        ),
        ('<|python_start|>get_weather(city="Paris", days=[1, 2])<|python_end|>', ""),
    ],
)
def test_calls_left_in_content_are_recovered(content: str, rest: str) -> None:
    msg = decode({"content": content, "tool_calls": []}, TOOLS_CTX)
    assert [(c["name"], c["args"]) for c in msg.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": [1, 2]})
    ]
    assert msg.content == rest


def test_calls_are_not_recovered_without_tools_or_for_unknown_names() -> None:
    text = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert decode({"content": text}).tool_calls == []
    unknown = ReplyContext(tool_names=frozenset({"add"}), recover_calls=True)
    msg = decode({"content": text}, unknown)
    assert (msg.tool_calls, msg.content) == ([], text)


def test_calls_inside_reasoning_are_not_recovered() -> None:
    text = "<think>maybe [get_weather(city='Rome')]</think>It is sunny."
    msg = decode({"content": text}, TOOLS_CTX)
    assert msg.tool_calls == []
    assert msg.content == "It is sunny."


def test_reply_without_message_is_a_response_error() -> None:
    with pytest.raises(ModelResponseError, match="choices") as err:
        decode_completion({"object": "error"}, ReplyContext(), url="u", latency_s=0)
    assert "error" in err.value.excerpt


@pytest.mark.parametrize("raw", [b"<html>oops</html>", b'{"id": "x", "cho', b"[1, 2]", b""])
def test_bodies_that_are_not_json_objects(raw: bytes) -> None:
    with pytest.raises(ModelResponseError) as err:
        loads(raw, "http://h/v1")
    assert err.value.excerpt == raw.decode()[:200]
    assert err.value.url == "http://h/v1"


def test_loads_parses_objects() -> None:
    assert loads(json.dumps({"a": 1}).encode(), "u") == {"a": 1}
