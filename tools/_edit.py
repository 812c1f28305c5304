"""Search/replace on text that must match exactly once, with errors a model can act on."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from orchestrator.exceptions import ToolError

__all__ = ["Replacement", "replace_once"]

_MAX_NEAR = 3
_MAX_WINDOWS = 20_000
_NEAR_CUTOFF = 0.5
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
    """Up to three windows of ``len(wanted)`` lines most similar to ``wanted``, best first."""
    size = len(wanted)
    target = "\n".join(wanted)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    scored: list[tuple[float, int]] = []
    for first in range(min(max(len(lines) - size + 1, 1), _MAX_WINDOWS)):
        matcher.set_seq1("\n".join(lines[first : first + size]))
        if matcher.real_quick_ratio() < _NEAR_CUTOFF or matcher.quick_ratio() < _NEAR_CUTOFF:
            continue
        ratio = matcher.ratio()
        if ratio >= _NEAR_CUTOFF:
            scored.append((ratio, first))
    scored.sort(key=lambda item: (-item[0], item[1]))
    chosen: list[tuple[int, float]] = []
    for ratio, first in scored:
        if all(abs(first - other) >= size for other, _ in chosen):
            chosen.append((first, ratio))
        if len(chosen) == _MAX_NEAR:
            break
    return chosen
