"""Answers as structures (tuples, intervals, sets, matrices, equations) and their equality.

Private to the math judge: :func:`parse_structure` reads a normalised answer into a small tree,
:func:`values_equal` compares two trees, parsing scalar parts with :mod:`._latex` into sympy.
Numbers must agree exactly (to 12 significant digits after exact evaluation); expressions with
symbols must agree at several fixed pseudo-random points.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from dataclasses import dataclass

import sympy

# Relative: the judge worker loads this module outside the ``orchestrator`` package.
from ._latex import parse_latex

__all__ = ["Value", "compact", "parse_structure", "values_equal"]

_REL_TOL = 1e-12
# Items of an unordered list compared by meaning, after identical texts pair off; beyond this
# the list is too long to be an answer, and comparing it would take quadratic time.
_MAX_SEMANTIC_ITEMS = 100
_PM = re.compile(r"\\(pm|mp)(?![a-zA-Z])")
_MAX_PM = 4  # each ``\pm`` doubles the items; more than a few is not an answer


@dataclass(frozen=True)
class _Scalar:
    text: str


@dataclass(frozen=True)
class _Seq:
    brackets: str
    items: tuple[Value, ...]


@dataclass(frozen=True)
class _Bag:
    items: tuple[Value, ...]


@dataclass(frozen=True)
class _Matrix:
    rows: tuple[tuple[_Scalar, ...], ...]


@dataclass(frozen=True)
class _Equation:
    lhs: str
    rhs: str


Value = _Scalar | _Seq | _Bag | _Matrix | _Equation


def _split_top(s: str, sep: str) -> list[str]:
    parts: list[str] = []
    depth, last, i = 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            parts.append(s[last:i])
            last = i + len(sep)
            i = last
            continue
        i += 1
    parts.append(s[last:])
    return [p.strip() for p in parts]


def _wrapped(s: str, openers: str, closers: str) -> bool:
    """Whether the first and last characters bracket the whole string."""
    if len(s) < 2 or s[0] not in openers or s[-1] not in closers:
        return False
    depth = 0
    for k, ch in enumerate(s):
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        if depth == 0 and k < len(s) - 1:
            return False
    return True


def _expand_pm(s: str) -> list[str]:
    match = _PM.search(s)
    if match is None:
        return [s]
    first, second = ("+", "-") if match.group(1) == "pm" else ("-", "+")
    head, tail = s[: match.start()], s[match.end() :]
    return _expand_pm(head + first + tail) + _expand_pm(head + second + tail)


def _bag(parts: list[str]) -> Value:
    many = len(_PM.findall("".join(parts))) > _MAX_PM
    items = tuple(
        parse_structure(p) for part in parts for p in ([part] if many else _expand_pm(part))
    )
    return items[0] if len(items) == 1 else _Bag(items)


def parse_structure(s: str) -> Value:
    """The structure of a normalised answer; scalar parts stay text until compared."""
    s = s.strip()
    matrix = re.fullmatch(
        r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}", s, re.S
    )
    if matrix:
        rows = [r for r in re.split(r"\\\\", matrix.group(2)) if r.strip()]
        return _Matrix(tuple(tuple(_Scalar(c.strip()) for c in r.split("&")) for r in rows))
    unions = _split_top(s, "\\cup")
    if len(unions) > 1:
        return _Bag(tuple(parse_structure(u) for u in unions))
    if s.startswith("\\{") and s.endswith("\\}"):
        return _bag(_split_top(s[2:-2], ","))
    if _wrapped(s, "([", ")]"):
        inner = _split_top(s[1:-1], ",")
        if len(inner) > 1:
            return _Seq(s[0] + s[-1], tuple(parse_structure(p) for p in inner))
    parts = _split_top(s, ",")
    if len(parts) > 1 or _PM.search(s):
        return _bag(parts)
    sides = _split_top(s, "=")
    if len(sides) == 2:
        return _Equation(sides[0], sides[1])
    return _Scalar(s)


# --------------------------------------------------------------------------- comparison


def compact(s: str) -> str:
    """``s`` without whitespace; lower-cased when it is a plain word (text answers)."""
    s = re.sub(r"\s+", "", s)
    return s.lower() if re.fullmatch(r"[A-Za-z]{2,}", s) else s


def values_equal(a: Value, b: Value) -> bool:
    """Whether two structures mean the same (a column or row vector may equal a tuple)."""
    if isinstance(a, _Scalar) and isinstance(b, _Scalar):
        return _scalar_equal(a.text, b.text)
    if isinstance(a, _Seq) and isinstance(b, _Seq):
        return a.brackets == b.brackets and _pairwise(a.items, b.items)
    if isinstance(a, _Bag) and isinstance(b, _Bag):
        return _unordered(list(a.items), list(b.items))
    if isinstance(a, _Matrix) and isinstance(b, _Matrix):
        return len(a.rows) == len(b.rows) and all(
            _pairwise(ra, rb) for ra, rb in zip(a.rows, b.rows, strict=True)
        )
    if isinstance(a, _Equation) and isinstance(b, _Equation):
        return _equations_equal(a, b)
    vector = (
        _as_vector(a) if isinstance(b, _Seq) else _as_vector(b) if isinstance(a, _Seq) else None
    )
    other = b if isinstance(b, _Seq) else a
    return vector is not None and isinstance(other, _Seq) and _pairwise(vector, other.items)


def _as_vector(v: Value) -> tuple[Value, ...] | None:
    if isinstance(v, _Matrix) and (len(v.rows) == 1 or all(len(r) == 1 for r in v.rows)):
        return tuple(c for r in v.rows for c in r)
    return None


def _pairwise(xs: tuple[Value, ...], ys: tuple[Value, ...]) -> bool:
    return len(xs) == len(ys) and all(values_equal(x, y) for x, y in zip(xs, ys, strict=True))


def _unordered(xs: list[Value], ys: list[Value]) -> bool:
    """Equal as multisets: identical texts pair off first, the rest by meaning (greedy
    matching suffices because equality is transitive)."""
    if len(xs) != len(ys):
        return False
    left, right = _drop_same_text(xs, ys)
    if len(left) > _MAX_SEMANTIC_ITEMS:
        return False
    for x in left:
        match = next((k for k, y in enumerate(right) if values_equal(x, y)), None)
        if match is None:
            return False
        del right[match]
    return True


def _drop_same_text(xs: list[Value], ys: list[Value]) -> tuple[list[Value], list[Value]]:
    """Both lists less the scalars whose texts appear in both (as often as in both)."""
    common = _text_counts(xs) & _text_counts(ys)
    return _without(xs, common), _without(ys, common)


def _text_key(value: Value) -> str | None:
    return compact(value.text) if isinstance(value, _Scalar) else None


def _text_counts(values: list[Value]) -> Counter[str]:
    return Counter(key for v in values if (key := _text_key(v)) is not None)


def _without(values: list[Value], drop: Counter[str]) -> list[Value]:
    budget = Counter(drop)
    kept: list[Value] = []
    for value in values:
        key = _text_key(value)
        if key is not None and budget[key] > 0:
            budget[key] -= 1
        else:
            kept.append(value)
    return kept


def _scalar_equal(a: str, b: str) -> bool:
    if compact(a) == compact(b):
        return True
    try:
        return _sympy_equal(_parsed(a), _parsed(b))
    except Exception:  # sympy raises many unrelated types on odd input
        return False


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> sympy.Expr:
    """Parsed once per text: list comparisons meet the same element many times."""
    return parse_latex(text)


def _sympy_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    if a == b:
        return True
    if a.is_Rational and b.is_Rational:
        return False
    diff = a - b
    if diff == 0:
        return True
    if not diff.free_symbols:
        return _numbers_close(a, b)
    # Evaluating at points is cheap where expanding (x + y)^40 is not.
    pairs = _sample(a, b)
    return pairs is not None and all(_close(x, y) for x, y in pairs)


def _numbers_close(a: sympy.Expr, b: sympy.Expr) -> bool:
    va, vb = complex(sympy.N(a, 40)), complex(sympy.N(b, 40))
    return _close(va, vb)


def _close(x: complex, y: complex) -> bool:
    scale = max(abs(x), abs(y))
    if scale != scale or scale == float("inf"):
        return False
    return abs(x - y) <= _REL_TOL * scale


def _sample(a: sympy.Expr, b: sympy.Expr) -> list[tuple[complex, complex]] | None:
    """``(a, b)`` evaluated at a few fixed pseudo-random points; None if too few are defined."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    rng = random.Random(1729)
    values: list[tuple[complex, complex]] = []
    for _ in range(6):
        point = {s: sympy.Rational(rng.randint(50, 250), 97) for s in symbols}
        try:
            pair = (complex(a.evalf(30, subs=point)), complex(b.evalf(30, subs=point)))
        except (TypeError, ValueError, ArithmeticError):
            continue
        if all(abs(v) < float("inf") and v == v for v in pair):
            values.append(pair)
    return values if len(values) >= 3 else None


def _equations_equal(a: _Equation, b: _Equation) -> bool:
    """Equal sides, or ``lhs - rhs`` of one a nonzero multiple of the other's."""
    if _scalar_equal(a.lhs, b.lhs) and _scalar_equal(a.rhs, b.rhs):
        return True
    try:
        da = parse_latex(a.lhs) - parse_latex(a.rhs)
        db = parse_latex(b.lhs) - parse_latex(b.rhs)
        pairs = _sample(da, db)
    except Exception:  # sympy raises many unrelated types on odd input
        return False
    if not pairs or any(abs(y) == 0 for _, y in pairs):
        return False
    ratios = [x / y for x, y in pairs]
    return ratios[0] != 0 and all(_close(r, ratios[0]) for r in ratios)
