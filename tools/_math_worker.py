"""The math tools' worker: parse safely, compute with sympy, print one JSON line.

Run as ``python -I _math_worker.py REQUEST_JSON`` inside the sandbox (standard library and
sympy only; never imported by the package at run time, though tests may import it). The
sandbox bounds time and memory, which sympy alone cannot (``simplify`` or ``9**9**9**9`` can
run for ever).

Parsing: ``parse_expr`` ends in ``eval``, so input is checked token by token first: no
strings, no attribute access (``.`` outside numbers), no names with ``__``, no keywords
(``lambda``, ``for``, ...), no ``==``/``!=``, ``=`` only as one top-level equation sign or a
keyword argument. The eval namespace is an allow-list of sympy math names with empty
builtins, so nothing that turns strings back into code (``sympify``, ``S``, ``parse_expr``)
or prints expressions to strings is reachable. Simple LaTeX (``\\frac``, ``\\sqrt``,
``\\cdot``, ``^{}``, Greek letters, ``\\boxed``) is rewritten to plain syntax first.
"""

from __future__ import annotations

import io
import json
import keyword
import random
import re
import sys
import tokenize
from collections.abc import Callable
from typing import Any

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_application,
    implicit_multiplication,
    parse_expr,
    standard_transformations,
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MAX_CHARS = 2000
_TRANSFORMS = (
    *standard_transformations,
    implicit_multiplication,
    implicit_application,
    convert_xor,
)
_ALLOWED_OPS = frozenset(_words("+ - * / // % ** ^ ( ) [ ] , < > <= >= ="))
_MATH_NAMES = _words(
    "pi E I oo zoo nan EulerGamma GoldenRatio Catalan "
    "sin cos tan cot sec csc asin acos atan atan2 acot asec acsc "
    "sinh cosh tanh coth asinh acosh atanh exp log sqrt cbrt root real_root "
    "Abs sign floor ceiling frac re im arg conjugate Min Max Mod "
    "factorial factorial2 binomial gamma loggamma digamma beta erf erfc zeta LambertW "
    "Heaviside DiracDelta Piecewise gcd lcm isprime prime totient mod_inverse harmonic "
    "fibonacci diff integrate limit summation product Sum Product Integral Derivative Limit "
    "simplify expand factor cancel apart together trigsimp nsimplify radsimp powsimp "
    "expand_log logcombine solve Eq Lt Le Gt Ge And Or Not Matrix det Interval FiniteSet "
    "Union Intersection N Rational Integer Float Symbol Function Tuple"
)
_GREEK = _words(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron rho "
    "sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Sigma Upsilon Phi Psi Omega"
)
_LATEX_WORDS = {
    "cdot": "*", "times": "*", "div": "/", "infty": "oo", "pi": "pi", "le": "<=",
    "leq": "<=", "ge": ">=", "geq": ">=", "lt": "<", "gt": ">", "ln": "log",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    **{f: f for f in _words("sin cos tan cot sec csc sinh cosh tanh log exp")},
}  # fmt: skip
_LATEX_DROP = re.compile(r"\\(?:left|right|displaystyle|,|;|!|:|quad|qquad)|\$|\\ ")
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|operatorname)\{([^{}]*)\}")


class InputError(ValueError):
    """Input the parser refuses; the message is for the model."""


def namespace() -> dict[str, Any]:
    """The eval globals: allow-listed sympy names and no builtins."""
    ns: dict[str, Any] = {"__builtins__": {}}
    for name in _MATH_NAMES:
        if hasattr(sympy, name):
            ns[name] = getattr(sympy, name)
    ns.update(ln=sympy.log, max=sympy.Max, min=sympy.Min)
    return ns


def latex_to_text(src: str) -> str:
    """Rewrite the common LaTeX of math answers into parse_expr syntax."""
    s = _LATEX_TEXT.sub("", _LATEX_DROP.sub(" ", src))
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch != "\\":
            out.append({"{": "(", "}": ")"}.get(ch, ch))
            i += 1
            continue
        m = re.match(r"\\([A-Za-z]+)", s[i:])
        if not m:
            raise InputError(f"unsupported LaTeX near {s[i : i + 10]!r}")
        word = m.group(1)
        i += len(m.group(0))
        if word in ("frac", "dfrac", "tfrac"):
            num, i = _group(s, i)
            den, i = _group(s, i)
            out.append(f"(({latex_to_text(num)})/({latex_to_text(den)}))")
        elif word == "sqrt":
            index = None
            if s[i : i + 1] == "[":
                end = s.index("]", i)
                index, i = s[i + 1 : end], end + 1
            body, i = _group(s, i)
            arg = latex_to_text(body)
            out.append(f"root(({arg}),({latex_to_text(index)}))" if index else f"sqrt({arg})")
        elif word == "boxed":
            body, i = _group(s, i)
            out.append(f"({latex_to_text(body)})")
        elif word in _LATEX_WORDS:
            out.append(f" {_LATEX_WORDS[word]} ")
        elif word in _GREEK:
            out.append(" lamda " if word == "lambda" else f" {word} ")
        else:
            raise InputError(f"unsupported LaTeX command \\{word}")
    return "".join(out)


def _group(s: str, i: int) -> tuple[str, int]:
    """The ``{...}`` group (or single character) starting at ``i``, and the index after it."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise InputError("LaTeX command is missing its argument")
    if s[i] != "{":
        return s[i], i + 1
    depth = 0
    for j in range(i, len(s)):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return s[i + 1 : j], j + 1
    raise InputError("unbalanced braces in LaTeX")


def check_tokens(text: str) -> list[tokenize.TokenInfo]:
    """Refuse anything but numbers, plain names, brackets and arithmetic; return the tokens."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise InputError(f"cannot parse: {exc}") from None
    for tok in tokens:
        kind, value = tok.type, tok.string
        if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.NUMBER):
            continue
        if kind == tokenize.NAME:
            if "__" in value or (keyword.iskeyword(value) and value not in ("True", "False")):
                raise InputError(f"name {value!r} is not allowed")
            continue
        if (kind == tokenize.OP and value in _ALLOWED_OPS) or value == "!":
            continue
        if kind == tokenize.ERRORTOKEN and not value.strip():
            continue
        raise InputError(f"{value!r} is not allowed in an expression")
    return tokens


def parse(text: str) -> Any:
    """Parse one expression or equation (``lhs = rhs`` becomes ``Eq(lhs, rhs)``)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("expression is empty")
    if len(text) > MAX_CHARS:
        raise InputError(f"expression is longer than {MAX_CHARS} characters")
    if "\\" in text or "$" in text:
        text = latex_to_text(text)
    text = " ".join(text.split())
    tokens = check_tokens(text)
    depth, splits = 0, []
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == "=" and depth == 0:
            splits.append(tok)
    if len(splits) > 1:
        raise InputError("more than one '=' in an equation")
    if splits:
        lines = text.splitlines()
        row, col = splits[0].start
        offset = sum(len(line) + 1 for line in lines[: row - 1]) + col
        return sympy.Eq(_parse_one(text[:offset]), _parse_one(text[offset + 1 :]))
    return _parse_one(text)


def _parse_one(text: str) -> Any:
    if not text.strip():
        raise InputError("one side of the equation is empty")
    try:
        return parse_expr(text.strip(), global_dict=namespace(), transformations=_TRANSFORMS)
    except InputError:
        raise
    except Exception as exc:  # parse_expr raises anything from SyntaxError to TypeError
        raise InputError(f"cannot parse {text.strip()!r}: {type(exc).__name__}: {exc}") from None


def evaluate(expression: str) -> dict[str, Any]:
    """The exact value and, when it is a number, a 15-digit decimal."""
    value = _doit(parse(expression))
    result: dict[str, Any] = {"exact": _text(value)}
    if isinstance(value, sympy.Expr) and not value.free_symbols and not value.is_Integer:
        numeric = value.evalf(15)
        if _text(numeric) != result["exact"]:
            result["numeric"] = _text(numeric)
    return result


def simplify(expression: str) -> dict[str, Any]:
    """``sympy.simplify`` after evaluating sums, integrals and limits."""
    value = _doit(parse(expression))
    try:
        return {"simplified": _text(sympy.simplify(value))}
    except (TypeError, AttributeError, ValueError):
        return {"simplified": _text(value)}


def check_equal(a: str, b: str, tolerance: float = 1e-9) -> dict[str, Any]:
    """Whether ``a`` and ``b`` are equal: symbolically, else numerically at sample points."""
    left, right = _doit(parse(a)), _doit(parse(b))
    equal, method, detail = _equal(left, right, tolerance)
    return {"equal": equal, "method": method, "detail": detail}


def _equal(left: Any, right: Any, tol: float) -> tuple[bool | None, str, str]:
    sequence = tuple | list | sympy.Tuple
    if isinstance(left, sequence) and isinstance(right, sequence):
        if len(left) != len(right):
            return False, "structural", f"{len(left)} items against {len(right)}"
        for x, y in zip(left, right, strict=True):
            verdict = _equal(x, y, tol)
            if verdict[0] is not True:
                return verdict
        return True, "elementwise", "every item is equal"
    if isinstance(left, sympy.Equality) and isinstance(right, sympy.Equality):
        ratio = sympy.simplify((left.lhs - left.rhs) / (right.lhs - right.rhs))
        if ratio.is_number and ratio != 0 and ratio.is_finite:
            return True, "symbolic", "the equations are multiples of each other"
        left, right = left.lhs - left.rhs, right.lhs - right.rhs
    if not (isinstance(left, sympy.Expr) and isinstance(right, sympy.Expr)):
        same = sympy.simplify(left) == sympy.simplify(right)
        return same, "structural", "compared after simplification"
    diff = sympy.simplify(left - right)
    if diff == 0:
        return True, "symbolic", "simplify(a - b) is 0"
    if not diff.free_symbols:
        gap = _magnitude(diff)
        scale = max(1.0, _magnitude(left), _magnitude(right))
        if gap <= tol * scale:
            return True, "numeric", f"differ by {gap:.3g}, within tolerance {tol:g}"
        return False, "numeric", f"a - b = {_text(diff.evalf(15))}"
    return _sample(left, right, tol)


def _sample(left: sympy.Expr, right: sympy.Expr, tol: float) -> tuple[bool | None, str, str]:
    """Compare at random points (seeded); unknown when no point gives finite values."""
    symbols = sorted(left.free_symbols | right.free_symbols, key=str)
    rng = random.Random(0)
    checked = 0
    for _ in range(12):
        point = {s: sympy.Float(rng.choice((-1, 1)) * rng.uniform(0.3, 2.7)) for s in symbols}
        try:
            x, y = complex(left.evalf(30, subs=point)), complex(right.evalf(30, subs=point))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not all(map(_finite, (x, y))):
            continue
        checked += 1
        if abs(x - y) > tol * max(1.0, abs(x), abs(y)):
            where = ", ".join(f"{s}={float(v):.4g}" for s, v in point.items())
            return False, "numeric", f"differ at {where}: {_fmt(x)} vs {_fmt(y)}"
        if checked == 6:
            break
    if not checked:
        return None, "unknown", "no sample point gave finite values"
    return True, "numeric", f"equal at {checked} random points (not proven symbolically)"


def _magnitude(value: sympy.Expr) -> float:
    try:
        return abs(complex(value.evalf(30)))
    except (TypeError, ValueError):
        return 0.0


def _fmt(z: complex) -> str:
    return f"{z.real:.6g}" if z.imag == 0 else f"{z:.6g}"


def _finite(z: complex) -> bool:
    return all(v == v and abs(v) != float("inf") for v in (z.real, z.imag))


def _doit(value: Any) -> Any:
    doit = getattr(value, "doit", None)
    return doit() if callable(doit) else value


def _text(value: Any) -> str:
    return str(value)


def main() -> None:
    request = json.loads(sys.argv[1])
    ops: dict[str, Callable[..., dict[str, Any]]] = {
        "evaluate": evaluate,
        "simplify": simplify,
        "check_equal": check_equal,
    }
    try:
        result = ops[request["op"]](**request["args"])
        reply: dict[str, Any] = {"ok": True, "result": result}
    except InputError as exc:
        reply = {"ok": False, "error": str(exc)}
    except (ArithmeticError, TypeError, ValueError, NotImplementedError, AttributeError) as exc:
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
