"""Rich rendering for the harness: a live progress bar, summary and comparison tables.

Example:
    >>> console = Console(record=True, width=100)
    >>> render_summary(summary, console)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from orchestrator.evaluation.summary import Comparison, EvalSummary, ProgressUpdate

__all__ = [
    "comparison_table",
    "progress_bar",
    "render_comparison",
    "render_summary",
    "summary_table",
]

# (row name, how to read it from a summary, how to print it, whether a ratio means anything)
_Row = tuple[str, Callable[[EvalSummary], float], str, bool]
_ROWS: list[_Row] = [
    ("items", lambda s: s.n_items, "{:.0f}", False),
    ("correct", lambda s: s.n_correct, "{:.0f}", False),
    ("score", lambda s: s.score, "{:.1%}", True),
    ("mean input tokens", lambda s: s.mean_input_tokens, "{:,.0f}", True),
    ("mean output tokens", lambda s: s.mean_output_tokens, "{:,.0f}", True),
    ("mean reasoning tokens", lambda s: s.mean_reasoning_tokens, "{:,.0f}", True),
    ("mean total tokens", lambda s: s.mean_total_tokens, "{:,.0f}", True),
    ("latency p50 (s)", lambda s: s.latency_p50_s, "{:.2f}", True),
    ("latency p95 (s)", lambda s: s.latency_p95_s, "{:.2f}", True),
    ("total cost (USD)", lambda s: s.total_cost_usd, "{:.4f}", True),
]


@contextmanager
def progress_bar(console: Console | None = None) -> Iterator[Callable[[ProgressUpdate], None]]:
    """A live progress bar; yields the callback to pass as ``progress=`` to the harness.

    One bar per run label, so a comparison shows both runs advancing.
    """
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[score]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=console or Console(stderr=True), transient=False) as bar:

        def update(event: ProgressUpdate) -> None:
            if event.label not in tasks:
                tasks[event.label] = bar.add_task(event.label, total=event.total, score="")
            score = f"{event.correct / event.done:.1%} correct" if event.done else ""
            bar.update(tasks[event.label], completed=event.done, score=score)

        yield update


def summary_table(summary: EvalSummary) -> Table:
    """One run's figures as a two-column table."""
    table = Table(title=f"{summary.label}: {summary.dataset} ({summary.metric})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, read, fmt, _ in _ROWS:
        shown = summary.metric if name == "score" else name
        table.add_row(shown, fmt.format(read(summary)))
    for title, counts in (("verdict", summary.by_verdict), ("status", summary.by_solver_status)):
        for key, count in counts.items():
            table.add_row(f"{title}: {key}", str(count))
    return table


def comparison_table(comparison: Comparison) -> Table:
    """Both runs side by side, with the second-to-first ratio where one means something."""
    a, b = comparison.first, comparison.second
    table = Table(title=f"{a.dataset}: {a.label} vs {b.label} ({a.metric})")
    table.add_column("metric")
    table.add_column(a.label, justify="right")
    table.add_column(b.label, justify="right")
    table.add_column(f"{b.label} / {a.label}", justify="right")
    for name, read, fmt, ratio in _ROWS:
        va, vb = read(a), read(b)
        shown = a.metric if name == "score" else name
        table.add_row(shown, fmt.format(va), fmt.format(vb), _ratio(va, vb) if ratio else "")
    verdicts = sorted(set(a.by_verdict) | set(b.by_verdict))
    for key in verdicts:
        table.add_row(
            f"verdict: {key}", str(a.by_verdict.get(key, 0)), str(b.by_verdict.get(key, 0)), ""
        )
    table.add_section()
    table.add_row("both correct", str(comparison.both_correct), str(comparison.both_correct), "")
    table.add_row(
        "only this run correct", str(comparison.only_first), str(comparison.only_second), ""
    )
    table.add_row("neither correct", str(comparison.neither), str(comparison.neither), "")
    return table


def _ratio(first: float, second: float) -> str:
    return f"{second / first:.2f}x" if first else "-"


def render_summary(summary: EvalSummary, console: Console | None = None) -> None:
    """Print one run's table."""
    (console or Console()).print(summary_table(summary))


def render_comparison(comparison: Comparison, console: Console | None = None) -> None:
    """Print the side-by-side table."""
    (console or Console()).print(comparison_table(comparison))
