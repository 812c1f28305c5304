"""The checkpoint URL grammar, parsed in one place (the config checks it, the graph opens it).

``memory``, ``sqlite:///relative/file``, ``sqlite:////absolute/file``, ``sqlite:///:memory:``
and ``postgres://...`` (or ``postgresql://``).

Example:
    >>> parse_checkpoint_url("sqlite:///runs/cp.sqlite")
    CheckpointURL(kind='sqlite', url='sqlite:///runs/cp.sqlite', path='runs/cp.sqlite')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from orchestrator.exceptions import ConfigError

__all__ = ["CheckpointURL", "parse_checkpoint_url"]

_MEMORY_FILES = ("", ":memory:")


@dataclass(frozen=True)
class CheckpointURL:
    """A parsed checkpoint URL: its kind and, for SQLite, the file (``:memory:`` for none)."""

    kind: Literal["memory", "sqlite", "postgres"]
    url: str
    path: str | None = None


def parse_checkpoint_url(url: str) -> CheckpointURL:
    """Parse ``url``.

    Raises:
        ConfigError: an unknown scheme, or a SQLite URL without ``///``.
    """
    if url == "memory":
        return CheckpointURL("memory", url)
    if url.startswith("sqlite:"):
        rest = url.removeprefix("sqlite:")
        if rest in ("", "//", "///", "//:memory:", "///:memory:"):
            return CheckpointURL("sqlite", "sqlite:///:memory:", ":memory:")
        if not rest.startswith("///"):
            raise ConfigError(
                f"checkpoint {url!r}: write sqlite:///relative.db or sqlite:////abs.db"
            )
        path = rest[3:]
        return CheckpointURL("sqlite", url, ":memory:" if path in _MEMORY_FILES else path)
    if url.startswith(("postgres://", "postgresql://")):
        return CheckpointURL("postgres", url)
    raise ConfigError(
        f"unknown checkpoint URL {url!r}; use memory, sqlite:///path.db or postgres://..."
    )
