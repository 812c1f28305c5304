"""Limits on parsing model output, shared by the tool-call recovery and the schema layer.

A model's reply is untrusted text. The recovery heuristics (find a call in prose, repair
broken JSON) must cost time linear in the reply, and the two steps that are not, are bounded
here:

* ``json-repair`` takes time quadratic (or worse) in the nesting of what it is given: 22 s
  for 20,000 ``{``. It is only tried on text of at most :data:`MAX_REPAIR_CHARS` characters
  nested at most :data:`MAX_REPAIR_DEPTH` deep (a real answer that needs repair is small);
* the heuristics that run Python code per character (scanning prose for a call, reading a
  Python literal, completing brackets) look at no more than the last
  :data:`MAX_HEURISTIC_CHARS` of a reply (where an answer or a call usually is); the whole
  reply is still read as strict JSON (``json.loads`` and regular expressions run in C), so
  any reply costs well under a second.

Example:
    >>> repairable('{"a": [1, 2')
    True
    >>> repairable("{" * 1000)
    False
"""

from __future__ import annotations

import re
from typing import Any

import json_repair

__all__ = [
    "MAX_HEURISTIC_CHARS",
    "MAX_REPAIR_CHARS",
    "MAX_REPAIR_DEPTH",
    "bracket_depth",
    "repair_json",
    "repairable",
]

MAX_HEURISTIC_CHARS = 64 * 1024
"""Most characters (the end of a reply) the per-character recovery heuristics look at."""
MAX_REPAIR_CHARS = 64 * 1024
"""Longest text handed to ``json-repair`` (pure Python, about 2 us per character)."""
MAX_REPAIR_DEPTH = 64
"""Deepest bracket nesting handed to ``json-repair``."""
_BRACKETS = re.compile(r"[\[\]{}]")


def bracket_depth(text: str, *, stop_at: int | None = None) -> int:
    """The deepest ``{``/``[`` nesting in ``text``, quotes ignored (an upper bound); stops
    counting once ``stop_at`` is exceeded."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(text):
        if m.group() in "{[":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_at is not None and deepest > stop_at:
                    break
        elif depth:
            depth -= 1
    return deepest


def repairable(text: str) -> bool:
    """Whether ``text`` is small and shallow enough for ``json-repair``."""
    return len(text) <= MAX_REPAIR_CHARS and bracket_depth(text, stop_at=MAX_REPAIR_DEPTH) <= (
        MAX_REPAIR_DEPTH
    )


def repair_json(text: str) -> Any:
    """``json_repair.loads(text)``, refused for text that is not :func:`repairable`.

    Raises:
        ValueError: the text is too long or too deep to repair.
        Exception: whatever ``json-repair`` raises (it documents no failure modes).
    """
    if not repairable(text):
        raise ValueError("too long or too deeply nested to repair")
    return json_repair.loads(text)
