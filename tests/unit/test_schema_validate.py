"""validator_for, check_schema, error paths, response_format_for, EnforcementStats."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pydantic import BaseModel

from orchestrator.exceptions import SchemaDefinitionError
from orchestrator.schema import (
    EnforcementStats,
    EnforceOutcome,
    check_schema,
    response_format_for,
    validator_for,
)
from orchestrator.schema.validate import errors_of, json_path
from orchestrator.types import SchemaIssue


def test_validator_is_cached_by_canonical_json() -> None:
    a = validator_for({"type": "object", "properties": {"x": {"type": "integer"}}})
    b = validator_for({"properties": {"x": {"type": "integer"}}, "type": "object"})
    assert a is b


def test_cached_validator_ignores_later_mutation_of_the_callers_schema() -> None:
    schema: dict[str, Any] = {"type": "integer", "title": "mutation-test"}
    validator = validator_for(schema)
    schema["type"] = "string"
    assert validator.is_valid(3)
    assert validator_for(schema) is not validator


def test_draft_2020_12_with_format_checking() -> None:
    v = validator_for(
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "items": {"prefixItems": [{"type": "integer"}], "items": False},
            },
        }
    )
    assert errors_of(v, {"when": "2024-05-01T10:00:00Z", "items": [1]}) == []
    assert errors_of(v, {"when": "yesterday", "items": [1, 2]}) == [
        SchemaIssue("$.items", "Expected at most 1 item but found 1 extra: 2"),
        SchemaIssue("$.when", "'yesterday' is not a 'date-time'"),
    ]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "strin"}, "invalid JSON Schema at $.type"),
        ({"properties": {"a": {"pattern": "("}}}, "invalid JSON Schema at $.properties.a.pattern"),
        ({"$ref": "#/$defs/Missing"}, "schema reference '#/$defs/Missing' cannot be resolved"),
        ({"const": {1, 2}}, "schema is not valid JSON"),
    ],
)
def test_invalid_schema_raises_definition_error(schema: Any, message: str) -> None:
    with pytest.raises(SchemaDefinitionError, match="^" + message.replace("$", r"\$")):
        check_schema(schema)


def test_non_mapping_schema_is_a_definition_error() -> None:
    with pytest.raises(SchemaDefinitionError, match="must be an object"):
        validator_for([1, 2])  # type: ignore[arg-type]


def test_local_refs_resolve() -> None:
    schema = {"$defs": {"N": {"type": "integer"}}, "properties": {"n": {"$ref": "#/$defs/N"}}}
    assert errors_of(validator_for(schema), {"n": "x"}) == [
        SchemaIssue("$.n", "'x' is not of type 'integer'")
    ]


def test_any_of_reports_the_closest_branch() -> None:
    v = validator_for(
        {"anyOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}, {"type": "null"}]}
    )
    assert errors_of(v, {"a": "x"}) == [SchemaIssue("$.a", "'x' is not of type 'integer'")]


def test_json_path() -> None:
    assert json_path([]) == "$"
    assert json_path(["steps", 2, "odd key", "_ok1"]) == '$.steps[2]["odd key"]._ok1'


class Answer(BaseModel):
    answer: int


def test_response_format_for_dict_and_model() -> None:
    assert response_format_for({"type": "integer"}, name="my answer!") == {
        "type": "json_schema",
        "json_schema": {"name": "my_answer", "schema": {"type": "integer"}, "strict": True},
    }
    fmt = response_format_for(Answer)
    assert fmt["json_schema"]["name"] == "output"
    assert fmt["json_schema"]["schema"]["required"] == ["answer"]


def test_response_format_for_rejects_invalid_schema() -> None:
    with pytest.raises(SchemaDefinitionError):
        response_format_for({"type": 5})


def test_stats_count_merge_and_report_every_outcome() -> None:
    stats = EnforcementStats()
    threads = [
        threading.Thread(
            target=lambda: [stats.record("m", "s", EnforceOutcome.FIRST_PASS) for _ in range(500)]
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other = EnforcementStats()
    other.record("m", "s", EnforceOutcome.FAILED)
    other.record("m2", "s", EnforceOutcome.REASKED)
    stats.merge(other)
    assert stats.as_dict() == {
        "m2::s": {
            "first_pass": 0,
            "repaired": 0,
            "coerced": 0,
            "from_reasoning": 0,
            "reasked": 1,
            "failed": 0,
        },
        "m::s": {
            "first_pass": 2000,
            "repaired": 0,
            "coerced": 0,
            "from_reasoning": 0,
            "reasked": 0,
            "failed": 1,
        },
    }
    assert stats.count("m", "s", EnforceOutcome.FAILED) == 1
    with pytest.raises(ValueError):
        stats.merge(stats)


def test_pydantic_model_without_a_json_schema_is_a_definition_error() -> None:
    from collections.abc import Callable

    from pydantic import ConfigDict

    class Opaque(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        fn: Callable[[], int]

    with pytest.raises(SchemaDefinitionError, match="Opaque has no JSON Schema"):
        response_format_for(Opaque)


def test_same_schema_object_is_served_from_the_fast_path_and_sees_mutation() -> None:
    schema: dict[str, Any] = {"type": "object", "title": "fast-path"}
    first = validator_for(schema)
    assert validator_for(schema) is first
    schema["required"] = ["x"]
    assert not validator_for(schema).is_valid({})
