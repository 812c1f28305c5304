"""Python literals read as JSON values, with :mod:`ast` (parsed, never evaluated).

Models write JSON in Python's spelling (``{'a': True, 'b': None, 'c': [1,],}``) and call
tools in Python's syntax (``[get_weather(city="Paris")]``); both are read here into plain
JSON values. JSON's ``true``/``false``/``null`` are accepted too, so mixed spellings parse;
tuples become lists; escapes Python does not know keep their backslash, as Python itself
would (minus its warning, which is an error under ``-W error``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

__all__ = ["NotLiteral", "literal_tree", "literal_value", "parse_python_literal"]

_NAMES: dict[str, Any] = {
    "True": True,
    "False": False,
    "None": None,
    "true": True,
    "false": False,
    "null": None,
}
_UNKNOWN_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PY_ESCAPES = frozenset("\\'\"abfnrtvxNuU01234567\n")


class NotLiteral(Exception):
    """An AST node that is not a plain literal."""


def literal_tree(text: str) -> ast.expr:
    """``text`` parsed as one Python expression, unknown escapes kept as they are.

    Raises:
        SyntaxError, ValueError, RecursionError, MemoryError: as :func:`ast.parse` does.
    """
    return ast.parse(_UNKNOWN_ESCAPE.sub(_keep_backslash, text), mode="eval").body


def literal_value(node: ast.expr) -> Any:
    """A JSON value from a literal AST node (Python or JSON spelling).

    Raises:
        NotLiteral: the node is something else (a set, a call, a name, bytes...).
    """
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, str | bool | int | float):
            return node.value
        raise NotLiteral
    if isinstance(node, ast.List | ast.Tuple):
        return [literal_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise NotLiteral
            out[k.value] = literal_value(v)
        return out
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        value: int | float = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    raise NotLiteral


def parse_python_literal(text: str) -> Any:
    """A JSON value written as a Python literal.

    Raises:
        ValueError: the text is not such a literal (sets, calls, names, bytes, ...).

    Example:
        >>> parse_python_literal("{'a': True, 'b': [1, None,],}")
        {'a': True, 'b': [1, None]}
    """
    try:
        return literal_value(literal_tree(text.strip()))
    except (NotLiteral, SyntaxError, RecursionError, MemoryError) as err:
        raise ValueError("not a Python literal") from err


def _keep_backslash(m: re.Match[str]) -> str:
    return m.group(0) if m.group(1) in _PY_ESCAPES else "\\" + m.group(0)
