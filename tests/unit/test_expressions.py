"""The safe expression language: what it evaluates, what it refuses, how it fails."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.config.expressions import (
    FUNCTIONS,
    compile_expression,
    compile_template,
    render_value,
)
from orchestrator.exceptions import ConfigError, ExpressionError

STATE: dict[str, Any] = {
    "task": "add numbers",
    "steps": 4,
    "review": {"approved": False, "issues": ["off by one", "no test"], "score": 0.5},
    "items": [3, 1, 2],
    "name": "bicameral",
    "empty": [],
    "nothing": None,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1", 1),
        ("2.5", 2.5),
        ("'text'", "text"),
        ("true", True),
        ("false or null", None),
        ("True and None", None),
        ("none is null", True),
        ("[1, 'a', [true]]", [1, "a", [True]]),
        ("(1, 2)", (1, 2)),
        ("steps", 4),
        ("review['approved']", False),
        ("review['issues'][0]", "off by one"),
        ("review['issues'][-1]", "no test"),
        ("items[1:]", [1, 2]),
        ("name[:3]", "bic"),
        ("items[::2]", [3, 2]),
        ("steps > 3", True),
        ("1 < steps <= 4 < 5", True),
        ("1 < steps < 3", False),
        ("steps == 4 and not review['approved']", True),
        ("'no test' in review['issues']", True),
        ("'x' not in name", True),
        ("nothing is None", True),
        ("nothing is not null", False),
        ("empty or 'fallback'", "fallback"),
        ("review['score'] and 'scored'", "scored"),
        ("steps + 1", 5),
        ("steps - 10", -6),
        ("steps * 2.5", 10.0),
        ("steps / 8", 0.5),
        ("7 // 2", 3),
        ("7 % 4", 3),
        ("-steps", -4),
        ("+steps", 4),
        ("name + '!'", "bicameral!"),
        ("items + [4]", [3, 1, 2, 4]),
        ("'yes' if review['approved'] else 'no'", "no"),
        ("len(review['issues'])", 2),
        ("len(name) > 5", True),
        ("max(items) - min(items)", 2),
        ("sum(items)", 6),
        ("abs(-3)", 3),
        ("any(items) and not all(empty + [0])", True),
        ("int('7') + float('0.5')", 7.5),
        ("str(steps) + bool(1) * 0", None),
        ("round(2.567, 1)", 2.6),
    ],
)
def test_evaluates(source: str, expected: Any) -> None:
    if source.startswith("str(steps)"):
        with pytest.raises(ExpressionError, match="expected a number, got str"):
            compile_expression(source).evaluate(STATE)
        return
    assert compile_expression(source).evaluate(STATE) == expected


def test_names_lists_the_state_keys_read() -> None:
    expr = compile_expression("len(review['issues']) > steps and true and x in [y, null]")
    assert expr.names == frozenset({"review", "steps", "x", "y"})
    assert str(expr) == expr.source


def test_boolean_operators_short_circuit() -> None:
    expr = compile_expression("'missing' in review and review['missing']")
    assert expr.test(STATE) is False
    assert compile_expression("steps or undefined").evaluate(STATE) == 4


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("review.approved", "attribute access is not allowed"),
        ("().__class__", "attribute access is not allowed"),
        ("name.upper()", "only these functions may be called"),
        ("__import__('os')", "only these functions may be called"),
        ("open('/etc/passwd')", "only these functions may be called"),
        ("eval('1')", "only these functions may be called"),
        ("getattr(review, 'x')", "only these functions may be called"),
        ("(lambda: 1)()", "only these functions may be called"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in items]", "comprehensions are not allowed"),
        ("{k: 1 for k in items}", "comprehensions are not allowed"),
        ("{'a': 1}", "dict literals are not allowed"),
        ("{1, 2}", "set literals are not allowed"),
        ("f'{steps}'", "f-strings are not allowed"),
        ("(x := 1)", "assignment (:=) is not allowed"),
        ("len(*items)", "positional arguments only"),
        ("max(items, key=len)", "positional arguments only"),
        ("[*items]", "* unpacking is not allowed"),
        ("__builtins__", "name '__builtins__' is not allowed"),
        ("2 ** 1000", "operator Pow is not allowed"),
        ("1 << 5", "operator LShift is not allowed"),
        ("~steps", "operator Invert is not allowed"),
        ("b'bytes'", "literal b'bytes' is not allowed"),
        ("1j", "literal 1j is not allowed"),
        ("...", "literal Ellipsis is not allowed"),
        ("steps >", "invalid expression 'steps >'"),
        ("x = 1", "invalid expression"),
        ("import os", "invalid expression"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("1 +" * 700 + "1", "longer than"),
        ("-" * 100 + "1", "nested too deeply"),
        ("(" * 300 + "1" + ")" * 300, "invalid expression"),
        ("a\x00b", "invalid expression"),
    ],
)
def test_refuses(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        compile_expression(source)
    assert message in str(caught.value)


def test_refuses_non_strings() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        compile_expression(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("stepz > 1", "'stepz' is not in the state; did you mean 'steps'?"),
        ("review['approve']", "no key 'approve' (keys: approved, issues, score)"),
        ("items[7]", "index 7 out of range (length 3)"),
        ("items['a']", "index must be an integer, not str"),
        ("steps[0]", "cannot subscript a int"),
        ("steps[1:]", "cannot slice a int"),
        ("name * 3", "expected a number, got str"),
        ("items * 1000000000", "expected a number, got list"),
        ("steps / 0", "division by zero"),
        ("name < 3", "not supported between instances"),
        ("len(steps)", "has no len()"),
        ("int('x')", "invalid literal"),
        ("min()", "expected at least 1 argument"),
        ("'a' in steps", "is not iterable"),
    ],
)
def test_evaluation_errors_are_run_time_errors_not_config_errors(source: str, message: str) -> None:
    expr = compile_expression(source)
    with pytest.raises(ExpressionError) as caught:
        expr.evaluate(STATE)
    assert str(caught.value).startswith(f"cannot evaluate {source!r}: ")
    assert message in str(caught.value)
    assert not isinstance(caught.value, ConfigError)  # a run failure (exit 1), not a user's


def test_only_whitelisted_functions_exist() -> None:
    assert set(FUNCTIONS) == {
        "len", "abs", "min", "max", "sum", "any", "all", "int", "float", "str", "bool", "round"
    }  # fmt: skip


def test_templates() -> None:
    template = compile_template("Task: {{ task }} ({{steps}} steps) {{ review['issues'] }}")
    assert template.names == frozenset({"task", "steps", "review"})
    assert template.render(STATE) == 'Task: add numbers (4 steps) ["off by one", "no test"]'
    assert compile_template("no placeholders").render({}) == "no placeholders"
    assert compile_template("{{ nothing }}|{{ review['approved'] }}").render(STATE) == "null|false"
    multi = compile_template("a {{ 'x'\n + 'y' }} b")
    assert multi.render({}) == "a xy b"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ }}", "empty expression"),
        ("{{ task", "unclosed '{{'"),
        ("ok {{ task }} then {{", "unclosed '{{'"),
        ("{{ task.title }}", "attribute access is not allowed"),
    ],
)
def test_bad_templates(source: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_template(source)
    assert message in str(caught.value)


def test_template_render_errors() -> None:
    with pytest.raises(ExpressionError, match="'tsak' is not in the state; did you mean 'task'"):
        compile_template("{{ tsak }}").render(STATE)


def test_render_value_walks_mappings_and_lists() -> None:
    args = {
        "path": "{{ name }}.py",
        "n": 3,
        "flags": ["{{ steps }}", True],
        "deep": {"x": "{{ 1 }}"},
    }
    assert render_value(args, STATE) == {
        "path": "bicameral.py",
        "n": 3,
        "flags": ["4", True],
        "deep": {"x": "1"},
    }


_EXPR_TEXT = st.text(
    alphabet=st.sampled_from(list("abstepnivw0123456789_ ()[]{}'\".,:+-*/%<>=!&|~^@#\\")),
    max_size=40,
)
_STATE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    source=_EXPR_TEXT, state=st.dictionaries(st.sampled_from(["a", "b", "steps"]), _STATE_VALUES)
)
def test_arbitrary_text_only_raises_config_error(source: str, state: dict[str, Any]) -> None:
    try:
        expr = compile_expression(source)
    except ConfigError:
        return
    with contextlib.suppress(ExpressionError):
        expr.evaluate(state)
