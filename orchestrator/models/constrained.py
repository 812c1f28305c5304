"""The part of a JSON Schema each constrained-decoding backend implements.

A server that constrains decoding with a grammar builds that grammar from the schema we send,
and each grammar compiler implements a different subset of JSON Schema. Sending a keyword the
backend does not implement either fails the request (vLLM answers HTTP 400 ``Grammar error:
Unimplemented keys: ["uniqueItems"]``) or is silently ignored. So the schema *sent* is the
subset the backend implements, computed here per backend, while the full schema is still
validated client-side (:mod:`.parse`), which catches what the grammar let through.

What each backend implements, and where that comes from:

* :attr:`GrammarBackend.VLLM` -- vLLM 0.32 in its default ``auto`` mode compiles with
  xgrammar and falls back to llguidance for schemas xgrammar cannot take
  (``vllm/sampling_params.py``, ``_validate_structured_outputs``). The subset is the one
  xgrammar takes, so the request stays on xgrammar: vLLM's
  ``has_xgrammar_unsupported_json_features`` (``vllm/v1/structured_output/backend_xgrammar.py``)
  rejects ``multipleOf``; ``uniqueItems``, ``contains``, ``minContains``, ``maxContains``;
  a ``format`` outside ``STRING_SUPPORTED_FORMATS``; ``pattern``/``format`` together with
  ``minLength``/``maxLength``; ``propertyNames`` and ``patternProperties`` beside
  ``properties``; ``allOf`` with two or more branches. xgrammar's "Supported JSON Schema"
  page lists ``type``, ``enum``, ``const``, ``anyOf``, ``oneOf`` (as ``anyOf``), one-branch
  ``allOf``, local ``$ref``, ``properties``/``required``/``additionalProperties``,
  ``items``/``prefixItems``/``minItems``/``maxItems``, string lengths, ``pattern``,
  ``format`` and numeric bounds. llguidance (the fallback) reports anything else as
  ``Unimplemented keys`` (its ``parser/src/json/README.md`` lists the same core set).
* :attr:`GrammarBackend.LLAMA_CPP` -- llama.cpp's ``json-schema-to-grammar`` (its C++
  server and the Python port in ``llama_cpp/llama_grammar.py`` that llama-cpp-python's
  server uses): ``$ref``, ``oneOf``/``anyOf``, ``allOf`` of objects, type lists, ``const``,
  ``enum``, ``properties``/``required``/``additionalProperties``,
  ``items``/``prefixItems``/``minItems``/``maxItems``, ``pattern``, ``minLength``/
  ``maxLength`` and the formats ``date``, ``time``, ``date-time`` and ``uuid``; numeric bounds
  and ``uniqueItems`` are not turned into grammar. llama-cpp-python's server takes the schema
  as ``{"type": "json_object", "schema": ...}``.
* :attr:`GrammarBackend.JSON_OBJECT` -- servers that only know ``{"type": "json_object"}``
  (any JSON object; no schema is sent).
* :attr:`GrammarBackend.NONE` -- no ``response_format`` at all: the prompt carries the
  schema and the client validates (and re-asks).

Example:
    >>> sent = constrained_schema(
    ...     {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True},
    ...     GrammarBackend.VLLM)
    >>> sent
    {'type': 'array', 'items': {'enum': ['a', 'b']}}
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

__all__ = ["GrammarBackend", "constrained_schema", "next_backend", "response_format_as"]


class GrammarBackend(StrEnum):
    """How a server constrains decoding to a schema (most capable first)."""

    VLLM = "vllm"
    LLAMA_CPP = "llama_cpp"
    JSON_OBJECT = "json_object"
    NONE = "none"


_FALLBACK = {
    GrammarBackend.VLLM: GrammarBackend.LLAMA_CPP,
    GrammarBackend.LLAMA_CPP: GrammarBackend.JSON_OBJECT,
    GrammarBackend.JSON_OBJECT: GrammarBackend.NONE,
}

_CORE = frozenset(
    {
        "type",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "pattern",
        "format",
    }
)
_KEEP: dict[GrammarBackend, frozenset[str]] = {
    GrammarBackend.VLLM: _CORE | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    GrammarBackend.LLAMA_CPP: _CORE,
}
# vLLM 0.32 STRING_SUPPORTED_FORMATS (xgrammar); llama.cpp's STRING_FORMAT_RULES and uuid.
_FORMATS: dict[GrammarBackend, frozenset[str]] = {
    GrammarBackend.VLLM: frozenset(
        {
            "email",
            "date",
            "time",
            "date-time",
            "duration",
            "ipv4",
            "ipv6",
            "hostname",
            "uuid",
            "uri",
            "uri-reference",
            "uri-template",
            "json-pointer",
            "relative-json-pointer",
        }
    ),
    GrammarBackend.LLAMA_CPP: frozenset({"date", "time", "date-time", "uuid"}),
}
_MAPS = ("properties", "$defs", "definitions")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def constrained_schema(schema: Mapping[str, Any], backend: GrammarBackend) -> dict[str, Any]:
    """The subset of ``schema`` that ``backend`` compiles into a grammar.

    Keywords the backend does not implement are dropped wherever a subschema may stand; the
    result only ever admits more than ``schema`` (never less), so client-side validation
    of the full schema stays the judge.

    Args:
        schema: a JSON Schema.
        backend: :attr:`GrammarBackend.VLLM` or :attr:`GrammarBackend.LLAMA_CPP` (the others
            send no schema; they get the schema unchanged).

    Returns:
        A new schema; ``schema`` is not modified.
    """
    if backend not in _KEEP:
        return dict(schema)
    out = _subset(schema, backend)
    return out if isinstance(out, dict) else {}


def _subset(node: Any, backend: GrammarBackend) -> Any:
    if not isinstance(node, Mapping):
        return node  # true/false schemas pass as they are
    keep = _KEEP[backend]
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in keep:
            continue
        if key in _MAPS and isinstance(value, Mapping):
            out[key] = {k: _subset(v, backend) for k, v in value.items()}
        elif key in _LISTS and isinstance(value, list):
            out[key] = [_subset(v, backend) for v in value]
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = _subset(value, backend)
        else:
            out[key] = value
    if "format" in out and out["format"] not in _FORMATS[backend]:
        del out["format"]
    if backend is GrammarBackend.VLLM:
        if ("pattern" in out or "format" in out) and ("minLength" in out or "maxLength" in out):
            out.pop("minLength", None)  # xgrammar compiles the pattern and drops the lengths
            out.pop("maxLength", None)
        if isinstance(out.get("allOf"), list) and len(out["allOf"]) > 1:
            del out["allOf"]  # xgrammar takes one-branch allOf only
    return out


def response_format_as(
    response_format: Mapping[str, Any], backend: GrammarBackend
) -> dict[str, Any] | None:
    """An OpenAI ``response_format`` rewritten for ``backend`` (``None``: send none).

    ``json_schema`` keeps its form with the schema cut to what the backend implements
    (vLLM); llama.cpp gets ``{"type": "json_object", "schema": ...}`` (what
    llama-cpp-python's server reads); a ``json_object``-only server gets just the type.
    Other formats (``text``, ``json_object`` as given) pass unchanged, except that
    :attr:`GrammarBackend.NONE` drops every JSON format.
    """
    kind = response_format.get("type")
    if kind not in ("json_schema", "json_object"):
        return dict(response_format)
    if backend is GrammarBackend.NONE:
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if kind == "json_schema" and isinstance(spec, Mapping) else None
    if schema is None:
        schema = response_format.get("schema")
    if not isinstance(schema, Mapping) or backend is GrammarBackend.JSON_OBJECT:
        return {"type": "json_object"}
    if backend is GrammarBackend.LLAMA_CPP:
        return {"type": "json_object", "schema": constrained_schema(schema, backend)}
    body = dict(spec) if isinstance(spec, Mapping) else {"name": "output"}
    body["schema"] = constrained_schema(schema, backend)
    return {"type": "json_schema", "json_schema": body}


def next_backend(backend: GrammarBackend) -> GrammarBackend | None:
    """The backend to fall back to when ``backend``'s form is rejected (``None``: none left)."""
    return _FALLBACK.get(backend)
