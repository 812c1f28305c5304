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
    reply needed ``json-repair`` (or a double-encoded value decoded). ``COERCED``: the first
    reply needed quoted scalars converted. ``FROM_REASONING``: the first reply's content was
    empty and the value was found at the end of its reasoning (a reasoning model whose think
    block never closed: vLLM's R1 parser then returns everything as reasoning). ``REASKED``:
    a later reply, after re-asking with the errors, was valid. ``FAILED``: no reply was valid
    within the budget.
    """

    FIRST_PASS = "first_pass"
    REPAIRED = "repaired"
    COERCED = "coerced"
    FROM_REASONING = "from_reasoning"
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
        self._fallbacks: Counter[tuple[str, str]] = Counter()
        self.rejections: list[Rejection] = []
        """Every re-asked reply, in order (for run logs and traces)."""

    def record(self, model: str, schema: str, outcome: EnforceOutcome) -> None:
        """Count one outcome for ``model`` and ``schema``."""
        with self._lock:
            self._counts.setdefault((model, schema), Counter())[outcome] += 1

    def record_fallback(self, model: str, schema: str) -> None:
        """Count one reply obtained under a fallback response format (the server rejected
        the configured one; ``response_metadata["grammar_fallback"]`` says which)."""
        with self._lock:
            self._fallbacks[(model, schema)] += 1
            self._counts.setdefault((model, schema), Counter())

    def fallbacks(self, model: str, schema: str) -> int:
        """How many replies for ``model`` and ``schema`` came under a fallback format."""
        with self._lock:
            return self._fallbacks[(model, schema)]

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
            fallbacks = Counter(other._fallbacks)
        with self._lock:
            for key, counts in snapshot.items():
                self._counts.setdefault(key, Counter()).update(counts)
            self._fallbacks.update(fallbacks)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{"model::schema": {"first_pass": n, "repaired": n, ...}}`` with every outcome, and
        ``"grammar_fallback": n`` where some replies came under a fallback format."""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (model, schema), counts in sorted(self._counts.items()):
                entry = {o.value: counts[o] for o in EnforceOutcome}
                if self._fallbacks[(model, schema)]:
                    entry["grammar_fallback"] = self._fallbacks[(model, schema)]
                out[f"{model}::{schema}"] = entry
            return out

    def __repr__(self) -> str:
        return f"EnforcementStats({self.as_dict()!r})"
