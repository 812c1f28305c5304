"""Cached JSON Schema validators (Draft 2020-12, format checking on) and error reporting.

A validator is built once per distinct schema (keyed by the schema's canonical JSON), so
validating every tool call and every reasoner output costs one ``iter_errors`` walk. A schema
that is itself invalid raises :class:`~orchestrator.exceptions.SchemaDefinitionError` when
the validator is first built, which pipelines do when they load, not in the middle of a run.

Example:
    >>> v = validator_for({"type": "object", "required": ["n"]})
    >>> [str(e) for e in errors_of(v, {})]
    ["$: 'n' is a required property"]
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from pydantic import BaseModel, PydanticUserError

from orchestrator.exceptions import SchemaDefinitionError
from orchestrator.types import SchemaIssue

__all__ = [
    "SchemaLike",
    "Validator",
    "check_schema",
    "errors_of",
    "json_path",
    "schema_dict",
    "validator_for",
]

SchemaLike = Mapping[str, Any] | type[BaseModel]
"""What the enforcement layer accepts as a schema: a JSON Schema or a pydantic model class."""

_VALIDATOR_CLS = jsonschema.Draft202012Validator
_FORMAT_CHECKER = _VALIDATOR_CLS.FORMAT_CHECKER
_CACHE_SIZE = 512
_MAX_ERRORS = 20
_MAX_MESSAGE = 300
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TOO_DEEP = SchemaIssue("$", "value is nested too deeply to validate")

_cache: dict[str, Validator] = {}
_by_id: dict[int, tuple[Mapping[str, Any], Any, Validator]] = {}
_lock = threading.Lock()


def canonical_json(schema: Mapping[str, Any]) -> str:
    """The schema as canonical JSON (sorted keys, no spaces): the validator cache key.

    Raises:
        SchemaDefinitionError: the schema is not JSON (e.g. holds a set or a function).
    """
    try:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise SchemaDefinitionError(f"schema is not valid JSON: {err}") from err


def schema_dict(schema: SchemaLike) -> Mapping[str, Any]:
    """The JSON Schema of ``schema``: the mapping itself, or a pydantic model's JSON schema
    (built once per model; do not mutate it).

    Raises:
        SchemaDefinitionError: neither a mapping nor a pydantic model class.
    """
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return _model_schema(schema)
    if isinstance(schema, Mapping):
        return schema
    raise SchemaDefinitionError(
        f"a schema must be a JSON Schema dict or a pydantic model class, not {schema!r}"
    )


@functools.cache
def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    try:
        return model.model_json_schema()
    except PydanticUserError as err:  # e.g. a field type with no JSON Schema
        raise SchemaDefinitionError(f"{model.__name__} has no JSON Schema: {err}") from err


def validator_for(schema: Mapping[str, Any]) -> Validator:
    """A cached Draft 2020-12 validator, with format checking, for ``schema``.

    Args:
        schema: a JSON Schema (a dict). Equal schemas share one validator.

    Returns:
        A :class:`jsonschema.protocols.Validator`.

    Raises:
        SchemaDefinitionError: the schema is invalid (bad keyword value, bad regex,
            a ``$ref`` that points nowhere).

    Example:
        >>> validator_for({"type": "integer"}).is_valid(3)
        True
    """
    if not isinstance(schema, Mapping):
        raise SchemaDefinitionError(f"a JSON Schema must be an object, not {type(schema).__name__}")
    # Fast path: the same schema object again, unchanged since (``==`` is far cheaper than
    # canonical JSON). The entry holds the object, so its id cannot be reused meanwhile.
    hit = _by_id.get(id(schema))
    if hit is not None and hit[0] is schema and hit[1] == schema:
        return hit[2]
    key = canonical_json(schema)
    validator = _cache.get(key)
    if validator is None:
        schema_copy = json.loads(key)  # private copy: callers may mutate theirs
        _check(schema_copy)
        validator = _VALIDATOR_CLS(schema_copy, format_checker=_FORMAT_CHECKER)
    with _lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        if len(_by_id) >= _CACHE_SIZE:
            _by_id.pop(next(iter(_by_id)))
        _cache[key] = validator
        _by_id[id(schema)] = (schema, json.loads(key), validator)
    return validator


def check_schema(schema: Mapping[str, Any]) -> None:
    """Check that ``schema`` is a valid Draft 2020-12 schema (and cache its validator).

    Raises:
        SchemaDefinitionError: with the JSON path of the offending keyword.
    """
    validator_for(schema)


def errors_of(validator: Validator, instance: Any) -> list[SchemaIssue]:
    """Every validation error of ``instance`` (at most 20), each a JSON path and a message.

    For ``anyOf``/``oneOf`` failures the closest branch's error is reported, since that is
    the one a model can act on.

    A value nested too deeply to validate is one error at ``$``.

    Raises:
        SchemaDefinitionError: the schema holds a reference that cannot be resolved.
    """
    out: list[SchemaIssue] = []
    try:
        for error in _iter_errors(validator, instance):
            if error.context:
                error = best_match([error])
            out.append(SchemaIssue(json_path(error.absolute_path), _short(error.message)))
            if len(out) >= _MAX_ERRORS:
                break
    except RecursionError:
        return [_TOO_DEEP]
    out.sort(key=lambda e: (e.path, e.message))
    return out


def iter_raw_errors(validator: Validator, instance: Any) -> Iterator[ValidationError]:
    """``validator.iter_errors`` with unresolvable references reported as schema errors."""
    return _iter_errors(validator, instance)


def json_path(parts: Any) -> str:
    """A JSON path such as ``$.steps[2]["odd key"]`` from a sequence of keys and indexes."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)


def _iter_errors(validator: Validator, instance: Any) -> Iterator[ValidationError]:
    try:
        yield from validator.iter_errors(instance)
    except referencing.exceptions.Unresolvable as err:
        raise SchemaDefinitionError(f"schema reference cannot be resolved: {err}") from err


def _check(schema: dict[str, Any]) -> None:
    try:
        _VALIDATOR_CLS.check_schema(schema)
    except jsonschema.SchemaError as err:
        where = json_path(err.absolute_path)
        raise SchemaDefinitionError(
            f"invalid JSON Schema at {where}: {_short(err.message)}"
        ) from err
    _check_refs(schema)


def _check_refs(schema: dict[str, Any]) -> None:
    """Resolve every local ``$ref`` now, so a dangling one fails at load time."""
    refs: list[str] = []
    nested_ids = _collect_refs(schema, refs, top=True)
    if nested_ids or not refs:
        return  # base URIs change inside nested ``$id``s: leave those to validation time
    base = schema.get("$id", "urn:bicameral:schema")
    resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
    resolver = referencing.Registry().with_resource(base, resource).resolver(base_uri=base)
    for ref in refs:
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as err:
            raise SchemaDefinitionError(f"schema reference {ref!r} cannot be resolved") from err


def _collect_refs(node: Any, refs: list[str], *, top: bool = False) -> bool:
    """Append every ``$ref`` string under ``node``; True when a nested ``$id`` appears."""
    nested_id = False
    if isinstance(node, dict):
        if not top and isinstance(node.get("$id"), str):
            nested_id = True
        ref = node.get("$ref")
        if isinstance(ref, str):
            refs.append(ref)
        for key, value in node.items():
            if key not in ("const", "enum", "default", "examples"):
                nested_id |= _collect_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            nested_id |= _collect_refs(value, refs)
    return nested_id


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
