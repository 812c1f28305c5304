"""Double-encoded values (issue 13.4): decoded where the schema wants an object or array,
counted as a repair; a string property stays a string."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.utils.json import parse_partial_json

from orchestrator.exceptions import SchemaValidationError
from orchestrator.models._reply import ReplyContext, decode_completion
from orchestrator.models._sse import _unparseable
from orchestrator.schema import parse_output

XY: dict[str, Any] = {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}
ACTION: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"action": {"const": "add"}, "arguments": XY},
            "required": ["action", "arguments"],
        }
    ]
}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps('{"x": 4, "y": 5}'),
        json.dumps('```json\n{"x": 4, "y": 5}\n```'),
        json.dumps('<think>sure</think>{"x": 4, "y": 5}'),
        "<think>ok</think>\n" + json.dumps('{"x": 4, "y": "5"}'),
    ],
)
def test_a_whole_output_encoded_twice_is_decoded_as_a_repair(text: str) -> None:
    parsed = parse_output(text, XY)
    assert parsed.value == {"x": 4, "y": 5}
    assert parsed.repaired
    assert any(step.startswith("decode:") for step in parsed.tried)


def test_nested_arguments_encoded_twice_are_decoded() -> None:
    text = json.dumps({"action": "add", "arguments": json.dumps({"x": 1, "y": 2})})
    assert parse_output(text, ACTION).value == {"action": "add", "arguments": {"x": 1, "y": 2}}


def test_a_string_property_stays_a_string() -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string"}}}
    assert parse_output('{"code": "{\\"a\\": 1}"}', schema).value == {"code": '{"a": 1}'}


def test_a_decoded_value_that_is_still_invalid_is_refused() -> None:
    with pytest.raises(SchemaValidationError, match="required"):
        parse_output(json.dumps('{"x": 4}'), XY)
    with pytest.raises(SchemaValidationError):
        parse_output(json.dumps("not json at all"), XY)


def test_native_arguments_encoded_twice_are_a_valid_call() -> None:
    arguments = json.dumps(json.dumps({"x": 4, "y": 5}))
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": arguments}}
    data = {
        "choices": [
            {"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}
        ]
    }
    reply = decode_completion(data, ReplyContext(), url="u", latency_s=0.0)
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("add", {"x": 4, "y": 5})]


@pytest.mark.parametrize(
    "args",
    ["", "{", '{"path":', '{"path": "a', '{"a": [1, {"b": "x\\"', '{"a": 1}', '"str'],
)
def test_streamed_arguments_cut_off_never_parse(args: str) -> None:
    """langchain completes ``{"path":`` to ``{"path": ""}``; the suffix stops it."""
    assert not isinstance(parse_partial_json(args + _unparseable(args)), dict)


def test_streamed_native_arguments_encoded_twice_are_a_valid_call() -> None:
    from orchestrator.models._sse import StreamDecoder

    decoder = StreamDecoder(ReplyContext(), url="u", started=0.0)
    encoded = json.dumps(json.dumps({"x": 4, "y": 5}))
    pieces = [encoded[:5], encoded[5:17], encoded[17:]]
    events: list[dict[str, Any]] = [
        {"index": 0, "id": "c1", "function": {"name": "add", "arguments": pieces[0]}},
        {"index": 0, "function": {"arguments": pieces[1]}},
        {"index": 0, "function": {"arguments": pieces[2]}},
    ]
    chunks = []
    for call in events:
        payload = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        chunks += decoder.feed_line("data: " + json.dumps(payload))
        chunks += decoder.feed_line("")
    done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
    chunks += decoder.feed_line("data: " + json.dumps(done))
    chunks += decoder.feed_line("")
    chunks += decoder.finish()
    merged = chunks[0].message
    for chunk in chunks[1:]:
        merged = merged + chunk.message
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("add", {"x": 4, "y": 5})]
