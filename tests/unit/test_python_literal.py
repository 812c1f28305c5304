"""Python literals read as JSON values: the mixed spellings models write, nothing evaluated."""

from __future__ import annotations

import pytest

from orchestrator.text.python_literal import parse_python_literal


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{'a': True, 'b': [1, None,],}", {"a": True, "b": [1, None]}),
        ('{"a": true, "b": null, "c": False}', {"a": True, "b": None, "c": False}),
        ("(1, -2.5, +3)", [1, -2.5, 3]),
        (r"'C:\path\x41'", "C:\\pathA"),  # \p is no escape: the backslash stays
    ],
)
def test_literals_in_python_or_json_spelling(text: str, value: object) -> None:
    assert parse_python_literal(text) == value


@pytest.mark.parametrize(
    "text",
    ["{1, 2}", "f(1)", "__import__('os').system('true')", "b'bytes'", "{1: 'a'}", "x", "[1,"],
)
def test_anything_but_a_literal_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Python literal"):
        parse_python_literal(text)
