"""The schema sent for constrained decoding, per backend (issue 13.1), and the fallback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.exceptions import ModelConnectionError, ModelHTTPError, ModelResponseError
from orchestrator.models._grammar_fallback import GrammarState, rewrite_constraints
from orchestrator.models.constrained import (
    GrammarBackend,
    constrained_schema,
    next_backend,
    response_format_as,
)
from orchestrator.schema import response_format_for, validator_for

FULL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True},
        "n": {"type": "integer", "minimum": 0, "multipleOf": 2},
        "when": {"type": "string", "format": "date", "maxLength": 10},
        "tag": {"type": "string", "format": "color"},
        "meta": {"type": "object", "propertyNames": {"pattern": "^x"}, "minProperties": 1},
        "both": {"allOf": [{"type": "string"}, {"minLength": 2}]},
    },
    "required": ["files"],
    "additionalProperties": False,
    "$defs": {"item": {"type": "array", "contains": {"const": 1}, "maxItems": 3}},
}


def _keywords(schema: Any) -> set[str]:
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in ("properties", "$defs"):
                    found.add(key)
                    stack.append(value)
                else:
                    stack.extend(value.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def test_vllm_subset_keeps_what_xgrammar_compiles_and_drops_the_rest() -> None:
    cut = constrained_schema(FULL, GrammarBackend.VLLM)
    props = cut["properties"]
    assert props["files"] == {"type": "array", "items": {"enum": ["a", "b"]}}
    assert props["n"] == {"type": "integer", "minimum": 0}
    assert props["when"] == {"type": "string", "format": "date"}  # format + length: no length
    assert props["tag"] == {"type": "string"}  # a format xgrammar does not know
    assert props["meta"] == {"type": "object"}
    assert props["both"] == {}  # two-branch allOf
    assert cut["$defs"]["item"] == {"type": "array", "maxItems": 3}
    assert _keywords(cut) <= {
        *("type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "required", "items"),
        *("additionalProperties", "prefixItems", "minItems", "maxItems", "minLength"),
        *("maxLength", "pattern", "format", "minimum", "maximum"),
        *("exclusiveMinimum", "exclusiveMaximum"),
    }
    assert FULL["properties"]["files"]["uniqueItems"] is True  # the input is left alone


def test_llama_cpp_subset_has_no_numeric_bounds() -> None:
    cut = constrained_schema(FULL, GrammarBackend.LLAMA_CPP)
    assert cut["properties"]["n"] == {"type": "integer"}
    assert cut["properties"]["when"] == {"type": "string", "format": "date", "maxLength": 10}


@pytest.mark.parametrize("backend", [GrammarBackend.VLLM, GrammarBackend.LLAMA_CPP])
def test_a_subset_only_ever_admits_more(backend: GrammarBackend) -> None:
    """Whatever the full schema accepts, the sent schema accepts: validation stays the judge."""
    instances = [
        {"files": ["a"]},
        {"files": ["a", "b"], "n": 4, "when": "2024-01-01", "tag": "x", "both": "ab"},
        {"files": [], "meta": {"xa": 1}},
    ]
    full, cut = validator_for(FULL), validator_for(constrained_schema(FULL, backend))
    for instance in instances:
        assert full.is_valid(instance) and cut.is_valid(instance)
    assert cut.is_valid({"files": ["a", "a"]}) and not full.is_valid({"files": ["a", "a"]})


def test_response_format_per_backend() -> None:
    fmt = response_format_for(FULL, "pick")
    vllm = response_format_as(fmt, GrammarBackend.VLLM)
    assert vllm is not None and vllm["json_schema"]["name"] == "pick"
    assert "uniqueItems" not in json.dumps(vllm)
    llama = response_format_as(fmt, GrammarBackend.LLAMA_CPP)
    assert llama is not None and llama["type"] == "json_object" and "schema" in llama
    assert response_format_as(fmt, GrammarBackend.JSON_OBJECT) == {"type": "json_object"}
    assert response_format_as(fmt, GrammarBackend.NONE) is None
    assert response_format_as({"type": "text"}, GrammarBackend.NONE) == {"type": "text"}
    assert [next_backend(b) for b in GrammarBackend] == [
        GrammarBackend.LLAMA_CPP,
        GrammarBackend.JSON_OBJECT,
        GrammarBackend.NONE,
        None,
    ]


def test_rewrite_cuts_tools_and_structured_outputs_too() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": FULL}}
    body: dict[str, Any] = {"tools": [tool], "structured_outputs": {"json": FULL}}
    assert rewrite_constraints(body, GrammarState(GrammarBackend.VLLM)) is None
    assert "uniqueItems" not in json.dumps(body)
    assert tool["function"]["parameters"] is FULL  # copies, not in place


def test_fallback_steps_down_only_for_format_rejections() -> None:
    state = GrammarState(GrammarBackend.VLLM)
    assert not state.fall_back(ModelConnectionError("cannot reach http://x: schema"))
    assert not state.fall_back(ModelHTTPError("HTTP 400: context length exceeded", status=400))
    assert state.fall_back(
        ModelHTTPError("HTTP 400: Grammar error: Unimplemented keys", status=400)
    )
    assert state.fall_back(ModelResponseError("server error mid-stream: response_format"))
    assert state.fall_back(ModelHTTPError("HTTP 500: json_schema not supported", status=500))
    assert not state.fall_back(ModelHTTPError("HTTP 500: json_schema", status=500))  # none left
    note = state.note()
    assert note is not None and note["backend"] == "none"
    assert [s["to"] for s in note["steps"]] == ["llama_cpp", "json_object", "none"]
    body: dict[str, Any] = {"response_format": response_format_for(FULL, "x")}
    rewrite_constraints(body, state)
    assert "response_format" not in body
