"""Keep secret values out of what Bicameral shows: errors, dry-run command lines, results.

A value is secret when it came from the environment (``${VAR}`` in a pipeline file, or the
API key named by ``api_key_env``). A :class:`Redactor` remembers such values and replaces
every occurrence in a text with a label that names where the value came from, never the
value itself.

Example:
    >>> redact = Redactor()
    >>> redact.add("sk-live-123456", "${OPENAI_API_KEY}")
    >>> redact("bad key sk-live-123456")
    'bad key ${OPENAI_API_KEY}'
"""

from __future__ import annotations

__all__ = ["MIN_SECRET_LENGTH", "Redactor", "redact_text"]

MIN_SECRET_LENGTH = 6
"""Shorter values are not treated as secrets (replacing every ``8000`` or ``true`` in a text
would garble it, and no real key is that short)."""


class Redactor:
    """Replaces remembered secret values in texts with their labels.

    Longer values are replaced first, so a secret that contains another is hidden whole.
    """

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    def add(self, value: str, label: str = "***") -> None:
        """Remember ``value`` as secret (ignored when shorter than :data:`MIN_SECRET_LENGTH`)."""
        if len(value) >= MIN_SECRET_LENGTH:
            self._labels.setdefault(value, label)

    def __bool__(self) -> bool:
        return bool(self._labels)

    def __call__(self, text: str) -> str:
        """``text`` with every remembered value replaced by its label."""
        for value in sorted(self._labels, key=len, reverse=True):
            if value in text:
                text = text.replace(value, self._labels[value])
        return text


def redact_text(text: str, *secrets: str | None, label: str = "***") -> str:
    """``text`` with each non-empty ``secret`` replaced by ``label`` (any length)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, label)
    return text
