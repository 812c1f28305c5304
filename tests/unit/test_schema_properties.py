"""Property tests: coerce recovers valid instances from messy renderings, and is sound.

Round trip: for generated schemas and schema-valid instances, render each instance the ways
reasoning models do (think block first, prose around it, code fences, single quotes, Python
literals, trailing commas, comments, a missing final bracket, numbers as strings) and check
that ``coerce`` returns the original instance.

Soundness: over random strings and mutated renderings, ``coerce`` either returns a value the
schema accepts (checked by a fresh, uncached validator) or raises ``SchemaValidationError``.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.exceptions import SchemaValidationError
from orchestrator.schema import coerce

# Strings avoid the three characters whose meaning is structural in a reply whatever the
# JSON says: backticks (fences), '<' (think tags) and newlines (a string never spans lines
# in the renderings below).
_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="`<\n\r"
    ),
    max_size=12,
)
_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
_LEAVES = st.sampled_from(
    [
        {"type": "integer"},
        {"type": "integer", "minimum": 0, "maximum": 1000},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "string"},
        {"type": "string", "maxLength": 5},
        {"enum": ["red", "green", "it's blue"]},
        {"type": "string", "format": "date"},
    ]
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.builds(
        lambda props, n_required, closed: {
            "type": "object",
            "properties": props,
            "required": sorted(props)[:n_required],
            **({"additionalProperties": False} if closed else {}),
        },
        st.dictionaries(_NAMES, children, min_size=1, max_size=4),
        st.integers(0, 4),
        st.booleans(),
    )
    arrays = st.builds(lambda items: {"type": "array", "items": items, "maxItems": 4}, children)
    return objects | arrays


_SCHEMAS = st.recursive(_LEAVES, _extend, max_leaves=8).map(
    lambda s: (
        s
        if s.get("type") in ("object", "array")
        else {"type": "object", "properties": {"v": s}, "required": ["v"]}
    )
)


def _instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema["type"]
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**12)), schema.get("maximum", 10**12))
    if kind == "number":
        return st.integers(-(10**6), 10**6) | st.floats(
            min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        if schema.get("format") == "date":
            return st.dates().map(lambda d: d.isoformat())
        return _TEXT.map(lambda s: s[: schema.get("maxLength", 12)])
    if kind == "array":
        return st.lists(_instances(schema["items"]), max_size=schema["maxItems"])
    props = schema["properties"]
    required = {k: _instances(v) for k, v in props.items() if k in schema["required"]}
    optional = {k: _instances(v) for k, v in props.items() if k not in schema["required"]}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def _schema_and_instance(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    schema = draw(_SCHEMAS)
    return schema, draw(_instances(schema))


# --- rendering the way reasoning models write JSON ---------------------------------------


def _dump(value: Any, *, single: bool, python: bool, indent: str = "") -> str:
    """One member per line, so line-level corruptions land between members."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        members = [
            f"{inner}{_string(k, single)}: {_dump(v, single=single, python=python, indent=inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [inner + _dump(v, single=single, python=python, indent=inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    if isinstance(value, str):
        return _string(value, single)
    if value is None:
        return "None" if python else "null"
    if isinstance(value, bool):
        return ("True" if value else "False") if python else ("true" if value else "false")
    return json.dumps(value)


def _string(s: str, single: bool) -> str:
    if not single:
        return json.dumps(s, ensure_ascii=False)
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_scalars(value: Any, rng: random.Random) -> Any:
    """Numbers and booleans written as strings, here and there."""
    if isinstance(value, dict):
        return {k: _quote_scalars(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_quote_scalars(v, rng) for v in value]
    if isinstance(value, bool):
        return ("true" if value else "false") if rng.random() < 0.5 else value
    if isinstance(value, int | float):
        return json.dumps(value) if rng.random() < 0.5 else value
    return value


def _corrupt_lines(text: str, rng: random.Random, *, commas: bool, comments: bool) -> str:
    lines = text.split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if commas and nxt[:1] in ("}", "]") and not line.rstrip().endswith(("{", "[")):
            line += ","
        if comments and line.endswith((",", "{", "[")) and rng.random() < 0.5:
            line += rng.choice(["  // checked", "  /* see above */", "  // it's right"])
        out.append(line)
    return "\n".join(out)


def _render(value: Any, rng: random.Random) -> tuple[str, list[str]]:
    """A messy rendering of ``value`` and the corruptions applied (for failure reports)."""
    applied: list[str] = []
    if rng.random() < 0.4:
        value = _quote_scalars(value, rng)
        applied.append("quoted-scalars")
    single, python = rng.random() < 0.3, rng.random() < 0.3
    applied += ["single-quotes"] * single + ["python-literals"] * python
    text = _dump(value, single=single, python=python)
    commas, comments = rng.random() < 0.3, rng.random() < 0.3
    applied += ["trailing-commas"] * commas + ["comments"] * comments
    text = _corrupt_lines(text, rng, commas=commas, comments=comments)
    fenced = rng.random() < 0.4
    prose_after = rng.random() < 0.4
    if rng.random() < 0.3 and (fenced or not prose_after):
        text = text[:-1]
        applied.append("missing-final-bracket")
    if fenced:
        text = "```" + rng.choice(["json", "", "JSON"]) + "\n" + text + "\n```"
        applied.append("fence")
    if rng.random() < 0.5:
        text = rng.choice(["Sure! Here's the result:\n", "Answer (final):\n", "OK.\n\n"]) + text
        applied.append("prose-before")
    if prose_after:
        text += rng.choice(["\n\nLet me know if you'd like more.", "\nThat's it (I think)."])
        applied.append("prose-after")
    if rng.random() < 0.5:
        draft = '{"draft": [1, 2, {"x": "not this"}]}'
        think = rng.choice(
            [f"<think>\nA draft: {draft}\nHmm, fix it.\n</think>\n", f"So {draft}.</think>"]
        )
        text = think + text
        applied.append("think-block")
    return text, applied


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_schema_and_instance(), st.randoms(use_true_random=False))
def test_coerce_recovers_the_original_instance(
    case: tuple[dict[str, Any], Any], rng: random.Random
) -> None:
    schema, instance = case
    assert jsonschema.Draft202012Validator(schema).is_valid(instance)  # the generator is right
    text, applied = _render(instance, rng)
    try:
        result = coerce(text, schema)
    except SchemaValidationError as err:  # pragma: no cover - a failure report
        raise AssertionError(f"{applied}\n{text}\n{err.describe()}\n{err.tried}") from err
    assert result == instance, (applied, text)
    assert json.dumps(result) == json.dumps(instance), (applied, text)


# --- soundness -----------------------------------------------------------------------------

_SOUNDNESS_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "answer": {"type": "integer", "minimum": 0},
            "steps": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["answer", "steps"],
        "additionalProperties": False,
    },
    {"type": "array", "items": {"type": "number"}, "minItems": 1},
    {
        "type": "object",
        "properties": {"ok": {"const": True}, "when": {"type": "string", "format": "date"}},
        "required": ["ok"],
    },
    {"type": "integer", "multipleOf": 3},
    {"anyOf": [{"type": "object", "required": ["a"]}, {"type": "boolean"}]},
]
_VALID_OUTPUTS = [
    '<think>x</think>{"answer": 12, "steps": ["a", "b"]}',
    "```json\n[1.5, -2, 3e2]\n```",
    "Result: {'ok': True, 'when': '2024-02-29'}",
    "The answer is: 9",
    '{"a": {"nested": [1, 2, {"deep": null}]}}',
]
_ALPHABET = "{}[]()\"':,.-+eE0123456789 \n\ttruefalsnulTrueNone/*#<>think`jsonabc\\"


def _mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randint(0, len(chars))
        if op < 0.35 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op < 0.7:
            chars.insert(pos, rng.choice(_ALPHABET))
        elif chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(_ALPHABET)
    return "".join(chars)


def _assert_sound(text: str, schema: dict[str, Any]) -> bool:
    """True when coerce accepted ``text``; fails the test on an unsound result."""
    try:
        value = coerce(text, schema)
    except SchemaValidationError as err:
        assert err.errors, text
        return False
    fresh = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert fresh.is_valid(value), (text, value)
    json.dumps(value, allow_nan=False)  # finite, plain JSON
    return True


def test_soundness_over_ten_thousand_random_and_mutated_outputs() -> None:
    rng = random.Random(20240501)
    accepted = 0
    for i in range(10_000):
        schema = _SOUNDNESS_SCHEMAS[i % len(_SOUNDNESS_SCHEMAS)]
        if i % 2:
            text = _mutate(_VALID_OUTPUTS[(i // 2) % len(_VALID_OUTPUTS)], rng)
        else:
            text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60)))
        accepted += _assert_sound(text, schema)
    assert 300 < accepted < 9700  # the corpus exercises both outcomes


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(_SOUNDNESS_SCHEMAS))
def test_soundness_over_arbitrary_text(text: str, schema: dict[str, Any]) -> None:
    _assert_sound(text, schema)


def test_numbers_are_finite_after_repair() -> None:
    assert not _assert_sound("[1e999, 2]", _SOUNDNESS_SCHEMAS[1])
    assert math.isfinite(coerce("[1e308, 2]", _SOUNDNESS_SCHEMAS[1])[0])
