"""coerce / parse_output: candidates, strict-then-repair, lossless scalar coercion, errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, field_validator

from orchestrator.exceptions import SchemaDefinitionError, SchemaValidationError
from orchestrator.schema import coerce, parse_output
from orchestrator.types import SchemaIssue

MATH: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "integer"},
        "steps": {"type": "array", "items": {"type": "string"}},
        "exact": {"type": "boolean"},
    },
    "required": ["answer", "steps"],
    "additionalProperties": False,
}
GOOD = {"answer": 42, "steps": ["6 * 7 = 42"]}


@pytest.mark.parametrize(
    ("raw", "source", "repaired", "coerced"),
    [
        ('{"answer": 42, "steps": ["6 * 7 = 42"]}', "whole", False, False),
        (
            '<think>{"answer": 41, "steps": []}</think>{"answer": 42, "steps": ["6 * 7 = 42"]}',
            "whole",
            False,
            False,
        ),
        (
            'Here you go:\n```json\n{"answer": 42, "steps": ["6 * 7 = 42"]}\n```\nDone.',
            "fence",
            False,
            False,
        ),
        (
            'I first thought {"answer": 41, "steps": []} but the answer is '
            '{"answer": 42, "steps": ["6 * 7 = 42"]} indeed.',
            "balanced",
            False,
            False,
        ),
        ("{'answer': 42, 'steps': ['6 * 7 = 42'],}", "balanced", True, False),
        ('{"answer": 42, // the product\n "steps": ["6 * 7 = 42"]}', "balanced", True, False),
        ('Result: {"answer": 42, "steps": ["6 * 7 = 42"]', "tail", True, False),
        ('{"answer": "42", "steps": ["6 * 7 = 42"]}', "whole", False, True),
        ("```\n{'answer': '42', 'steps': ['6 * 7 = 42']}\n```", "fence", True, True),
        (
            '<think>only thinking {"answer": 42, "steps": ["6 * 7 = 42"]}</think>',
            "reasoning:balanced",
            False,
            False,
        ),
    ],
)
def test_recovers_the_answer(raw: str, source: str, repaired: bool, coerced: bool) -> None:
    parsed = parse_output(raw, MATH)
    assert parsed.value == GOOD
    assert (parsed.source, parsed.repaired, parsed.coerced) == (source, repaired, coerced)


def test_content_wins_over_reasoning() -> None:
    raw = '<think>{"answer": 1, "steps": []}</think> {"answer": 42, "steps": ["6 * 7 = 42"]}'
    assert coerce(raw, MATH) == GOOD
    assert parse_output('{"answer": 42, "steps": []}', MATH, reasoning='{"answer": 1}').value == {
        "answer": 42,
        "steps": [],
    }


def test_reasoning_field_is_searched_only_when_content_is_empty() -> None:
    parsed = parse_output("  ", MATH, reasoning='so {"answer": 42, "steps": ["6 * 7 = 42"]}')
    assert parsed.value == GOOD and parsed.source == "reasoning:balanced"
    with pytest.raises(SchemaValidationError):
        parse_output("no json here", MATH, reasoning='{"answer": 42, "steps": []}')


def test_answer_after_prose_for_scalars() -> None:
    assert coerce("Let me compute.\nThe answer is: **42**.", {"type": "integer"}) == 42
    assert coerce("true", {"type": "boolean"}) is True


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        ('"10"', {"type": "integer"}, 10),
        ('"-2.5e3"', {"type": "number"}, -2500.0),
        ('"TRUE"', {"type": "boolean"}, True),
        ('"null"', {"type": "null"}, None),
        ('{"x": "3"}', {"properties": {"x": {"enum": [1, 3]}}}, {"x": 3}),
        ('{"x": "false"}', {"properties": {"x": {"const": False}}}, {"x": False}),
        (
            '{"x": ["1", "2"]}',
            {"properties": {"x": {"type": "array", "items": {"type": "integer"}}}},
            {"x": [1, 2]},
        ),
        (
            '{"x": "7"}',
            {"properties": {"x": {"anyOf": [{"type": "boolean"}, {"type": "integer"}]}}},
            {"x": 7},
        ),
        (
            '{"x": "7"}',
            {"properties": {"x": {"$ref": "#/$defs/N"}}, "$defs": {"N": {"type": "integer"}}},
            {"x": 7},
        ),
    ],
)
def test_lossless_scalar_coercion(value: str, schema: dict[str, Any], expected: Any) -> None:
    assert coerce(value, schema) == expected


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        ('"1.5"', {"type": "integer"}),  # would lose the fraction
        ('"10 apples"', {"type": "integer"}),
        ('"1e999"', {"type": "number"}),
        ('"yes"', {"type": "boolean"}),
        ("10", {"type": "string"}),  # numbers are never turned into strings
        ('"NaN"', {"type": "number"}),
    ],
)
def test_lossy_coercion_is_refused(value: str, schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaValidationError):
        coerce(value, schema)


def test_strict_refuses_scalar_coercion_but_still_repairs() -> None:
    with pytest.raises(SchemaValidationError) as info:
        coerce('{"answer": "42", "steps": []}', MATH, strict=True)
    assert info.value.errors == [SchemaIssue("$.answer", "'42' is not of type 'integer'")]
    assert coerce("{'answer': 42, 'steps': [],}", MATH, strict=True) == {"answer": 42, "steps": []}


def test_error_carries_paths_raw_and_what_was_tried() -> None:
    raw = 'Answer: {"answer": "x", "steps": [1], "extra": true}'
    with pytest.raises(SchemaValidationError) as info:
        coerce(raw, MATH)
    err = info.value
    assert err.errors == [
        SchemaIssue("$", "Additional properties are not allowed ('extra' was unexpected)"),
        SchemaIssue("$.answer", "'x' is not of type 'integer'"),
        SchemaIssue("$.steps[0]", "1 is not of type 'string'"),
    ]
    assert err.raw == raw
    assert err.tried == ["strict:whole", "strict:balanced", "coerce:balanced", "strict:after-prose"]
    assert err.attempts == 1


def test_nothing_found() -> None:
    with pytest.raises(SchemaValidationError) as info:
        coerce("I do not know.", MATH)
    assert info.value.errors == [SchemaIssue("$", "no JSON value found in the output")]


@pytest.mark.parametrize("raw", ['{"answer": NaN}', '{"answer": Infinity', '{"answer": 1e999}'])
def test_non_finite_numbers_are_rejected(raw: str) -> None:
    with pytest.raises(SchemaValidationError):
        coerce(raw, {"type": "object", "properties": {"answer": {"type": "number"}}})


def test_truncated_output_is_not_repaired_when_repair_is_disallowed() -> None:
    raw = '{"answer": 4'
    assert coerce(raw, {"type": "object"}) == {"answer": 4}
    with pytest.raises(SchemaValidationError):
        parse_output(raw, {"type": "object"}, allow_repair=False)


def test_invalid_schema_is_a_definition_error() -> None:
    with pytest.raises(SchemaDefinitionError):
        coerce("{}", {"type": "nope"})


class Solution(BaseModel):
    answer: int
    steps: list[str]

    @field_validator("steps")
    @classmethod
    def _non_empty(cls, steps: list[str]) -> list[str]:
        if not steps:
            raise ValueError("give at least one step")
        return steps


def test_pydantic_model_returns_an_instance() -> None:
    value = coerce('```json\n{"answer": "42", "steps": ["6 * 7"]}\n```', Solution)
    assert value == Solution(answer=42, steps=["6 * 7"])


def test_pydantic_validators_run_and_report_paths() -> None:
    with pytest.raises(SchemaValidationError) as info:
        coerce('{"answer": 42, "steps": []}', Solution)
    assert info.value.errors == [SchemaIssue("$.steps", "Value error, give at least one step")]


def test_tool_call_written_as_text_matches_an_action_schema() -> None:
    action = {
        "type": "object",
        "properties": {"action": {"const": "search"}, "arguments": {"type": "object"}},
        "required": ["action", "arguments"],
    }
    assert coerce('I will search. [search(query="x")]', action) == {
        "action": "search",
        "arguments": {"query": "x"},
    }


@pytest.mark.parametrize("depth", [300, 5000])
def test_values_nested_too_deeply_are_refused_not_crashed_on(depth: int) -> None:
    recursive = {
        "$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
        "$ref": "#/$defs/n",
    }
    with pytest.raises(SchemaValidationError):
        coerce("[" * depth + "]" * depth, recursive)
