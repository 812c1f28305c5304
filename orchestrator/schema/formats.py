"""The constrained-decoding request payload for a schema (OpenAI ``json_schema`` form).

vLLM accepts it as ``response_format`` and decodes only tokens that keep the output valid;
our local llama.cpp client converts the same payload to its own grammar form.

Example:
    >>> response_format_for({"type": "integer"}, name="n")["json_schema"]["name"]
    'n'
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.schema.validate import SchemaLike, check_schema, schema_dict

__all__ = ["response_format_for", "schema_label"]

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def response_format_for(schema: SchemaLike, name: str = "output") -> dict[str, Any]:
    """``{"type": "json_schema", "json_schema": {"name", "schema", "strict": True}}``.

    Args:
        schema: a JSON Schema dict or a pydantic model class.
        name: the schema's name; characters OpenAI does not allow become ``_`` and it is cut
            to 64 characters.

    Raises:
        SchemaDefinitionError: the schema is invalid.
    """
    body = dict(schema_dict(schema))
    check_schema(body)
    clean = _BAD_NAME_CHARS.sub("_", name).strip("_")[:64] or "output"
    return {"type": "json_schema", "json_schema": {"name": clean, "schema": body, "strict": True}}


def schema_label(schema: SchemaLike) -> str:
    """A short name for a schema in stats and messages: the model's class name, the
    schema's ``title``, or ``"output"``."""
    if isinstance(schema, type):
        return schema.__name__
    title = schema.get("title")
    return title if isinstance(title, str) and title else "output"
