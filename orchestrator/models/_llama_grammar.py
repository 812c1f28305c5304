"""JSON Schema -> llama.cpp grammar for the embedded model, failing loudly, enforcing more.

llama-cpp-python constrains decoding with a GBNF grammar converted from a JSON Schema. Its own
path has three silent failures this module replaces:

* OpenAI's ``{"type": "json_schema", ...}`` response format is ignored (no grammar at all):
  :func:`schema_from_response_format` accepts it;
* a schema the converter cannot express (an external ``$ref``, a boolean sub-schema, a regex
  with look-around, an unknown type) becomes "any JSON": :func:`gbnf_for_schema` raises
  ``SchemaDefinitionError`` instead, and the caller decides;
* numeric bounds are dropped: :func:`grammar_schema` turns small integer ranges into enums, and
  :func:`unenforced_keywords` lists what the grammar still lets through, for validation to catch.

Its string rule also admits raw control characters (a newline inside a string, which is not
JSON); the grammar made here excludes them, as llama.cpp's own JSON grammar does.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from orchestrator.exceptions import ConfigError, SchemaDefinitionError

log = logging.getLogger("orchestrator.models.local")

__all__ = [
    "ANY_JSON_OBJECT",
    "gbnf_for_schema",
    "grammar_schema",
    "llama_grammar_for",
    "schema_from_response_format",
    "unenforced_keywords",
]

# Keywords llama-cpp-python's schema-to-grammar converter accepts but does not enforce: the
# schema layer's validation (and re-ask) must catch what gets through.
_UNENFORCED = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_ENFORCED_FORMATS = frozenset(
    {"date", "time", "date-time", "uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"}
)
ANY_JSON_OBJECT: dict[str, Any] = {"type": "object"}
_LITERAL_KEYS = frozenset({"const", "enum", "default", "examples"})
_BOUND_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_MAX_ENUMERATED = 64
_LOOSE_CHAR = r'[^"\\]'
_STRICT_CHAR = r'[^"\\\x7F\x00-\x1F]'


_MAX_GRAMMAR_LENGTH = 64
"""String length bounds above this are validated, not spelled out in the grammar."""


def schema_from_response_format(response_format: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema to constrain decoding with, from an OpenAI or llama.cpp form.

    * ``{"type": "json_schema", "json_schema": {"schema": S, ...}}`` (OpenAI; what
      :func:`orchestrator.schema.response_format_for` builds) -> ``S``. llama-cpp-python
      itself silently ignores this form.
    * ``{"type": "json_object", "schema": S}`` (llama-cpp-python) -> ``S``.
    * ``{"type": "json_object"}`` -> any JSON object; ``{"type": "text"}`` / ``None`` -> None.

    Raises:
        ConfigError: an unknown ``type`` or a missing schema.
    """
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        schema = response_format.get("schema", ANY_JSON_OBJECT)
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
    else:
        raise ConfigError(
            f"response_format type {kind!r} is not supported; use json_schema or json_object"
        )
    if not isinstance(schema, Mapping):
        raise ConfigError("response_format has no JSON Schema object under json_schema.schema")
    return dict(schema)


def gbnf_for_schema(schema: Mapping[str, Any]) -> str:
    """The llama.cpp grammar (GBNF) that constrains output to ``schema``.

    llama-cpp-python, given a schema it cannot convert (an external ``$ref``, a boolean
    sub-schema, a regex with look-around, an unknown type), silently constrains to "any JSON"
    instead. This function raises, so the caller decides. Results are cached per schema.

    Raises:
        SchemaDefinitionError: the converter cannot express ``schema`` as a grammar.
    """
    # Key order is kept: the grammar writes properties in schema order (title before steps).
    return _gbnf_cached(json.dumps(grammar_schema(schema)))


@lru_cache(maxsize=256)
def _gbnf_cached(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = str(json_schema_to_gbnf(schema_json))
    except Exception as err:  # the converter raises ValueError, AssertionError, KeyError...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SchemaDefinitionError(
            f"llama.cpp cannot turn this JSON Schema into a grammar: {reason}"
        ) from err
    # The converter's string characters admit raw control characters (a newline inside a
    # string), which is not JSON; llama.cpp's own JSON grammar excludes them, and so do we.
    return "\n".join(
        line.replace(_LOOSE_CHAR, _STRICT_CHAR, 1) if line.startswith("char ::= ") else line
        for line in gbnf.splitlines()
    )


def grammar_schema(schema: Any) -> Any:
    """``schema`` rewritten so the grammar enforces more of it; validation keeps the original.

    The converter ignores numeric bounds, so a small bounded integer range (at most
    64 values, e.g. ``{"type": "integer", "minimum": 1, "maximum": 9}``) becomes the ``enum``
    of its values, which the grammar does enforce: a 135M model asked for a step number of
    at most 9 otherwise writes 10 again on every re-ask.
    """
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    values = _integer_values(schema)
    if values is not None:
        return {"enum": values}
    return {
        key: value if key in _LITERAL_KEYS else grammar_schema(value)
        for key, value in schema.items()
        if not _long_length_bound(key, value)
    }


def _long_length_bound(key: str, value: Any) -> bool:
    """A string length bound too long to spell out in a grammar.

    The converter writes ``maxLength: n`` as n nested optional characters; at a few hundred
    the grammar grows past what llama.cpp parses and everything falls back to plain JSON.
    Long bounds are left to validation (and ``max_tokens`` ends generation).
    """
    return (
        key in ("maxLength", "minLength")
        and isinstance(value, int)
        and not isinstance(value, bool)
        and value > _MAX_GRAMMAR_LENGTH
    )


def _integer_values(node: dict[str, Any]) -> list[int] | None:
    if node.get("type") not in ("integer", ["integer"]) or "enum" in node or "const" in node:
        return None
    bounds = [node.get(k) for k in _BOUND_KEYS]
    if any(isinstance(b, bool) or not isinstance(b, int | float | None) for b in bounds):
        return None
    minimum, maximum, above, below = bounds
    lows = [math.ceil(minimum)] if minimum is not None else []
    lows += [math.floor(above) + 1] if above is not None else []
    highs = [math.floor(maximum)] if maximum is not None else []
    highs += [math.ceil(below) - 1] if below is not None else []
    if not lows or not highs or not 0 <= min(highs) - max(lows) < _MAX_ENUMERATED:
        return None
    low, high = max(lows), min(highs)
    step = node.get("multipleOf")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step <= 0):
        return None
    return [i for i in range(low, high + 1) if step is None or i % step == 0]


def unenforced_keywords(schema: Any) -> list[str]:
    """Keywords in ``schema`` that the grammar accepts but does not enforce, sorted.

    Numeric bounds (except small integer ranges, see :func:`grammar_schema`),
    ``uniqueItems``, ``not`` and formats other than date/time/uuid pass the grammar
    unchecked; client-side validation catches them. Formats are reported as ``format:<name>``.
    """
    found: set[str] = set()
    if _has_long_length_bound(schema):
        found.add("maxLength")
    stack: list[Any] = [grammar_schema(schema)]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _UNENFORCED:
                found.add(key)
            elif key == "format" and isinstance(value, str) and value not in _ENFORCED_FORMATS:
                found.add(f"format:{value}")
            if key in ("properties", "$defs", "definitions"):
                if isinstance(value, dict):
                    stack.extend(value.values())
            elif key not in _LITERAL_KEYS:
                stack.append(value)
    return sorted(found)


def _has_long_length_bound(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_has_long_length_bound(item) for item in schema)
    if not isinstance(schema, dict):
        return False
    return any(
        _long_length_bound(key, value)
        or (key not in _LITERAL_KEYS and _has_long_length_bound(value))
        for key, value in schema.items()
    )


def llama_grammar_for(
    schema: Mapping[str, Any] | None, *, accepts: Callable[[str], bool], strict: bool
) -> tuple[Any, dict[str, Any]]:
    """The ``LlamaGrammar`` for ``schema`` and what to report about it in response metadata.

    Args:
        schema: the JSON Schema to constrain to; ``None`` for no grammar.
        accepts: whether llama.cpp parses a GBNF text (checked before it reaches a sampler).
        strict: raise rather than fall back to "any JSON object" when the schema cannot be
            converted; the fallback is logged as a warning.

    Returns:
        ``(grammar or None, {"grammar": "none" | "json_schema" | "json",
        "grammar_unenforced": [...] when any})``.

    Raises:
        SchemaDefinitionError: ``strict`` and the schema cannot become a grammar.
    """
    if schema is None:
        return None, {"grammar": "none"}
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        gbnf = gbnf_for_schema(schema)
        if not accepts(gbnf):
            raise SchemaDefinitionError("llama.cpp rejected the grammar made from the schema")
    except SchemaDefinitionError as err:
        if strict:
            raise
        log.warning("%s; constraining to any JSON object instead", err)
        fallback = LlamaGrammar.from_string(gbnf_for_schema(ANY_JSON_OBJECT), verbose=False)
        return fallback, {"grammar": "json"}
    info: dict[str, Any] = {"grammar": "json_schema"}
    unenforced = unenforced_keywords(schema)
    if unenforced:
        info["grammar_unenforced"] = unenforced
    return LlamaGrammar.from_string(gbnf, verbose=False), info
