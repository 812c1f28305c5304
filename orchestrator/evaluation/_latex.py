"""A small LaTeX -> sympy parser for the answer forms benchmark problems use.

sympy's own ``parse_latex`` needs an ANTLR runtime pinned to one version, and
``parse_expr``/``sympify`` evaluate Python source, which is not something to do with a model's
output. This recursive-descent parser builds sympy objects directly and covers what contest
answers contain: numbers (decimals become exact rationals), letters and Greek symbols, ``\\frac``,
``\\sqrt[n]{}``, ``^``, ``_`` subscripts, ``\\pi``, ``\\infty``, ``\\cdot``/``\\times``/``\\div``,
implicit multiplication, mixed numbers (``1\\frac{4}{5}``), ``|x|``, floor/ceiling, ``n!``,
``\\binom`` and the usual functions. Anything else raises :class:`LatexParseError`, and the caller
falls back to comparing strings.

Numbers that would take unbounded time or memory to build (``2^{2^{100}}``, ``1000!``) are
refused rather than computed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import sympy

__all__ = ["LatexParseError", "brace_arguments", "parse_latex"]


class LatexParseError(ValueError):
    """The text is not a LaTeX expression this parser understands."""


_MAX_RESULT_DIGITS = 5000
_MAX_SYMBOLIC_EXPONENT = 200
_MAX_FACTORIAL = 500

_TOKEN_RE = re.compile(
    r"(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<cmd>\\(?:[a-zA-Z]+|.))"
    r"|(?P<letter>[a-zA-Z])"
    r"|(?P<op>[-+*/^_()\[\]{},=!|%'])"
    r"|(?P<space>\s+)"
)

_CONSTANTS: dict[str, sympy.Expr] = {
    "pi": sympy.pi,
    "infty": sympy.oo,
    "infinity": sympy.oo,
    "e": sympy.E,
}
_GREEK = frozenset(
    {
        *("alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta"),
        *("vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau"),
        *("upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta"),
        *("Lambda", "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"),
    }
)
_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "ln": sympy.log,
    "log": sympy.log,
    "exp": sympy.exp,
}
_MULTIPLY = frozenset({"*", "\\cdot", "\\times", "\\ast"})
_DIVIDE = frozenset({"/", "\\div"})
_CLOSERS = frozenset({")", "]", "}", "|", ",", "=", "\\rfloor", "\\rceil"})
_ALIASES = {"dfrac": "frac", "tfrac": "frac", "dbinom": "binom", "tbinom": "binom"}
# Commands that take brace arguments: name -> number of required arguments.
_ARITY = {"frac": 2, "binom": 2, "sqrt": 1}


@dataclass
class _Tok:
    kind: str
    text: str


def brace_arguments(text: str) -> str:
    """Wrap the bare arguments of ``\\frac``, ``\\binom`` and ``\\sqrt`` in braces.

    Example:
        >>> brace_arguments(r"\\frac12 + \\frac 34 + \\frac9{19} + \\sqrt2")
        '\\\\frac{1}{2} + \\\\frac{3}{4} + \\\\frac{9}{19} + \\\\sqrt{2}'
    """
    out: list[str] = []
    i = 0
    pattern = re.compile(r"\\[dt]?(frac|binom)(?![a-zA-Z])|\\(sqrt)(?![a-zA-Z])")
    while True:
        match = pattern.search(text, i)
        if match is None:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : match.end()])
        i = match.end()
        name = match.group(1) or match.group(2)
        if name == "sqrt":
            j = _skip_spaces(text, i)
            if j < len(text) and text[j] == "[":
                close = text.find("]", j)
                if close < 0:
                    out.append(text[i:])
                    return "".join(out)
                out.append(text[j : close + 1])
                i = close + 1
        for _ in range(_ARITY[name]):
            arg, i = _take_argument(text, i)
            if arg is None:
                break
            out.append(arg)


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _take_argument(text: str, i: int) -> tuple[str | None, int]:
    """One argument starting at ``i``: a brace group, a command, or one character."""
    j = _skip_spaces(text, i)
    if j >= len(text):
        return None, i
    if text[j] == "{":
        depth = 0
        for k in range(j, len(text)):
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            if depth == 0:
                return brace_arguments(text[j : k + 1]), k + 1
        return None, i
    cmd = re.match(r"\\[a-zA-Z]+", text[j:])
    if cmd:
        return "{" + cmd.group(0) + "}", j + cmd.end()
    if text[j] in "}^_&\\":
        return None, i
    return "{" + text[j] + "}", j + 1


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise LatexParseError(f"unexpected character {text[pos]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind == "space" or match.group(0) in {"\\,", "\\!", "\\;", "\\:", "\\ "}:
            continue
        tokens.append(_Tok(kind, match.group(0)))
    return tokens


def parse_latex(text: str) -> sympy.Expr:
    """Parse one LaTeX expression (no top-level commas or ``=``) into a sympy expression.

    ``i`` is the imaginary unit and ``e`` is Euler's number, as in contest answers.

    Raises:
        LatexParseError: the text uses a form this parser does not know, or would build a
            number too large to compare.

    Example:
        >>> parse_latex(r"\\frac{\\sqrt{3}}{3}") == sympy.sqrt(3) / 3
        True
    """
    parser = _Parser(_tokenize(brace_arguments(text)))
    expr = parser.expression()
    if parser.peek() is not None:
        raise LatexParseError(f"unexpected {parser.peek_text()!r}")
    return expr


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self._toks = tokens
        self._i = 0
        self._abs_depth = 0

    # -- token access -------------------------------------------------------------------
    def peek(self) -> _Tok | None:
        return self._toks[self._i] if self._i < len(self._toks) else None

    def peek_text(self) -> str:
        tok = self.peek()
        return tok.text if tok else ""

    def _next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise LatexParseError("unexpected end of expression")
        self._i += 1
        return tok

    def _expect(self, text: str) -> None:
        if self._next().text != text:
            raise LatexParseError(f"expected {text!r}")

    def _split_number(self) -> None:
        """LaTeX reads ``x^23`` as ``x^{2}3``: keep one digit for a bare exponent."""
        tok = self.peek()
        if tok is not None and tok.kind == "num" and len(tok.text) > 1:
            self._toks[self._i : self._i + 1] = [
                _Tok("num", tok.text[0]),
                _Tok("num", tok.text[1:]),
            ]

    # -- grammar ------------------------------------------------------------------------
    def expression(self) -> sympy.Expr:
        result = self._unary()
        while self.peek_text() in {"+", "-"}:
            sign = self._next().text
            right = self._unary()
            result = result + right if sign == "+" else result - right
        return result

    def _unary(self) -> sympy.Expr:
        if self.peek_text() == "-":
            self._next()
            return -self._unary()
        if self.peek_text() == "+":
            self._next()
            return self._unary()
        return self._term()

    def _term(self) -> sympy.Expr:
        start = self._i
        result = self._power()
        bare_number = self._i == start + 1 and self._toks[start].kind == "num"
        while (tok := self.peek()) is not None:
            if tok.text in _MULTIPLY:
                self._next()
                result = result * self._signed_power()
            elif tok.text in _DIVIDE:
                self._next()
                result = result / self._signed_power()
            elif self._starts_atom(tok):
                mixed = self._mixed_fraction(result) if bare_number else None
                result = result + mixed if mixed is not None else result * self._power()
            else:
                break
            bare_number = False
        return result

    def _signed_power(self) -> sympy.Expr:
        if self.peek_text() == "-":
            self._next()
            return -self._power()
        return self._power()

    def _starts_atom(self, tok: _Tok) -> bool:
        if tok.kind in {"num", "letter"}:
            return True
        if tok.text == "|":
            return self._abs_depth == 0
        if tok.kind == "cmd":
            return tok.text not in _MULTIPLY | _DIVIDE | _CLOSERS and tok.text not in {
                "\\pm",
                "\\mp",
            }
        return tok.text in {"(", "[", "{"}

    def _mixed_fraction(self, whole: sympy.Expr) -> sympy.Expr | None:
        """``1\\frac{4}{5}`` is a mixed number (one and four fifths), not a product."""
        if not (isinstance(whole, sympy.Integer) and self.peek_text() == "\\frac"):
            return None
        start = self._i
        frac = self._power()
        if isinstance(frac, sympy.Rational) and not isinstance(frac, sympy.Integer):
            return frac
        self._i = start
        return None

    def _power(self) -> sympy.Expr:
        base = self._postfix(self._atom())
        if self.peek_text() != "^":
            return base
        self._next()
        self._split_number()
        if self.peek_text() == "-":
            self._next()
            exponent = -self._postfix(self._atom())
        else:
            exponent = self._postfix(self._atom())
        return _safe_pow(base, exponent)

    def _postfix(self, expr: sympy.Expr) -> sympy.Expr:
        while self.peek_text() in {"!", "%"}:
            if self._next().text == "%":
                expr = expr / 100
                continue
            if not (isinstance(expr, sympy.Integer) and 0 <= int(expr) <= _MAX_FACTORIAL):
                raise LatexParseError("factorial of a non-small integer")
            expr = sympy.factorial(expr)
        return expr

    def _group(self, closer: str) -> sympy.Expr:
        expr = self.expression()
        self._expect(closer)
        return expr

    def _atom(self) -> sympy.Expr:
        tok = self._next()
        if tok.kind == "num":
            return sympy.Rational(tok.text)
        if tok.kind == "letter":
            return self._subscripted(tok.text)
        if tok.text in {"(", "[", "{"}:
            return self._group({"(": ")", "[": "]", "{": "}"}[tok.text])
        if tok.text == "|":
            self._abs_depth += 1
            try:
                inner = self.expression()
                self._expect("|")
            finally:
                self._abs_depth -= 1
            return sympy.Abs(inner)
        if tok.kind == "cmd":
            return self._command(tok.text[1:])
        raise LatexParseError(f"unexpected {tok.text!r}")

    def _subscripted(self, name: str) -> sympy.Expr:
        if self.peek_text() != "_":
            if name == "i":
                return sympy.I
            return _CONSTANTS["e"] if name == "e" else sympy.Symbol(name)
        self._next()
        self._split_number()
        sub = self._next()
        if sub.text == "{":
            parts: list[str] = []
            while self.peek_text() != "}":
                parts.append(self._next().text)
            self._next()
            label = "".join(parts)
        else:
            label = sub.text
        return sympy.Symbol(f"{name}_{label}")

    def _command(self, name: str) -> sympy.Expr:
        name = _ALIASES.get(name, name)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _GREEK:
            return self._subscripted(name)
        if name == "frac":
            num = self._braced()
            return num / self._braced()
        if name == "binom":
            top = self._braced()
            bottom = self._braced()
            if not all(
                isinstance(v, sympy.Integer) and 0 <= int(v) <= 10_000 for v in (top, bottom)
            ):
                raise LatexParseError("binomial of non-small integers")
            return sympy.binomial(top, bottom)
        if name == "sqrt":
            index: sympy.Expr = sympy.Integer(2)
            if self.peek_text() == "[":
                self._next()
                index = self._group("]")
            return _safe_pow(self._braced(), 1 / index)
        if name in {"lfloor", "lceil"}:
            inner = self.expression()
            self._expect("\\rfloor" if name == "lfloor" else "\\rceil")
            return sympy.floor(inner) if name == "lfloor" else sympy.ceiling(inner)
        if name in _FUNCTIONS:
            return self._function(name)
        raise LatexParseError(f"unsupported command \\{name}")

    def _braced(self) -> sympy.Expr:
        self._expect("{")
        return self._group("}")

    def _function(self, name: str) -> sympy.Expr:
        base: sympy.Expr | None = None
        if name == "log" and self.peek_text() == "_":
            self._next()
            self._split_number()
            base = self._atom()
        power: sympy.Expr | None = None
        if self.peek_text() == "^":
            self._next()
            self._split_number()
            power = self._atom()
        if self.peek_text() in {"(", "["}:
            arg = self._power()
        else:
            arg = self._power()
            while (tok := self.peek()) is not None and tok.kind in {"num", "letter"}:
                arg = arg * self._power()
        value = sympy.log(arg, base) if base is not None else _FUNCTIONS[name](arg)
        return _safe_pow(value, power) if power is not None else value


def _safe_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """``base ** exponent``, refusing results too large to build or compare in time."""
    if exponent.is_Number and abs(exponent) > _MAX_SYMBOLIC_EXPONENT and not base.is_Number:
        raise LatexParseError("exponent too large")
    if base.is_Number and exponent.is_Number and base != 0:
        magnitude = abs(float(exponent)) * abs(math.log10(abs(float(base)) or 1.0))
        if math.isinf(magnitude) or magnitude > _MAX_RESULT_DIGITS:
            raise LatexParseError("number too large")
    result: sympy.Expr = base**exponent
    return result
