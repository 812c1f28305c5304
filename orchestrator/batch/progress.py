"""Batch progress: what is done, failed and in flight, throughput, ETA, tokens and cost.

:class:`Tally` counts result rows as they come back; :class:`ProgressView` shows it (a rich
live line on a terminal, a plain line every few seconds otherwise) and
:func:`format_summary` is the end-of-batch report.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from orchestrator.batch.results import FAILED_STATUSES

__all__ = ["ProgressView", "Tally", "format_summary"]


@dataclass
class Tally:
    """Running totals over the result rows of one batch.

    Attributes:
        total: tasks this run will do (ids already in the output excluded).
        skipped: ids already in the output.
    """

    total: int
    skipped: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cost_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)
    in_flight: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, row: dict[str, Any]) -> None:
        """Count one result row."""
        self.statuses[str(row.get("status"))] += 1
        for role, usage in (row.get("usage") or {}).items():
            self.tokens[role] += sum(
                int(usage.get(k, 0)) for k in ("prompt_tokens", "completion_tokens")
            )
        self.cost_usd += float(row.get("cost_usd") or 0.0)
        self.latencies.append(float(row.get("elapsed_s") or 0.0))

    @property
    def done(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s in FAILED_STATUSES)

    def rate(self) -> float:
        """Runs finished per second so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def line(self) -> str:
        eta = self.eta_s()
        tokens = sum(self.tokens.values())
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, {self.in_flight} in flight"
            f" | {self.rate():.1f} runs/s, ETA {_duration(eta)}"
            f" | {tokens:,} tokens, ${self.cost_usd:.4f}"
        )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def format_summary(tally: Tally) -> str:
    """The end-of-batch report: counts by status, latency percentiles, tokens, cost."""
    elapsed = time.monotonic() - tally.started
    lines = [
        f"batch: {tally.done} run in {elapsed:.1f}s ({tally.rate():.2f} runs/s), "
        f"{tally.skipped} already done",
        "status: " + (", ".join(f"{s} {n}" for s, n in sorted(tally.statuses.items())) or "-"),
    ]
    if tally.latencies:
        p = {q: _percentile(tally.latencies, q) for q in (50, 90, 99)}
        lines.append(f"latency: p50 {p[50]:.2f}s, p90 {p[90]:.2f}s, p99 {p[99]:.2f}s")
    if tally.tokens:
        lines.append("tokens: " + ", ".join(f"{r} {n:,}" for r, n in sorted(tally.tokens.items())))
    lines.append(f"cost: ${tally.cost_usd:.4f}")
    return "\n".join(lines)


class ProgressView:
    """Shows a :class:`Tally` while the batch runs.

    Args:
        tally: what to show.
        stream: where (default stderr); rich live display when it is a terminal.
        every_s: seconds between plain lines.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        tally: Tally,
        *,
        stream: TextIO | None = None,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tally = tally
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._clock = clock
        self._last = clock()
        self._live: Any = None

    def __enter__(self) -> ProgressView:
        if self.stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self.tally.line(), console=Console(file=self.stream), refresh_per_second=4
            )
            self._live.__enter__()
        return self

    def update(self) -> None:
        """Refresh after a result (plain lines at most every ``every_s`` seconds)."""
        if self._live is not None:
            self._live.update(self.tally.line())
            return
        now = self._clock()
        if now - self._last >= self.every_s:
            self._last = now
            print(self.tally.line(), file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.tally.line())
            self._live.__exit__(None, None, None)
        else:
            print(self.tally.line(), file=self.stream, flush=True)
