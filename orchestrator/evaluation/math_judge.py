"""Judge math answers: find the final answer, normalise it, compare it with the reference.

Comparison runs in three steps, each cheap before the next:

1. both answers are normalised as strings (``\\boxed{}``, ``\\left``/``\\right``, ``\\dfrac``,
   spacing commands, ``^\\circ``, ``\\%``, units written as ``\\text{ cm}``, thousands separators,
   a leading ``x =``, trailing periods...) and compared;
2. each is split into its structure: a tuple or interval ``(a, b]``, a union of intervals, a set
   ``\\{a, b\\}``, an unordered list ``a, b``, ``a \\pm b``, a matrix, an equation;
3. scalar parts are parsed into sympy (:mod:`._latex`, which never evaluates text as code) and
   compared exactly when they are numbers, and by evaluation at fixed pseudo-random points when
   they hold symbols.

Step 3 runs in the sandboxed sympy worker (:func:`tools.math.run_math_worker` with
``_judge_worker.py``): its limits bound a pathological answer to ``timeout_s``, with no
signal, no timer and no thread left behind; callers on an event loop run the judge in a
worker thread. :func:`answers_match` is the same comparison in-process, without a limit.

Example:
    >>> answers_equal(extract_answer(r"so $x = \\boxed{\\dfrac12}$."), "0.5")
    True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.evaluation._equivalence import compact, parse_structure, values_equal
from orchestrator.evaluation._latex import brace_arguments
from orchestrator.exceptions import ToolError
from orchestrator.text.think import answer_part
from tools._limits import SandboxLimits
from tools.math import run_math_worker

__all__ = [
    "answers_equal",
    "answers_match",
    "extract_answer",
    "last_boxed",
    "normalize_answer",
]

_WORKER = Path(__file__).with_name("_judge_worker.py")

_UNITS = (
    "degrees?|units?|square units|sq units|cm|mm|km|m|meters?|inches|inch|in|feet|foot|ft|"
    "miles?|mph|cents?|dollars?|hours?|minutes?|seconds?|days?|weeks?|years?|pounds?|lbs?|"
    "ounces?|grams?|g|kg|liters?|ml|cubic units|sq ft|sq in"
)
_UNIT_TAIL = re.compile(rf"(?<=[\d}}])\s+(?:{_UNITS})(?:\^\{{?\d\}}?)?$")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|mathbf)\s*\{")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])\s*")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


# --------------------------------------------------------------------------- extraction


def last_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` (or ``\fbox{...}``) in ``text``, braces balanced.

    Example:
        >>> last_boxed(r"so $\boxed{\frac{1}{2}}$ and done")
        '\\frac{1}{2}'
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.index("{", start) if "{" in text[start:] else -1
    head = text[start : i if i >= 0 else len(text)]
    if i < 0 or head.strip() not in {"\\boxed", "\\fbox"}:
        bare = re.match(r"\\boxed\s+([^\s$]+)", text[start:])
        return bare.group(1) if bare else None
    depth = 0
    for k in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[i + 1 : k]
    return None


def extract_answer(text: str | None, structured: Mapping[str, Any] | None = None) -> str | None:
    """Find the final answer in a model's reply.

    Looks, in order, for the last ``\\boxed{}`` in the text (outside ``<think>`` blocks), an
    ``answer`` field of the structured output, a JSON ``"answer"`` in the text, the last
    "answer is X" / "Answer: X", and finally a short last line.

    Example:
        >>> extract_answer("Adding them, the answer is $12$.")
        '12'
        >>> extract_answer(None, {"answer": "3/4", "steps": []})
        '3/4'
    """
    body = answer_part(text)
    boxed = last_boxed(body)
    if boxed is not None:
        return boxed.strip()
    field = _answer_field(structured)
    if field is not None:
        return field
    for found in (_json_answer(body), _phrase_answer(body)):
        if found:
            return found
    lines = [ln.strip() for ln in body.strip().splitlines() if ln.strip()]
    if lines and len(lines[-1]) <= 60:
        return _strip_math_delimiters(lines[-1]).rstrip(".") or None
    return None


def _answer_field(structured: Mapping[str, Any] | None) -> str | None:
    if not structured:
        return None
    for key in ("answer", "final_answer", "result"):
        value = structured.get(key)
        if isinstance(value, Mapping):
            return _answer_field(value)
        if value is not None and not isinstance(value, list | bool):
            return str(value).strip()
    return None


def _json_answer(body: str) -> str | None:
    matches = list(re.finditer(r'"answer"\s*:\s*', body))
    if not matches:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(body, matches[-1].end())
    except json.JSONDecodeError:
        return None
    return None if value is None or isinstance(value, dict | list) else str(value)


def _phrase_answer(body: str) -> str | None:
    pattern = r"(?i)\banswer\s*(?:is|:|=)\s*:?\s*(.+)"
    matches = list(re.finditer(pattern, body))
    if not matches:
        return None
    found = matches[-1].group(1).strip()
    inline = re.match(r"\$+([^$]+)\$+", found)
    if inline:
        return inline.group(1).strip()
    found = re.split(r"\.\s", found, maxsplit=1)[0]
    return _strip_math_delimiters(found).rstrip(". ").strip() or None


def _strip_math_delimiters(text: str) -> str:
    inline = re.fullmatch(r"\$+(.+?)\$+\.?", text.strip())
    if inline:
        return inline.group(1).strip()
    return text.strip().strip("$").strip()


# --------------------------------------------------------------------------- normalisation


def normalize_answer(text: str) -> str:
    """The canonical string form of an answer (no spaces), used for the first comparison.

    Example:
        >>> normalize_answer(r"\\boxed{\\left( 3, \\dfrac{\\pi}2 \\right)}.")
        '(3,\\\\frac{\\\\pi}{2})'
    """
    return re.sub(r"\s+", "", _clean(text))


def _clean(text: str) -> str:
    """Normalise an answer but keep single spaces (``\\cot x`` needs them to parse)."""
    s = text.strip()
    boxed = last_boxed(s)
    if boxed is not None:
        s = boxed
    s = _strip_math_delimiters(s)
    s = re.sub(r"^\\\[|\\\]$|^\\\(|\\\)$", "", s).strip()
    s = _LEFT_RIGHT.sub("", s)
    s = re.sub(r"\\(?:displaystyle|limits)(?![a-zA-Z])", "", s)
    s = re.sub(r"(\d),\\!\s*(?=\d{3})", r"\1,", s)
    s = re.sub(r"(?<!\\)\\(?:[!,;: ]|q?quad(?![a-zA-Z]))|~", " ", s)
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree(?![a-zA-Z])", "", s)
    s = re.sub(r"\\?\$|\\?%", "", s)
    s = _drop_text_wrappers(s)
    s = _UNIT_TAIL.sub("", s.strip())
    s = brace_arguments(s)
    s = re.sub(r"\\[dt](frac|binom)(?![a-zA-Z])", r"\\\1", s)
    s = re.sub(r"([_^])\{\s*([\w.])\s*\}", r"\1\2", s)
    s = re.sub(r"(?<![\d.])\.(\d)", r"0.\1", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    s = re.sub(r"^[a-zA-Z]\s*(?:=|\\in)\s*(?!.*=)", "", s)
    choice = re.fullmatch(r"\(([A-Ea-e])\)", s)
    return choice.group(1).upper() if choice else s


def _drop_text_wrappers(s: str) -> str:
    r"""Unwrap ``\text{...}`` groups; drop those that are units after a quantity."""
    while (match := _TEXT_CMD.search(s)) is not None:
        end = _matching_brace(s, match.end() - 1)
        if end < 0:
            return s
        content = s[match.end() : end]
        before = s[: match.start()].strip()
        rest = s[end + 1 :]
        if before and re.fullmatch(r"\s*[A-Za-z][A-Za-z .]*", content):
            rest = re.sub(r"^\^\s*(?:\{\s*\d\s*\}|\d)", "", rest)
            s = s[: match.start()] + rest
        else:
            s = s[: match.start()] + content + rest
    return s


def _matching_brace(s: str, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(s)):
        depth += {"{": 1, "}": -1}.get(s[k], 0)
        if depth == 0:
            return k
    return -1


def answers_equal(predicted: str | None, reference: str, *, timeout_s: float = 5.0) -> bool:
    """Whether a predicted answer means the same as the reference answer.

    Both are normalised and compared structurally; numbers must agree exactly (``0.5`` equals
    ``\\frac12`` but ``0.333`` does not equal ``\\frac13``); expressions with symbols must agree
    as functions. Lists separated by commas are compared without regard to order, tuples and
    intervals in order. Gives ``False`` when the comparison outlasts ``timeout_s``.

    Example:
        >>> answers_equal(r"\\dfrac12", "0.5")
        True
        >>> answers_equal(r"\\left( 3, \\frac{\\pi}{2} \\right)", r"(3,\\pi/2)")
        True
    """
    if predicted is None or not predicted.strip():
        return False
    try:
        pred, ref = _clean(predicted), _clean(reference)
    except RecursionError:  # braces nested thousands deep
        return False
    if compact(pred) == compact(ref):
        return True
    limits = SandboxLimits(
        cpu_seconds=max(1, math.ceil(timeout_s)), memory_mb=1024, wall_timeout_s=timeout_s
    )
    try:
        reply = run_math_worker(
            "same_answer", {"predicted": pred, "reference": ref}, limits=limits, worker=_WORKER
        )
    except ToolError:  # stopped by a limit, or the comparison failed: not shown equal
        return False
    return reply.get("equal") is True


def answers_match(predicted: str | None, reference: str) -> bool:
    """:func:`answers_equal` in-process and without a time limit (for trusted inputs)."""
    if predicted is None or not predicted.strip():
        return False
    pred, ref = _clean(predicted), _clean(reference)
    if compact(pred) == compact(ref):
        return True
    try:
        return values_equal(parse_structure(pred), parse_structure(ref))
    except Exception:
        return False
