"""Search/replace on text that must match exactly once, with errors a model can act on."""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass

from orchestrator.exceptions import ToolError

__all__ = ["Replacement", "replace_once"]

_MAX_NEAR = 3
_NEAR_CUTOFF = 0.5
_SEEDS = 4  # windows rated by difflib, each with its neighbours
_NEIGHBOURS = 1
_LINE_CAP = 400
_TOKEN_CAP = 800  # tokens of a window difflib compares (its cost grows with the square)
_BUDGET_S = 0.1  # difflib's share of a miss, whatever the file and search sizes
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"^[ \t]+|\w+|\S")
_SHOW_POSITIONS = 10


@dataclass(frozen=True)
class Replacement:
    """The edited text and where the edit landed (1-based line numbers of the old text)."""

    text: str
    first_line: int
    old_lines: int
    new_lines: int


def replace_once(text: str, search: str, replace: str, *, display: str) -> Replacement:
    """Replace the single occurrence of ``search`` in ``text``.

    Files with CRLF line ends also match a ``search`` written with LF ends (the replacement
    then gets CRLF too).

    Raises:
        ToolError: ``search`` is empty, absent (the message shows the closest passages with
            line numbers) or occurs more than once (the message gives the count and lines).
    """
    if not search:
        raise ToolError("search text is empty; use write_file to create or overwrite a file")
    positions = _occurrences(text, search)
    if not positions and "\r\n" in text and "\r" not in search:
        crlf_search = search.replace("\n", "\r\n")
        positions = _occurrences(text, crlf_search)
        if positions:
            search, replace = crlf_search, replace.replace("\r\n", "\n").replace("\n", "\r\n")
    if len(positions) > 1:
        lines = [text.count("\n", 0, p) + 1 for p in positions]
        shown = ", ".join(str(n) for n in lines[:_SHOW_POSITIONS])
        more = " ..." if len(lines) > _SHOW_POSITIONS else ""
        raise ToolError(
            f"search text matches {len(positions)} times in {display} (at lines {shown}{more});"
            " it must match exactly once: include more surrounding lines to make it unique",
            details={"matches": len(positions), "lines": lines},
        )
    if not positions:
        raise ToolError(_not_found_message(text, search, display), details={"matches": 0})
    start = positions[0]
    return Replacement(
        text=text[:start] + replace + text[start + len(search) :],
        first_line=text.count("\n", 0, start) + 1,
        old_lines=search.count("\n") + 1,
        new_lines=replace.count("\n") + 1,
    )


def _occurrences(text: str, search: str) -> list[int]:
    """Start offsets of ``search``, overlapping ones included."""
    found: list[int] = []
    pos = text.find(search)
    while pos != -1:
        found.append(pos)
        pos = text.find(search, pos + 1)
    return found


def _not_found_message(text: str, search: str, display: str) -> str:
    lines = text.splitlines()
    wanted = search.strip("\n").splitlines() or [search]
    parts = [f"search text not found in {display}."]
    if _squash(search) and _squash(search) in _squash(text):
        parts.append("It matches if whitespace is ignored: copy the indentation exactly.")
    near = _near_matches(lines, wanted)
    if near:
        parts.append("Closest passages (line numbers are not part of the file):")
        for first, ratio in near:
            parts.append(f"lines {first + 1}-{first + len(wanted)} (similarity {ratio:.2f}):")
            last = min(first + len(wanted), len(lines))
            parts.extend(f"{n + 1:>5}| {lines[n]}" for n in range(first, last))
    else:
        parts.append("Nothing similar found; read the file again before editing.")
    return "\n".join(parts)


def _squash(s: str) -> str:
    return "".join(s.split())


def _near_matches(lines: list[str], wanted: list[str]) -> list[tuple[int, float]]:
    """Up to three windows of ``len(wanted)`` lines most similar to ``wanted``, best first.

    Bounded work whatever the file: a linear pass scores every window by the words it shares
    with ``wanted`` (prefix sums, so the window size does not matter), then ``difflib`` rates
    only the few best windows and their neighbours, as tokens (at most :data:`_TOKEN_CAP`),
    stopping at :data:`_BUDGET_S`.
    """
    size = len(wanted)
    count = max(len(lines) - size + 1, 1)
    wanted_words = set(_WORD.findall("\n".join(wanted)))
    wanted_lines = {line.strip() for line in wanted if line.strip()}
    prefix = [0.0]
    for line in lines:
        words = set(_WORD.findall(line[:_LINE_CAP]))
        score = len(words & wanted_words) / (len(words) + 1)
        prefix.append(prefix[-1] + score + (line.strip() in wanted_lines))
    ranked = sorted(range(count), key=lambda i: prefix[min(i + size, len(lines))] - prefix[i])
    seeds: list[int] = []
    for first in reversed(ranked):
        if all(abs(first - other) >= max(size // 2, 1) for other in seeds):
            seeds.append(first)
            if len(seeds) == _SEEDS:
                break
    matcher: difflib.SequenceMatcher[str] = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(_window(wanted))
    deadline = time.monotonic() + _BUDGET_S
    scored: dict[int, float] = {}
    for first in (c for seed in seeds for c in _around(seed, count)):
        if first in scored:
            continue
        if time.monotonic() > deadline:
            break
        matcher.set_seq1(_window(lines[first : first + size]))
        ratio = 0.0
        if matcher.real_quick_ratio() >= _NEAR_CUTOFF and matcher.quick_ratio() >= _NEAR_CUTOFF:
            ratio = matcher.ratio()
        scored[first] = ratio
    best = sorted((-r, f) for f, r in scored.items() if r >= _NEAR_CUTOFF)
    chosen: list[tuple[int, float]] = []
    for negative, first in best:
        if all(abs(first - other) >= size for other, _ in chosen):
            chosen.append((first, -negative))
        if len(chosen) == _MAX_NEAR:
            break
    return chosen


def _window(lines: list[str]) -> list[str]:
    """Words and punctuation of ``lines``: comparing tokens, not characters, keeps difflib
    fast (a small alphabet makes its matching quadratic) and still counts indentation."""
    tokens: list[str] = []
    for line in lines:
        tokens.extend(_TOKEN.findall(line[:_LINE_CAP]))
        tokens.append("\n")
    return tokens[:_TOKEN_CAP]


def _around(seed: int, count: int) -> list[int]:
    """``seed`` first, then its neighbours within :data:`_NEIGHBOURS` lines."""
    near = [seed + d for n in range(1, _NEIGHBOURS + 1) for d in (-n, n)]
    return [seed, *(i for i in near if 0 <= i < count)]
