"""Summaries of judged results: one run's figures, and two runs side by side."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.evaluation.datasets import DatasetName
from orchestrator.evaluation.judging import ItemResult

__all__ = [
    "Comparison",
    "EvalSummary",
    "ProgressCallback",
    "ProgressUpdate",
    "compare_results",
    "percentile",
    "summarize",
]


@dataclass(frozen=True)
class EvalSummary:
    """One run's figures.

    Attributes:
        label: the run's name.
        dataset: ``math500``, ``humaneval`` or ``mbpp``.
        metric: ``accuracy`` (math) or ``pass@1`` (code).
        n_items: items with a result.
        n_correct: items judged correct.
        score: ``n_correct / n_items`` (0 when there are no items).
        mean_input_tokens, mean_output_tokens, mean_reasoning_tokens, mean_total_tokens:
            per item, over all items.
        latency_p50_s, latency_p95_s: solve latency percentiles.
        total_cost_usd: summed cost estimate.
        by_verdict: item counts per verdict (``correct``, ``wrong``, ``timeout``...).
        by_solver_status: item counts per solver status (``completed``, ``failed``...).
    """

    label: str
    dataset: str
    metric: str
    n_items: int
    n_correct: int
    score: float
    mean_input_tokens: float = 0.0
    mean_output_tokens: float = 0.0
    mean_reasoning_tokens: float = 0.0
    mean_total_tokens: float = 0.0
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0
    total_cost_usd: float = 0.0
    by_verdict: dict[str, int] = field(default_factory=dict)
    by_solver_status: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Comparison:
    """Two runs on the same items.

    Attributes:
        first, second: each run's summary.
        both_correct, only_first, only_second, neither: item counts, over items both judged.
        only_first_ids, only_second_ids: the items where the runs disagree (for inspection).
    """

    first: EvalSummary
    second: EvalSummary
    both_correct: int = 0
    only_first: int = 0
    only_second: int = 0
    neither: int = 0
    only_first_ids: list[str] = field(default_factory=list)
    only_second_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no values.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.5
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(results: Sequence[ItemResult], *, label: str, dataset: str) -> EvalSummary:
    """Figures over ``results`` (one per item)."""
    n = len(results)
    metric = "accuracy" if dataset == DatasetName.MATH500.value else "pass@1"
    correct = sum(r.correct for r in results)

    def mean(values: Sequence[float]) -> float:
        return round(sum(values) / n, 2) if n else 0.0

    latencies = [r.latency_s for r in results]
    return EvalSummary(
        label=label,
        dataset=dataset,
        metric=metric,
        n_items=n,
        n_correct=correct,
        score=round(correct / n, 4) if n else 0.0,
        mean_input_tokens=mean([r.input_tokens for r in results]),
        mean_output_tokens=mean([r.output_tokens for r in results]),
        mean_reasoning_tokens=mean([r.reasoning_tokens for r in results]),
        mean_total_tokens=mean([r.total_tokens for r in results]),
        latency_p50_s=round(percentile(latencies, 50), 4),
        latency_p95_s=round(percentile(latencies, 95), 4),
        total_cost_usd=round(sum(r.cost_usd for r in results), 6),
        by_verdict=dict(sorted(Counter(r.verdict.value for r in results).items())),
        by_solver_status=dict(sorted(Counter(r.solver_status for r in results).items())),
    )


def compare_results(
    first: EvalSummary,
    second: EvalSummary,
    first_results: Mapping[str, ItemResult],
    second_results: Mapping[str, ItemResult],
    ids: Sequence[str],
) -> Comparison:
    """Per-item agreement of two runs over ``ids`` (items either run lacks are left out)."""
    counts: Counter[tuple[bool, bool]] = Counter()
    only_first: list[str] = []
    only_second: list[str] = []
    for item_id in ids:
        a, b = first_results.get(item_id), second_results.get(item_id)
        if a is None or b is None:
            continue
        counts[(a.correct, b.correct)] += 1
        if a.correct and not b.correct:
            only_first.append(item_id)
        elif b.correct and not a.correct:
            only_second.append(item_id)
    return Comparison(
        first=first,
        second=second,
        both_correct=counts[(True, True)],
        only_first=counts[(True, False)],
        only_second=counts[(False, True)],
        neither=counts[(False, False)],
        only_first_ids=only_first,
        only_second_ids=only_second,
    )


@dataclass(frozen=True)
class ProgressUpdate:
    """Where a run stands: sent once at start (``last`` is None) and after every item."""

    label: str
    done: int
    total: int
    correct: int
    last: ItemResult | None = None


ProgressCallback = Callable[[ProgressUpdate], None]
