"""parse_tool_calls: find calls in text and validate them against the tools' schemas."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.exceptions import SchemaDefinitionError, SchemaValidationError
from orchestrator.schema import parse_tool_calls
from orchestrator.types import SchemaIssue

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["path"],
                "additionalProperties": False,
            },
        },
    },
    {"name": "now", "parameters": {"type": "object", "properties": {}}},  # flat form
]


def test_valid_calls_become_langchain_tool_calls() -> None:
    text = (
        '<tool_call>{"name": "read_file", "arguments": {"path": "a.py", "limit": "10"}}</tool_call>'
    )
    [call] = parse_tool_calls(text, TOOLS)
    assert call["name"] == "read_file"
    assert call["args"] == {"path": "a.py", "limit": 10}
    assert call["id"] is not None and call["id"].startswith("call_0_")
    assert call["type"] == "tool_call"


def test_pythonic_calls_in_prose_and_flat_tool_format() -> None:
    calls = parse_tool_calls('First [read_file(path="x"), now()] then answer.', TOOLS)
    assert [(c["name"], c["args"]) for c in calls] == [("read_file", {"path": "x"}), ("now", {})]


def test_no_calls() -> None:
    assert parse_tool_calls("The answer is 4.", TOOLS) == []


def test_unknown_tool_names_the_tool() -> None:
    with pytest.raises(SchemaValidationError, match="unknown tool 'rm_rf'") as info:
        parse_tool_calls('[rm_rf(path="/")]', TOOLS)
    assert info.value.tool == "rm_rf"
    assert info.value.errors == [
        SchemaIssue("$.name", "unknown tool 'rm_rf'; use one of: now, read_file")
    ]


def test_invalid_arguments_name_the_tool_and_the_path() -> None:
    text = '{"name": "read_file", "arguments": {"limit": "ten", "mode": "w"}}'
    with pytest.raises(
        SchemaValidationError, match="invalid arguments for tool 'read_file'"
    ) as info:
        parse_tool_calls(text, TOOLS)
    err = info.value
    assert err.tool == "read_file"
    assert err.raw == text
    assert err.errors == [
        SchemaIssue("$", "'path' is a required property"),
        SchemaIssue("$", "Additional properties are not allowed ('mode' was unexpected)"),
        SchemaIssue("$.limit", "'ten' is not of type 'integer'"),
    ]


def test_strict_refuses_quoted_numbers() -> None:
    with pytest.raises(SchemaValidationError, match="read_file"):
        parse_tool_calls('[read_file(path="a", limit="10")]', TOOLS, strict=True)


def test_invalid_tool_schema_is_a_definition_error() -> None:
    tools = [{"name": "bad", "parameters": {"type": "objec"}}]
    with pytest.raises(SchemaDefinitionError):
        parse_tool_calls("[bad()]", tools)
