"""How enforcement went, counted per model and schema.

Example:
    >>> stats = EnforcementStats()
    >>> stats.record("r1", "math", EnforceOutcome.REPAIRED)
    >>> stats.as_dict()["r1::math"]["repaired"]
    1
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EnforceOutcome", "EnforcementStats", "Rejection"]


class EnforceOutcome(StrEnum):
    """How one enforced call ended.

    ``FIRST_PASS``: the first reply parsed strictly and was valid. ``REPAIRED``: the first
    reply needed ``json-repair``. ``COERCED``: the first reply needed quoted scalars
    converted. ``REASKED``: a later reply, after re-asking with the errors, was valid.
    ``FAILED``: no reply was valid within the budget.
    """

    FIRST_PASS = "first_pass"
    REPAIRED = "repaired"
    COERCED = "coerced"
    REASKED = "reasked"
    FAILED = "failed"


@dataclass(frozen=True)
class Rejection:
    """One reply that failed validation: its errors and the re-ask sent back."""

    attempt: int
    errors: tuple[str, ...]
    reask: str


class EnforcementStats:
    """Thread-safe outcome counters keyed by (model name, schema name).

    One instance is shared by every enforced call of a run (parallel reasoner branches
    included) and reported in the run result and the benchmarks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], Counter[EnforceOutcome]] = {}
        self.rejections: list[Rejection] = []
        """Every re-asked reply, in order (for run logs and traces)."""

    def record(self, model: str, schema: str, outcome: EnforceOutcome) -> None:
        """Count one outcome for ``model`` and ``schema``."""
        with self._lock:
            self._counts.setdefault((model, schema), Counter())[outcome] += 1

    def reject(self, attempt: int, errors: tuple[str, ...], reask: str) -> None:
        """Note that reply ``attempt`` failed with ``errors`` and was re-asked with ``reask``."""
        with self._lock:
            self.rejections.append(Rejection(attempt, errors, reask))

    def count(self, model: str, schema: str, outcome: EnforceOutcome) -> int:
        """How many times ``outcome`` was recorded for ``model`` and ``schema``."""
        with self._lock:
            return self._counts.get((model, schema), Counter())[outcome]

    def merge(self, other: EnforcementStats) -> None:
        """Add every count of ``other`` to this instance."""
        if other is self:
            raise ValueError("cannot merge EnforcementStats into itself")
        with other._lock:
            snapshot = {key: Counter(counts) for key, counts in other._counts.items()}
        with self._lock:
            for key, counts in snapshot.items():
                self._counts.setdefault(key, Counter()).update(counts)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{"model::schema": {"first_pass": n, "repaired": n, ...}}`` with every outcome."""
        with self._lock:
            return {
                f"{model}::{schema}": {o.value: counts[o] for o in EnforceOutcome}
                for (model, schema), counts in sorted(self._counts.items())
            }

    def __repr__(self) -> str:
        return f"EnforcementStats({self.as_dict()!r})"
