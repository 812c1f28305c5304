"""The reasoner's default output schemas and the planner's ``delegate`` tool.

Strings and arrays are bounded so that a small model under a grammar stops generating; the
schema layer validates the bounds the grammar cannot enforce.
"""

from __future__ import annotations

from typing import Any

from orchestrator.types import DelegateKind

__all__ = ["CODE_SCHEMA", "DELEGATE_TOOL_SCHEMA", "MATH_SCHEMA", "default_output_schema"]

MATH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "minLength": 1, "maxLength": 500},
        "steps": {
            "type": "array",
            "items": {"type": "string", "maxLength": 1000},
            "maxItems": 20,
        },
    },
    "required": ["answer", "steps"],
    "additionalProperties": False,
}

CODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "minLength": 1, "maxLength": 40},
        "code": {"type": "string", "minLength": 1, "maxLength": 20000},
        "explanation": {"type": "string", "maxLength": 4000},
        "tests": {"type": "string", "maxLength": 20000},
    },
    "required": ["language", "code", "explanation"],
    "additionalProperties": False,
}

DELEGATE_TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "delegate",
        "description": (
            "Hand a math or code subtask to the reasoning model. Returns its result as JSON "
            "(math: answer and steps; code: language, code, explanation, tests)."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": [k.value for k in DelegateKind]},
                "task": {
                    "type": "string",
                    "minLength": 1,
                    "description": "the self-contained subtask, with every fact it needs",
                },
                "output_schema": {
                    "type": "object",
                    "description": "optional JSON Schema the result must match",
                },
            },
            "required": ["kind", "task"],
            "additionalProperties": False,
        },
    },
}


def default_output_schema(kind: str) -> dict[str, Any]:
    """The schema for a delegate kind (``math`` or ``code``)."""
    return CODE_SCHEMA if kind == DelegateKind.CODE else MATH_SCHEMA
