"""Model text -> a value that matches a JSON Schema, or an error that says exactly why not.

:func:`coerce` is the pure core of schema enforcement (no I/O, no model): it splits off the
reasoning, walks the candidate places an answer may be (:mod:`.extract`), parses each strictly
and repairs it (``json-repair``) only when strict parsing fails, converts quoted scalars where
that is lossless, and validates. Nothing is returned that the schema's validator (and, for a
pydantic model, the model itself) has not accepted.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import pydantic
from pydantic import BaseModel

from orchestrator.exceptions import SchemaValidationError
from orchestrator.models._parse_limits import MAX_HEURISTIC_CHARS, repair_json
from orchestrator.schema.extract import Candidate, candidates
from orchestrator.schema.lenient import coerce_scalars, decode_double_encoded
from orchestrator.schema.validate import (
    SchemaLike,
    Validator,
    errors_of,
    json_path,
    schema_dict,
    validator_for,
)
from orchestrator.text.python_literal import parse_python_literal
from orchestrator.text.scan import complete
from orchestrator.text.think import split_reasoning
from orchestrator.types import SchemaIssue

__all__ = ["ParsedOutput", "coerce", "parse_output"]

_NOTHING = SchemaIssue("$", "no JSON value found in the output")
_NO_VALUE = object()


@dataclass(frozen=True)
class ParsedOutput:
    """An accepted output and how it was obtained.

    Attributes:
        value: the validated value (a model instance when the schema was a pydantic class).
        source: which candidate held it (``whole``, ``fence``, ``balanced``, ...; prefixed
            with ``reasoning:`` when it came from the reasoning).
        repaired: whether ``json-repair`` was needed.
        coerced: whether quoted scalars were converted.
        reasoning: the reasoning found in the output, if any.
        tried: the steps taken, e.g. ``("strict:whole", "repair:whole")``.
    """

    value: Any
    source: str
    repaired: bool
    coerced: bool
    reasoning: str | None
    tried: tuple[str, ...]


def coerce(raw: str, schema: SchemaLike, *, strict: bool = False) -> Any:
    """Turn a model's raw text into a value valid against ``schema``.

    Args:
        raw: the model's text, possibly with ``<think>`` reasoning, prose and code fences.
        schema: a JSON Schema dict, or a pydantic model class.
        strict: when True, quoted scalars (``"10"`` for an integer) are not converted.

    Returns:
        The validated value; an instance of the model when ``schema`` is a pydantic class.

    Raises:
        SchemaValidationError: nothing in the text matches; ``errors`` holds the JSON path
            and message of each problem with the likeliest candidate, ``tried`` the steps.
        SchemaDefinitionError: the schema itself is invalid.

    Example:
        >>> coerce("<think>hmm</think> Answer: {'n': '10',}", {
        ...     "type": "object", "properties": {"n": {"type": "integer"}}})
        {'n': 10}
    """
    return parse_output(raw, schema, strict=strict).value


def parse_output(
    raw: str,
    schema: SchemaLike,
    *,
    strict: bool = False,
    reasoning: str | None = None,
    allow_repair: bool = True,
) -> ParsedOutput:
    """Like :func:`coerce`, but also reports how the value was obtained.

    Args:
        raw: the model's text (content; think tags in it are split off).
        schema: a JSON Schema dict, or a pydantic model class.
        strict: do not convert quoted scalars.
        reasoning: reasoning the server returned apart from the content; it is searched
            only when the content holds nothing.
        allow_repair: whether ``json-repair`` may be used (False for output cut off by the
            token limit, whose repair would invent an ending).

    Raises:
        SchemaValidationError: as :func:`coerce`.
    """
    model = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
    validator = validator_for(schema_dict(schema))
    tagged, content = split_reasoning(raw)
    thoughts = "\n\n".join(t for t in (reasoning, tagged) if t) or None
    text, prefix = (content, "") if content.strip() else (thoughts or "", "reasoning:")
    run = _Run(validator, model, strict, allow_repair)
    for candidate in candidates(text):
        accepted = run.attempt(candidate, prefix + candidate.source)
        if accepted is not None:
            value, repaired, coerced = accepted
            return ParsedOutput(
                value, prefix + candidate.source, repaired, coerced, thoughts, tuple(run.tried)
            )
    run.fail(raw)


class _Run:
    """The state of one :func:`parse_output` call: what was tried and the first errors."""

    def __init__(
        self, validator: Validator, model: type[BaseModel] | None, strict: bool, repair: bool
    ) -> None:
        self.validator = validator
        self.model = model
        self.strict = strict
        self.repair = repair
        self.tried: list[str] = []
        self.errors: list[SchemaIssue] | None = None
        self._strict_ok: dict[str, bool] = {}
        self._seen_repair: set[str] = set()

    def attempt(self, candidate: Candidate, label: str) -> tuple[Any, bool, bool] | None:
        """(value, repaired, coerced) when the candidate yields a valid value, else None."""
        if candidate.parsed:
            if candidate.repair and not self.repair:
                return None  # read with repair; not allowed for a reply cut off mid-value
            self.tried.append(f"value:{label}")
            # a copy: lenient coercion works in place and candidates may share values
            return self._check(copy.deepcopy(candidate.value), label, repaired=False)
        text = candidate.text
        if text not in self._strict_ok:
            self.tried.append(f"strict:{label}")
            value = _loads_strict(text)
            self._strict_ok[text] = value is not _NO_VALUE
            if value is not _NO_VALUE:
                return self._check(value, label, repaired=False)
        # repair only what strict parsing could not read, and each text once
        if not (candidate.repair and self.repair) or self._strict_ok[text]:
            return None
        if text in self._seen_repair:
            return None
        self._seen_repair.add(text)
        value, how = _loads_lenient(text)
        self.tried.append(f"{how}:{label}")
        if value is _NO_VALUE:
            return None
        return self._check(value, label, repaired=True)

    def _check(self, value: Any, label: str, *, repaired: bool) -> tuple[Any, bool, bool] | None:
        coerced = False
        valid = _is_valid(self.validator, value)
        if not valid:
            # a JSON string holding the object or array the schema wants: a repair
            value, decoded = decode_double_encoded(value, self.validator)
            if decoded:
                self.tried.append(f"decode:{label}")
                repaired = True
                valid = _is_valid(self.validator, value)
        if not valid and not self.strict:
            self.tried.append(f"coerce:{label}")
            value, coerced = coerce_scalars(value, self.validator)
            valid = coerced and _is_valid(self.validator, value)
        errors = [] if valid else errors_of(self.validator, value)
        if not errors and self.model is not None:
            try:
                value = self.model.model_validate(value)
            except pydantic.ValidationError as err:
                errors = [_pydantic_error(e) for e in err.errors()]
        if errors:
            if self.errors is None:
                self.errors = errors
            return None
        return value, repaired, coerced

    def fail(self, raw: str) -> NoReturn:
        errors = self.errors or [_NOTHING]
        noun = "error" if len(errors) == 1 else "errors"
        raise SchemaValidationError(
            f"output does not match the schema ({len(errors)} {noun}; first: {errors[0]})",
            errors=errors,
            raw=raw,
            tried=self.tried,
        )


def _is_valid(validator: Validator, value: Any) -> bool:
    try:
        return bool(validator.is_valid(value))
    except RecursionError:
        return False


def _loads_strict(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return _NO_VALUE


def _loads_lenient(text: str) -> tuple[Any, str]:
    """Parse text that is not strict JSON: ``(value, how)`` with how one of ``complete``,
    ``literal`` or ``repair``; value is ``_NO_VALUE`` when nothing worked.

    Lossless steps come first: drop comments and add missing closing brackets, then read
    the result as JSON or as a Python literal (single quotes, ``True``/``None``, trailing
    commas). Only then ``json-repair``, which is broader but can lose data (it drops an
    empty string that ends an array: json_repair issue #164), and whose scalars are not
    trusted (it returns ``""`` for garbage). Text over ``MAX_HEURISTIC_CHARS`` is not tried
    (:mod:`orchestrator.models._parse_limits`).
    """
    if len(text) > MAX_HEURISTIC_CHARS:
        return _NO_VALUE, "repair"
    completed = complete(text)
    if completed != text:
        value = _loads_strict(completed)
        if value is not _NO_VALUE:
            return value, "complete"
    try:
        value = parse_python_literal(completed)
    except ValueError:
        pass
    else:
        return (value, "literal") if _finite(value) else (_NO_VALUE, "literal")
    try:
        value = repair_json(completed)
    except Exception:  # json-repair documents no failure modes; a failed repair is no value
        return _NO_VALUE, "repair"
    if not isinstance(value, dict | list) or not _finite(value):
        return _NO_VALUE, "repair"
    return value, "repair"


def _finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} overflows a double")
    return number


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _pydantic_error(error: Mapping[str, Any]) -> SchemaIssue:
    loc = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
    return SchemaIssue(json_path(loc), str(error.get("msg", "invalid")))
