"""Did-you-mean hints for unknown names: written once, used by config, expressions, tools."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_matches", "did_you_mean"]


def close_matches(word: str, choices: Iterable[str], n: int = 1) -> list[str]:
    """Up to ``n`` choices close to ``word``, closest first."""
    return difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=0.6)


def did_you_mean(word: str, choices: Iterable[str], n: int = 1) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for the closest choices, ``""`` if none.

    Example:
        >>> did_you_mean("tsak", ["task", "steps"])
        "; did you mean 'task'?"
    """
    close = close_matches(word, choices, n)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
