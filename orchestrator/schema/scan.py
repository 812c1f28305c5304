"""String-aware bracket scanning over model text (no parsing, no I/O).

Two questions about a reply are answered here, in one pass each over its structural
characters: where the last balanced ``{...}``/``[...]`` is and where an unclosed one starts
(:func:`structure`), and what a JSON-like text looks like with its comments removed and its
missing closing brackets added (:func:`complete`).

Quotes count only inside brackets, and a single quote only where a value can start (after
``{ [ , : (``), so apostrophes in prose are not strings; a single-quoted string ends at a
newline. A closer that matches an outer opener closes the inner ones.
"""

from __future__ import annotations

import re

__all__ = ["complete", "structure"]

_SPECIAL = re.compile(r"""[{}\[\]"'\\\n]""")
_SPECIAL_OR_COMMENT = re.compile(r"""[{}\[\]"'\\\n/#]""")
_CLOSER = {"{": "}", "[": "]"}


def structure(text: str) -> tuple[tuple[int, int] | None, int | None]:
    """The last balanced ``{...}``/``[...]`` span, and the start of the outermost unclosed one.

    Example:
        >>> structure('see {"a": [1]} and {"b": 2')
        ((4, 14), 19)
    """
    stack: list[tuple[str, int]] = []
    quote = ""
    skip_to = -1
    last: tuple[int, int] | None = None
    for m in _SPECIAL.finditer(text):
        i = m.start()
        if i < skip_to:
            continue
        ch = m.group()
        if quote:
            if ch == "\\":
                skip_to = i + 2
            elif ch == quote or (ch == "\n" and quote == "'"):
                quote = ""
        elif ch == '"' or (ch == "'" and _opens_string(text, i)):
            if stack:
                quote = ch
        elif ch in _CLOSER:
            stack.append((_CLOSER[ch], i))
        elif ch in "}]":
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == ch:
                    last = (stack[k][1], i + 1)
                    del stack[k:]
                    break
    return last, (stack[0][1] if stack else None)


def complete(text: str) -> str:
    """``text`` without ``//``, ``/* */`` and ``#`` comments, with missing closers appended.

    Only comments inside brackets and outside strings are removed. Closers are appended only
    when the text does not end inside a string (a string cut short cannot be completed
    without inventing its end).

    Example:
        >>> complete('{"a": [1, 2], // two\\n "b": {"c": "#x"')
        '{"a": [1, 2], \\n "b": {"c": "#x"}}'
    """
    stack: list[str] = []
    quote = ""
    skip_to = -1
    pieces: list[str] = []
    pos = 0
    for m in _SPECIAL_OR_COMMENT.finditer(text):
        i = m.start()
        if i < skip_to:
            continue
        ch = m.group()
        if quote:
            if ch == "\\":
                skip_to = i + 2
            elif ch == quote or (ch == "\n" and quote == "'"):
                quote = ""
        elif ch in "/#" and stack:
            end = _comment_end(text, i)
            if end is not None:
                pieces.append(text[pos:i])
                pos = skip_to = end
        elif ch == '"' or (ch == "'" and _opens_string(text, i)):
            if stack:
                quote = ch
        elif ch in _CLOSER:
            stack.append(_CLOSER[ch])
        elif ch in "}]":
            for k in range(len(stack) - 1, -1, -1):
                if stack[k] == ch:
                    del stack[k:]
                    break
    pieces.append(text[pos:])
    out = "".join(pieces)
    if stack and not quote:
        out = out.rstrip() + "".join(reversed(stack))
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


def _opens_string(text: str, i: int) -> bool:
    """Whether a single quote at ``i`` starts a string (after ``{ [ , : (``), not an apostrophe."""
    j = i - 1
    while j >= 0 and text[j] in " \t\r\n":
        j -= 1
    return j < 0 or text[j] in "{[,:("
