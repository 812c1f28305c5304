"""String-aware bracket scanning over model text (no parsing, no I/O).

One pass over a reply's structural characters tells where the last balanced ``{...}`` or
``[...]`` is, where an unclosed one starts, where comments are and which closing brackets are
missing. :func:`structure` and :func:`complete` answer from that pass.

Quotes count only inside brackets, and a single quote only where a value can start (after
``{ [ , : ( =``, comments aside; ``=`` for Python keyword arguments), so apostrophes in prose
are not strings; a single-quoted string ends at a newline. ``//``, ``/* */`` and ``#``
comments count only inside brackets. A closer that matches an outer opener closes the inner ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Scan", "balanced_end", "complete", "scan", "structure"]

_SPECIAL = re.compile(r"""[{}\[\]"'\\\n/#]""")
_CLOSER = {"{": "}", "[": "]"}


@dataclass
class Scan:
    """What one pass found.

    Attributes:
        segments: the spans of balanced objects/arrays not inside another, in order.
        last: the span of the balanced object/array whose closer comes last, if any.
        tail: the start of the outermost object/array that never closes, if any.
        closers: the closing brackets missing at the end, innermost first.
        in_string: whether the text ends inside a string.
        comments: the spans of comments inside brackets.
    """

    segments: list[tuple[int, int]] = field(default_factory=list)
    last: tuple[int, int] | None = None
    tail: int | None = None
    closers: str = ""
    in_string: bool = False
    comments: list[tuple[int, int]] = field(default_factory=list)


def scan(
    text: str, start: int = 0, *, first: bool = False, ends: dict[int, int | None] | None = None
) -> Scan:
    """Scan ``text`` once from ``start``; see the module docstring for the rules.

    With ``first``, stop as soon as the first balanced segment closes. ``ends``, when given,
    is filled with what :func:`balanced_end` would answer for the openers this pass settled:
    one closed by its own closer (a scan from it sees the same characters in the same state),
    and one still open at the end (it never closes). Openers closed by an outer closer are
    left out (a scan from them would not see that outer opener).
    """
    out = Scan()
    stack: list[tuple[str, int]] = []
    quote = ""
    skip_to = -1
    for m in _SPECIAL.finditer(text, start):
        i = m.start()
        if i < skip_to:
            continue
        ch = m.group()
        if quote:
            if ch == "\\":
                skip_to = i + 2
            elif ch == quote or (ch == "\n" and quote == "'"):
                quote = ""
        elif ch in "/#":
            end = _comment_end(text, i) if stack else None
            if end is not None:
                out.comments.append((i, end))
                skip_to = end
        elif ch == '"' or (ch == "'" and _opens_string(text, i, out.comments)):
            if stack:
                quote = ch
        elif ch in _CLOSER:
            stack.append((_CLOSER[ch], i))
        elif ch in "}]":
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == ch:
                    opened = stack[k][1]
                    if ends is not None:
                        ends[opened] = i + 1
                    while out.segments and out.segments[-1][0] > opened:
                        out.segments.pop()  # inside the one closing now
                    out.segments.append((opened, i + 1))
                    del stack[k:]
                    break
            if first and out.segments and not stack:
                break
    if ends is not None:
        for _, opened in stack:
            ends[opened] = None
    out.last = out.segments[-1] if out.segments else None
    out.tail = stack[0][1] if stack else None
    out.closers = "".join(closer for closer, _ in reversed(stack))
    out.in_string = bool(quote)
    return out


def balanced_end(text: str, start: int, ends: dict[int, int | None] | None = None) -> int | None:
    """Index just past the bracket that closes the ``{`` or ``[`` at ``text[start]``, by the
    rules above; ``None`` when it never closes.

    Callers that try many starts pass one ``ends`` dict and look there first: each pass
    records the answer for every opener it settled, which keeps finding every call linear in
    the text (without it, ``"f(a=[" * n`` cost a full scan per opener).
    """
    if ends is not None and start in ends:
        return ends[start]
    found = scan(text, start, first=True, ends=ends)
    if found.segments and found.segments[0][0] == start:
        return found.segments[0][1]
    return None


def structure(text: str) -> tuple[tuple[int, int] | None, int | None]:
    """The last balanced ``{...}``/``[...]`` span, and the start of the outermost unclosed one.

    Example:
        >>> structure('see {"a": [1]} and {"b": 2')
        ((4, 14), 19)
    """
    found = scan(text)
    return found.last, found.tail


def complete(text: str) -> str:
    """``text`` without its comments and with its missing closing brackets appended.

    Closers are appended only when the text does not end inside a string (a string cut
    short cannot be completed without inventing its end).

    Example:
        >>> complete('{"a": [1, 2], // two\\n "b": {"c": "#x"')
        '{"a": [1, 2], \\n "b": {"c": "#x"}}'
    """
    found = scan(text)
    if not found.comments and not found.closers:
        return text
    pieces: list[str] = []
    pos = 0
    for start, end in found.comments:
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    out = "".join(pieces)
    if found.closers and not found.in_string:
        out = out.rstrip() + found.closers
    return out


def _comment_end(text: str, i: int) -> int | None:
    """End of a comment starting at ``i`` (``#``, ``//`` or ``/*``), or None if none does."""
    if text[i] == "#" or text.startswith("//", i):
        newline = text.find("\n", i)
        return len(text) if newline < 0 else newline
    if text.startswith("/*", i):
        close = text.find("*/", i + 2)
        return len(text) if close < 0 else close + 2
    return None


def _opens_string(text: str, i: int, comments: list[tuple[int, int]]) -> bool:
    """Whether a single quote at ``i`` starts a string rather than being an apostrophe."""
    j = i - 1
    k = len(comments) - 1
    while j >= 0:
        if k >= 0 and comments[k][0] <= j < comments[k][1]:
            j = comments[k][0] - 1
            k -= 1
        elif text[j] in " \t\r\n":
            j -= 1
        else:
            break
    return j < 0 or text[j] in "{[,:(="
