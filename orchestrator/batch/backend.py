"""What the batch runner asks of a place that runs tasks: worker processes or Ray actors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Backend", "Finished", "Lost"]


@dataclass(frozen=True)
class Finished:
    """A task came back with its result row."""

    key: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Lost:
    """A worker died; these tasks (row dicts) were in flight on it and must run elsewhere."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    worker: str = ""


class Backend(Protocol):
    """Runs task rows somewhere and reports what happened to them.

    The runner submits at most :meth:`free_slots` rows, then calls :meth:`poll` until events
    come back. A backend replaces a worker that died and reports its tasks as :class:`Lost`.
    """

    def start(self) -> None:
        """Start the workers; raises ``ConfigError`` when they cannot build the pipeline."""

    def free_slots(self) -> int:
        """How many more rows may be submitted now."""

    def submit(self, key: str, row: dict[str, Any]) -> None:
        """Send one row to a worker with a free slot."""

    def poll(self, timeout: float) -> list[Finished | Lost]:
        """Wait up to ``timeout`` seconds for results or lost workers."""

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and operators)."""

    def close(self) -> None:
        """Stop the workers."""
