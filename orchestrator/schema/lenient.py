"""Lossless coercion: ``"10"`` -> ``10`` where the schema wants an integer, and double-encoded
values (``"{\\"x\\": 4}"`` where the schema wants an object) decoded.

Models often quote numbers and booleans. Where the schema says a value must be an integer,
number, boolean or null and the model wrote a string that spells exactly such a value, the
string is replaced by that value. Nothing else is changed: no rounding (``"1.5"`` stays a
string for an integer), no truncation, no guessing. The validator finds the places (its
``type``, ``enum`` and ``const`` errors), so ``$ref``, ``anyOf`` and the rest are handled
exactly as validation handles them.

Double encoding (a JSON string whose content is the object or array, sent by several models
and servers for tool arguments and outputs) is undone by :func:`decode_double_encoded` only
where the schema wants an object or array and the string parses strictly to one of those,
also inside a code fence or after a think block. A string property stays a string.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from orchestrator.schema.validate import iter_raw_errors

__all__ = ["coerce_scalars", "decode_double_encoded"]

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
_NULLS = frozenset({"null", "None"})
_MAX_ROUNDS = 4
_MAX_DIGITS = 300
_MISSING = object()
_CONTAINERS = {"object": dict, "array": list}
_FENCED = re.compile(r"\A```[ \t]*(?:json)?[ \t]*\n(.*?)\n?```\Z", re.DOTALL | re.IGNORECASE)
_THINK_END = re.compile(r"</think(?:ing)?>", re.IGNORECASE)


def coerce_scalars(value: Any, validator: Validator) -> tuple[Any, bool]:
    """Replace strings that losslessly spell the scalar the schema asks for.

    Args:
        value: a parsed JSON value owned by the caller (containers are modified in place).
        validator: the schema's validator.

    Returns:
        The value (a new object only when the root itself was a string to convert) and
        whether anything changed.

    Example:
        >>> from orchestrator.schema.validate import validator_for
        >>> v = validator_for({"properties": {"n": {"type": "integer"}}})
        >>> coerce_scalars({"n": "10"}, v)
        ({'n': 10}, True)
    """
    changed = False
    for _ in range(_MAX_ROUNDS):
        fixes: list[tuple[list[str | int], Any]] = []
        try:
            for error in iter_raw_errors(validator, value):
                _collect(error, fixes)
        except RecursionError:  # too deep to validate is too deep to fix
            break
        applied = False
        for path, new in fixes:
            if not path:
                value, applied = new, True
                break
            applied |= _set(value, path, new)
        if not applied:
            break
        changed = True
    return value, changed


def _scalar_from_string(text: str, types: list[str]) -> Any:
    """The value of a JSON type in ``types`` that ``text`` spells exactly, else ``_MISSING``."""
    s = text.strip()
    if len(s) > _MAX_DIGITS:
        return _MISSING
    for kind in types:
        if kind == "integer" and _INT.fullmatch(s):
            return int(s)
        if kind == "number" and _NUMBER.fullmatch(s):
            if _INT.fullmatch(s):
                return int(s)
            number = float(s)
            if math.isfinite(number):
                return number
        if kind == "boolean" and s.lower() in _BOOLEANS:
            return _BOOLEANS[s.lower()]
        if kind == "null" and s in _NULLS:
            return None
    return _MISSING


def _collect(error: ValidationError, fixes: list[tuple[list[str | int], Any]]) -> None:
    if isinstance(error.instance, str):
        new = _MISSING
        if error.validator == "type":
            expected: Any = error.validator_value
            types = [expected] if isinstance(expected, str) else list(expected)
            new = _scalar_from_string(error.instance, types)
        elif error.validator == "enum" and isinstance(error.validator_value, list):
            new = _match_option(error.instance, error.validator_value)
        elif error.validator == "const":
            new = _match_option(error.instance, [error.validator_value])
        if new is not _MISSING:
            fixes.append((list(error.absolute_path), new))
            return
    for sub in error.context or ():
        _collect(sub, fixes)


def _match_option(text: str, options: list[Any]) -> Any:
    for option in options:
        kind = _json_type(option)
        value = _scalar_from_string(text, [kind]) if kind else _MISSING
        if value is not _MISSING and value == option and type(value) is not str:
            return value
    return _MISSING


def _json_type(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return None


def _set(root: Any, path: list[str | int], new: Any) -> bool:
    """Set ``new`` at a non-empty ``path`` under ``root``; False when the path is stale."""
    node = root
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str) and last in node:
        node[last] = new
        return True
    if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = new
        return True
    return False


def decode_double_encoded(value: Any, validator: Validator) -> tuple[Any, bool]:
    """Decode strings that hold, as JSON, the object or array the schema wants there.

    Args:
        value: a parsed JSON value owned by the caller (containers are modified in place).
        validator: the schema's validator.

    Returns:
        The value (a new object when the root itself was decoded) and whether anything
        changed. Only ``type`` errors whose expected types include ``object`` or ``array``
        are touched, and only when the string parses strictly (no repair) to such a value.

    Example:
        >>> from orchestrator.schema.validate import validator_for
        >>> v = validator_for({"type": "object", "properties": {"a": {"type": "object"}}})
        >>> decode_double_encoded({"a": '{"x": 4}'}, v)
        ({'a': {'x': 4}}, True)
    """
    changed = False
    for _ in range(_MAX_ROUNDS):
        fixes: list[tuple[list[str | int], Any]] = []
        try:
            for error in iter_raw_errors(validator, value):
                _collect_encoded(error, fixes)
        except RecursionError:
            break
        applied = False
        for path, new in fixes:
            if not path:
                value, applied = new, True
                break
            applied |= _set(value, path, new)
        if not applied:
            break
        changed = True
    return value, changed


def _collect_encoded(error: ValidationError, fixes: list[tuple[list[str | int], Any]]) -> None:
    if error.validator == "type" and isinstance(error.instance, str):
        expected: Any = error.validator_value
        types = [expected] if isinstance(expected, str) else list(expected)
        wanted = tuple(_CONTAINERS[t] for t in types if t in _CONTAINERS)
        if wanted:
            decoded = _decode_container(error.instance)
            if isinstance(decoded, wanted):
                fixes.append((list(error.absolute_path), decoded))
                return
    for sub in error.context or ():
        _collect_encoded(sub, fixes)


def _decode_container(text: str) -> Any:
    """The object or array a string spells as strict JSON (after a think block, inside one
    fence), else ``_MISSING``."""
    body = text.strip()
    ends = list(_THINK_END.finditer(body))
    if ends:
        body = body[ends[-1].end() :].strip()
    fence = _FENCED.match(body)
    if fence is not None:
        body = fence.group(1).strip()
    if body[:1] not in ("{", "["):
        return _MISSING
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return _MISSING
    return value if isinstance(value, dict | list) else _MISSING


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
