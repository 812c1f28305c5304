"""A small, safe expression language for edge conditions and ``{{ }}`` input templates.

Expressions are a subset of Python expression syntax. They are parsed with :mod:`ast` in
``eval`` mode and compiled, node by node, from a whitelist into plain closures; nothing is
ever handed to :func:`eval`, and no Python object is reachable from an expression: there is
no attribute access, no import, no call except the functions listed below.

What is allowed:

* literals: ``1``, ``2.5``, ``"text"``, ``true``/``false``/``null`` (or ``True``/``False``/
  ``None``), lists ``[a, b]`` and tuples ``(a, b)``;
* names, which are keys of the state the expression is evaluated against;
* subscripts on mappings, lists and strings: ``review["approved"]``, ``items[0]``, ``s[1:3]``;
* comparisons ``== != < <= > >= in, not in, is, is not`` (chains too), ``and``, ``or``,
  ``not``, ``a if cond else b``;
* arithmetic on numbers (``+ - * / // %``, unary ``-``), ``+`` also joins strings and lists;
* calls to ``len abs min max sum any all int float str bool round`` with positional arguments.

Example:
    >>> ok = compile_expression("review['approved'] and len(review['issues']) == 0")
    >>> ok.evaluate({"review": {"approved": True, "issues": []}})
    True
    >>> compile_template("Fix: {{ review['issues'] }}").render({"review": {"issues": ["x"]}})
    'Fix: ["x"]'

A malformed expression raises :class:`~orchestrator.exceptions.ConfigError` when compiled,
so a pipeline file with a bad condition fails at load time. Evaluation failures (a missing
state key, comparing a string with a number) happen while a run runs: they raise
:class:`~orchestrator.exceptions.ExpressionError` (the run fails), naming the expression.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.exceptions import ConfigError, ExpressionError
from orchestrator.text.suggest import did_you_mean

__all__ = [
    "FUNCTIONS",
    "Expression",
    "Template",
    "compile_expression",
    "compile_template",
    "render_value",
]

_Eval = Callable[[Mapping[str, Any]], Any]

MAX_LENGTH = 2000
"""Longest expression source accepted, in characters."""
MAX_DEPTH = 64
"""Deepest nesting of expression nodes accepted."""

FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "any": any,
    "all": all,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "round": round,
}
"""The only functions an expression may call."""

_LITERAL_NAMES: Mapping[str, Any] = {"true": True, "false": False, "null": None, "none": None}
_COMPARE: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ARITHMETIC: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_FORBIDDEN_HINTS: Mapping[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed; write x['key'] instead of x.key",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Starred: "* unpacking is not allowed",
}


class _EvalFailure(Exception):
    """Raised inside compiled closures; turned into a ConfigError naming the expression."""


@dataclass(frozen=True)
class Expression:
    """A compiled expression: evaluate it against a state mapping.

    Attributes:
        source: the text it was compiled from.
        names: the state keys it reads (literal names and functions excluded).
    """

    source: str
    names: frozenset[str]
    _fn: _Eval = field(repr=False, compare=False)

    def evaluate(self, state: Mapping[str, Any]) -> Any:
        """The expression's value in ``state``.

        Raises:
            ExpressionError: a name is not in the state, or an operation failed (wrong
                types, missing key, index out of range, division by zero).
        """
        try:
            return self._fn(state)
        except _EvalFailure as exc:
            raise ExpressionError(f"cannot evaluate {self.source!r}: {exc}") from None
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
            raise ExpressionError(f"cannot evaluate {self.source!r}: {_describe(exc)}") from None
        except (OverflowError, RecursionError, MemoryError) as exc:
            msg = f"cannot evaluate {self.source!r}: {type(exc).__name__}"
            raise ExpressionError(msg) from None

    def test(self, state: Mapping[str, Any]) -> bool:
        """The expression's truth value in ``state`` (what an edge condition uses)."""
        return bool(self.evaluate(state))

    def __str__(self) -> str:
        return self.source


@dataclass(frozen=True)
class Template:
    """Text with ``{{ expression }}`` placeholders, compiled once and rendered per state.

    A placeholder's value is inserted as is when it is a string, else as compact JSON.
    """

    source: str
    names: frozenset[str]
    _parts: tuple[str | Expression, ...] = field(repr=False, compare=False)

    def render(self, state: Mapping[str, Any]) -> str:
        """The text with every placeholder replaced by its value in ``state``.

        Raises:
            ExpressionError: a placeholder could not be evaluated.
        """
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.evaluate(state)
            out.append(value if isinstance(value, str) else _to_json(value))
        return "".join(out)

    def __str__(self) -> str:
        return self.source


def compile_expression(source: str) -> Expression:
    """Parse and compile ``source``.

    Raises:
        ConfigError: a syntax error or a construct outside the language (the message says which).
    """
    if not isinstance(source, str):
        raise ConfigError(f"an expression must be a string, not {type(source).__name__}")
    text = " ".join(source.split("\n")).strip()  # a template may break a placeholder
    if not text:
        raise ConfigError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ConfigError(f"invalid expression {text!r}: {exc.msg}{where}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ConfigError(f"invalid expression {text!r}: too complex") from None
    names: set[str] = set()
    try:
        fn = _compile(tree.body, names, 0)
    except _EvalFailure as exc:
        raise ConfigError(f"invalid expression {text!r}: {exc}") from None
    return Expression(text, frozenset(names), fn)


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def compile_template(source: str) -> Template:
    """Compile text with ``{{ expression }}`` placeholders.

    Raises:
        ConfigError: a placeholder is empty, unclosed or not a valid expression.
    """
    parts: list[str | Expression] = []
    names: set[str] = set()
    pos = 0
    for match in _PLACEHOLDER.finditer(source):
        parts.append(source[pos : match.start()])
        expr = compile_expression(match.group(1))
        names |= expr.names
        parts.append(expr)
        pos = match.end()
    tail = source[pos:]
    if "{{" in tail:
        raise ConfigError(f"unclosed '{{{{' in template {source!r}")
    parts.append(tail)
    return Template(source, frozenset(names), tuple(p for p in parts if p != ""))


def render_value(value: Any, state: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts and lists walked) as a template.

    Used for a tool step's ``args``: ``{"path": "{{ plan['file'] }}"}``.
    """
    if isinstance(value, str):
        return compile_template(value).render(state)
    if isinstance(value, Mapping):
        return {k: render_value(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, state) for v in value]
    return value


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no key {exc.args[0]!r}" if exc.args else "missing key"
    return str(exc) or type(exc).__name__


def _compile(node: ast.expr, names: set[str], depth: int) -> _Eval:
    if depth > MAX_DEPTH:
        raise _EvalFailure("nested too deeply")
    sub = depth + 1
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, ast.Name):
        return _name(node.id, names)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_compile(e, names, sub) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return lambda s: tuple(f(s) for f in items)
        return lambda s: [f(s) for f in items]
    if isinstance(node, ast.Subscript):
        return _subscript(node, names, sub)
    if isinstance(node, ast.Compare):
        return _comparison(node, names, sub)
    if isinstance(node, ast.BoolOp):
        return _boolean(node, names, sub)
    if isinstance(node, ast.UnaryOp):
        return _unary(node, names, sub)
    if isinstance(node, ast.BinOp):
        return _binary(node, names, sub)
    if isinstance(node, ast.IfExp):
        test, body, orelse = (_compile(n, names, sub) for n in (node.test, node.body, node.orelse))
        return lambda s: body(s) if test(s) else orelse(s)
    if isinstance(node, ast.Call):
        return _call(node, names, sub)
    hint = _FORBIDDEN_HINTS.get(type(node))
    raise _EvalFailure(hint or f"{type(node).__name__} is not allowed")


def _constant(value: object) -> _Eval:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise _EvalFailure(f"literal {value!r} is not allowed")
    return lambda _s: value


def _name(name: str, names: set[str]) -> _Eval:
    if name in _LITERAL_NAMES:
        literal = _LITERAL_NAMES[name]
        return lambda _s: literal
    if name.startswith("__"):
        raise _EvalFailure(f"name {name!r} is not allowed")
    names.add(name)

    def lookup(state: Mapping[str, Any]) -> Any:
        try:
            return state[name]
        except KeyError:
            hint = did_you_mean(name, state)
            raise _EvalFailure(f"{name!r} is not in the state{hint}") from None

    return lookup


def _subscript(node: ast.Subscript, names: set[str], depth: int) -> _Eval:
    target = _compile(node.value, names, depth)
    if isinstance(node.slice, ast.Slice):
        bounds = [
            _compile(b, names, depth) if b is not None else None
            for b in (node.slice.lower, node.slice.upper, node.slice.step)
        ]

        def take_slice(state: Mapping[str, Any]) -> Any:
            obj = target(state)
            if not isinstance(obj, list | tuple | str):
                raise _EvalFailure(f"cannot slice a {type(obj).__name__}")
            lo, hi, step = (b(state) if b is not None else None for b in bounds)
            return obj[slice(lo, hi, step)]

        return take_slice
    index = _compile(node.slice, names, depth)

    def item(state: Mapping[str, Any]) -> Any:
        obj = target(state)
        key = index(state)
        if isinstance(obj, Mapping):
            if key not in obj:
                raise _EvalFailure(f"no key {key!r} (keys: {', '.join(map(str, obj))})")
            return obj[key]
        if isinstance(obj, list | tuple | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _EvalFailure(f"index must be an integer, not {type(key).__name__}")
            if not -len(obj) <= key < len(obj):
                raise _EvalFailure(f"index {key} out of range (length {len(obj)})")
            return obj[key]
        raise _EvalFailure(f"cannot subscript a {type(obj).__name__}")

    return item


def _comparison(node: ast.Compare, names: set[str], depth: int) -> _Eval:
    left = _compile(node.left, names, depth)
    ops = [_COMPARE[type(op)] for op in node.ops]
    rights = [_compile(c, names, depth) for c in node.comparators]

    def compare(state: Mapping[str, Any]) -> bool:
        a = left(state)
        for op, right in zip(ops, rights, strict=True):
            b = right(state)
            if not op(a, b):
                return False
            a = b
        return True

    return compare


def _boolean(node: ast.BoolOp, names: set[str], depth: int) -> _Eval:
    values = [_compile(v, names, depth) for v in node.values]
    is_and = isinstance(node.op, ast.And)

    def boolean(state: Mapping[str, Any]) -> Any:
        result: Any = None
        for f in values:
            result = f(state)
            if bool(result) is not is_and:
                return result
        return result

    return boolean


def _unary(node: ast.UnaryOp, names: set[str], depth: int) -> _Eval:
    operand = _compile(node.operand, names, depth)
    if isinstance(node.op, ast.Not):
        return lambda s: not operand(s)
    if isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1 if isinstance(node.op, ast.USub) else 1

        def signed(state: Mapping[str, Any]) -> Any:
            return sign * _number(operand(state))

        return signed
    raise _EvalFailure(f"operator {type(node.op).__name__} is not allowed")


def _binary(node: ast.BinOp, names: set[str], depth: int) -> _Eval:
    op = _ARITHMETIC.get(type(node.op))
    if op is None:
        raise _EvalFailure(f"operator {type(node.op).__name__} is not allowed")
    left, right = _compile(node.left, names, depth), _compile(node.right, names, depth)
    joins = isinstance(node.op, ast.Add)

    def arithmetic(state: Mapping[str, Any]) -> Any:
        a, b = left(state), right(state)
        if joins and type(a) is type(b) and isinstance(a, str | list):
            return a + b
        return op(_number(a), _number(b))

    return arithmetic


def _number(value: Any) -> int | float:
    if isinstance(value, int | float):
        return value
    raise _EvalFailure(f"expected a number, got {type(value).__name__}")


def _call(node: ast.Call, names: set[str], depth: int) -> _Eval:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        allowed = ", ".join(FUNCTIONS)
        raise _EvalFailure(f"only these functions may be called: {allowed}")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise _EvalFailure("function calls take positional arguments only")
    fn = FUNCTIONS[node.func.id]
    args: Sequence[_Eval] = [_compile(a, names, depth) for a in node.args]
    return lambda s: fn(*(a(s) for a in args))
