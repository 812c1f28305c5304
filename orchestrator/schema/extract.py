"""Where in a reply the answer may be: candidate texts, most likely first.

A reasoning model's answer may be the whole reply, a fenced block, the last ``{...}`` or
``[...]`` after some prose, an object whose closing brace never came, the text after
``Answer:``, or a tool call written as text. :func:`candidates` yields these lazily, so the
common case (the whole reply is the answer) costs nothing more than one ``json.loads``.

Example:
    >>> [(c.source, c.repair) for c in candidates('Sure:\\n```json\\n{"a": 1}\\n```')]
    [('whole', False), ('fence', True), ('balanced', False), ('balanced', True), ('whole', False)]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.models._parse_limits import MAX_HEURISTIC_CHARS
from orchestrator.models.toolcall_parsers import find_tool_calls
from orchestrator.text.scan import scan

__all__ = ["Candidate", "candidates"]

_FENCE = re.compile(r"```[ \t]*([\w+\-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_JSON_FENCE_LANGS = frozenset({"", "json", "jsonc", "json5", "js", "javascript"})
# What may follow an opening bracket for the rest of the text to be worth repairing.
_JSONISH = re.compile(
    r"""[\{\[]\s*(?:["'\{\[\]\}\-\d/#]|[A-Za-z_]\w*\s*:|true|false|null|True|False|None|\Z)"""
)
_MAX_SEGMENTS = 8
_LABEL = re.compile(r"^\W*(?:final\s+)?(?:answer|result|output|json)\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    """One place the answer may be.

    Attributes:
        source: where it came from (``whole``, ``fence``, ``tail``, ``balanced``,
            ``after-prose``, ``tool-call``, ``tool-call-arguments``), for error reports.
        text: the text to parse (empty for a pre-parsed ``value``).
        repair: whether repairing the text is reasonable when strict parsing fails (for a
            pre-parsed ``value``: whether reading it needed repair).
        value: an already parsed value (for tool calls written as text).
        parsed: whether ``value`` is set.
    """

    source: str
    text: str
    repair: bool
    value: Any = None
    parsed: bool = False


def candidates(content: str) -> Iterator[Candidate]:
    """Yield the places in ``content`` where a JSON answer may be, most likely first.

    Strict parses come before repairs: a candidate that parses as it stands is preferred to
    one that needs repair. An object or array that never closed comes before a balanced one
    nested inside it (otherwise ``{"a": 1, "b": {"c": 2}`` would yield ``{"c": 2}``).

    Args:
        content: the reply with its reasoning already removed.

    Yields:
        The whole text; fenced blocks, last first; the balanced objects and arrays not
        nested in another, last first (prose after an answer may hold ``[1]``), as they
        stand, then for repair; the outermost unclosed one; the whole text again, for
        repair; the text after a closing label or colon; the last tool call as text.
    """
    text = content.strip()
    if not text:
        return
    yield Candidate("whole", text, repair=False)
    if "```" in text:
        fences = list(_FENCE.finditer(text))[-_MAX_SEGMENTS:]
        for m in reversed(fences):
            inner = m.group(2).strip()
            if inner:
                json_like = m.group(1).lower() in _JSON_FENCE_LANGS or inner[0] in "{["
                yield Candidate("fence", inner, repair=json_like)
    if len(text) > MAX_HEURISTIC_CHARS:
        # the per-character heuristics below look at the end of a long reply only
        text = text[-MAX_HEURISTIC_CHARS:]
    found = scan(text)
    tail = found.tail if found.tail is not None and _JSONISH.match(text, found.tail) else None
    segments = found.segments[-_MAX_SEGMENTS:]
    if tail is not None and (not segments or tail < segments[-1][0]):
        yield Candidate("tail", text[tail:], repair=True)  # what closes after it is nested
        tail = None
    for repair in (False, True):
        for start, end in reversed(segments):
            yield Candidate("balanced", text[start:end], repair=repair)
    if tail is not None:
        yield Candidate("tail", text[tail:], repair=True)
    yield Candidate("whole", text, repair=text[0] in "{[")
    after = _after_prose(text)
    if after:
        yield Candidate("after-prose", after, repair=False)
    calls = [c for c in find_tool_calls(text)[0] if c.error is None]
    if calls:
        call = calls[-1]
        action = {"action": call.name, "arguments": call.arguments}
        # a call that needed repair (or never closed) counts as a repair: refused when the
        # reply was cut off by the token limit
        cut = not call.complete
        yield Candidate("tool-call", "", repair=cut, value=action, parsed=True)
        yield Candidate("tool-call-arguments", "", repair=cut, value=call.arguments, parsed=True)


def _after_prose(text: str) -> str:
    """The answer after a label or colon on the last line: ``The answer is: 42.`` -> ``42``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    if _LABEL.match(line) is None and ":" in line:
        line = line.rsplit(":", 1)[1]
    return line.strip().rstrip(".").strip().strip("*`").strip().rstrip(".")
