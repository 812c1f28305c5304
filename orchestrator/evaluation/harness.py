"""Run benchmark items through a solver, judge them, and keep results that survive a crash.

The harness knows nothing about pipelines: it calls an async *solver*, ``solve(prompt) ->
SolveOutcome`` (:func:`orchestrator.evaluation.solvers.pipeline_solver` adapts a ``Pipeline``),
with at most ``concurrency`` items in flight. Each judged item is appended to
``<out_dir>/<label>.jsonl`` and flushed at once, so a rerun with the same ``out_dir`` and
``label`` skips every item already there and a crash loses at most the items in flight. The
summary (score, tokens, latency percentiles, cost, counts) is computed over all results of the
requested items and written to ``<out_dir>/<label>.summary.json``.

Example:
    >>> summary = asyncio.run(run_eval(items, solver, out_dir=Path("eval-out")))  # doctest: +SKIP
    >>> print(summary.score)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from orchestrator.evaluation.datasets import EvalItem
from orchestrator.evaluation.judging import (
    ItemResult,
    JudgeOptions,
    SolveOutcome,
    Solver,
    Verdict,
    dataset_of,
    judge_item,
)
from orchestrator.evaluation.prompts import build_prompt
from orchestrator.evaluation.summary import (
    Comparison,
    EvalSummary,
    ProgressCallback,
    ProgressUpdate,
    compare_results,
    summarize,
)
from orchestrator.exceptions import EvalError

__all__ = [
    "ProgressCallback",
    "ProgressUpdate",
    "compare",
    "load_results",
    "results_path",
    "run_eval",
    "summary_path",
]


def results_path(out_dir: Path, label: str) -> Path:
    """Where the per-item JSONL of run ``label`` lives."""
    return out_dir / f"{_safe_label(label)}.jsonl"


def summary_path(out_dir: Path, label: str) -> Path:
    """Where the summary JSON of run ``label`` lives."""
    return out_dir / f"{_safe_label(label)}.summary.json"


def _safe_label(label: str) -> str:
    safe = re.sub(r"[^\w.-]+", "_", label).strip("._")
    if not safe:
        raise EvalError(f"label {label!r} has no usable characters for a file name")
    return safe


def load_results(path: Path) -> dict[str, ItemResult]:
    """Results already in a JSONL file, by item id (a later line for an id wins).

    A last line cut short by a crash is ignored (and removed before the next append); other
    unreadable lines are skipped, so their items run again.
    """
    if not path.is_file():
        return {}
    results: dict[str, ItemResult] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            result = ItemResult.from_dict(json.loads(line))
        except (ValueError, TypeError, KeyError):
            continue
        results[result.id] = result
    return results


def _trim_partial_line(path: Path) -> None:
    """Drop a trailing line without its newline, so appends start on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


async def run_eval(
    items: Sequence[EvalItem],
    solver: Solver,
    *,
    out_dir: Path,
    label: str = "run",
    concurrency: int = 4,
    item_timeout_s: float | None = None,
    retry_errors: bool = False,
    judge: JudgeOptions | None = None,
    progress: ProgressCallback | bool | None = None,
) -> EvalSummary:
    """Solve and judge ``items``, resuming from ``<out_dir>/<label>.jsonl`` when it exists.

    Args:
        items: the items to run (:func:`~orchestrator.evaluation.datasets.load_dataset`).
        solver: ``async solve(prompt) -> SolveOutcome``; exceptions it raises are recorded as
            ``solver_error`` results rather than stopping the run.
        out_dir: folder for ``<label>.jsonl`` and ``<label>.summary.json`` (created).
        label: the run's name in file names and tables.
        concurrency: items in flight at once (K).
        item_timeout_s: give up on one solver call after this many seconds.
        retry_errors: also rerun items whose earlier result was a ``solver_error``.
        judge: time limits for the math and code judges.
        progress: a callback for :class:`ProgressUpdate`; ``True`` for a rich progress bar,
            ``False`` for none, ``None`` for a bar only when stderr is a terminal.

    Returns:
        The summary over every requested item that has a result (all of them, unless the run
        was interrupted).

    Raises:
        EvalError: bad arguments, or a results file that holds another dataset's items.
    """
    if concurrency < 1:
        raise EvalError(f"concurrency must be >= 1, got {concurrency}")
    dataset = _dataset_of(items)
    options = judge or JudgeOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = results_path(out_dir, label)
    _trim_partial_line(path)
    done = load_results(path)
    wanted = {item.id for item in items}
    for result in done.values():
        if result.id in wanted and result.dataset != dataset:
            raise EvalError(f"{path} holds {result.dataset} results; use another --out or label")
    pending = [
        item
        for item in items
        if item.id not in done or (retry_errors and done[item.id].verdict is Verdict.SOLVER_ERROR)
    ]
    redo = {item.id for item in pending}
    kept = [done[item.id] for item in items if item.id in done and item.id not in redo]
    queue: asyncio.Queue[EvalItem] = asyncio.Queue()
    for item in pending:
        queue.put_nowait(item)
    with _progress_sink(progress) as callback, path.open("a", encoding="utf-8") as sink:
        tally = _Tally(label, len(items), kept, callback)
        tally.report(None)

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                result = await _solve_and_judge(item, solver, options, item_timeout_s)
                sink.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                sink.flush()
                done[item.id] = result
                tally.add(result)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(pending))):
                group.create_task(worker())
    summary = summarize([done[i.id] for i in items if i.id in done], label=label, dataset=dataset)
    summary_path(out_dir, label).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


@contextmanager
def _progress_sink(progress: ProgressCallback | bool | None) -> Iterator[ProgressCallback | None]:
    """The callback to report to: the caller's, a rich bar (True / a terminal), or none."""
    if callable(progress):
        yield progress
        return
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        yield None
        return
    from orchestrator.evaluation.report import progress_bar  # rich only when a bar is shown

    with progress_bar() as bar:
        yield bar


class _Tally:
    def __init__(
        self, label: str, total: int, prior: list[ItemResult], callback: ProgressCallback | None
    ) -> None:
        self._label, self._total, self._callback = label, total, callback
        self._done = len(prior)
        self._correct = sum(r.correct for r in prior)

    def add(self, result: ItemResult) -> None:
        self._done += 1
        self._correct += result.correct
        self.report(result)

    def report(self, last: ItemResult | None) -> None:
        if self._callback is not None:
            self._callback(
                ProgressUpdate(self._label, self._done, self._total, self._correct, last)
            )


async def _solve_and_judge(
    item: EvalItem, solver: Solver, options: JudgeOptions, item_timeout_s: float | None
) -> ItemResult:
    start = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(solver(build_prompt(item)), item_timeout_s)
    except Exception as exc:  # a solver's failure is a result, not the end of the run
        if isinstance(exc, TimeoutError) and item_timeout_s is not None:
            error, status = f"no answer within {item_timeout_s} s", "timeout"
        else:
            error, status = f"{type(exc).__name__}: {exc}", "error"
        outcome = SolveOutcome(None, status=status, error=error)
    if not outcome.latency_s:
        outcome = outcome.with_latency(time.perf_counter() - start)
    return await judge_item(item, outcome, options)


def _dataset_of(items: Sequence[EvalItem]) -> str:
    names = {dataset_of(item) for item in items}
    if len(names) > 1:
        raise EvalError(f"items mix datasets: {sorted(names)}")
    if len({item.id for item in items}) != len(items):
        raise EvalError("item ids must be unique")
    return names.pop() if names else "none"


async def compare(
    items: Sequence[EvalItem],
    first: tuple[str, Solver],
    second: tuple[str, Solver],
    *,
    out_dir: Path,
    concurrency: int = 4,
    item_timeout_s: float | None = None,
    retry_errors: bool = False,
    judge: JudgeOptions | None = None,
    progress: ProgressCallback | bool | None = None,
) -> Comparison:
    """Run two solvers on the same items side by side and compare them.

    Both runs go at once (each with ``concurrency`` items in flight), so machine noise hits
    them alike. Each keeps its own ``<label>.jsonl`` and summary, so either resumes on its
    own; ``<out_dir>/comparison.json`` holds both summaries and the per-item agreement.

    Args:
        first: ``(label, solver)`` of the baseline, e.g. ``("planner", ...)``.
        second: ``(label, solver)`` of the alternative, e.g. ``("planner+reasoner", ...)``.
        Other arguments: as for :func:`run_eval`.

    Raises:
        EvalError: the two labels map to the same file name, or as :func:`run_eval`.
    """
    if _safe_label(first[0]) == _safe_label(second[0]):
        raise EvalError(f"the two runs need different labels, got {first[0]!r} and {second[0]!r}")
    with _progress_sink(progress) as callback:
        runs = [
            run_eval(
                items,
                solver,
                out_dir=out_dir,
                label=label,
                concurrency=concurrency,
                item_timeout_s=item_timeout_s,
                retry_errors=retry_errors,
                judge=judge,
                progress=callback or False,
            )
            for label, solver in (first, second)
        ]
        a, b = await asyncio.gather(*runs)
    comparison = compare_results(
        a,
        b,
        load_results(results_path(out_dir, first[0])),
        load_results(results_path(out_dir, second[0])),
        [item.id for item in items],
    )
    (out_dir / "comparison.json").write_text(json.dumps(comparison.to_dict(), indent=2) + "\n")
    return comparison
