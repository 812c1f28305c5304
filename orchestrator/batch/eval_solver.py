"""``bicameral eval --workers/--ray``: solve a dataset's items with the batch machinery.

The items still to solve (those without a result in the evaluation's own results file) run
as one batch across worker processes or Ray actors; the evaluation harness then judges the
outcomes, writes its results and resumes as usual. Judging stays in this process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestrator.batch.runner import run_batch
from orchestrator.evaluation.datasets import EvalItem
from orchestrator.evaluation.harness import load_results, results_path
from orchestrator.evaluation.judging import SolveOutcome, Solver, Verdict
from orchestrator.evaluation.prompts import build_prompt
from orchestrator.evaluation.solvers import outcome_from_run_result

__all__ = ["batch_solver"]


def batch_solver(
    items: Sequence[EvalItem],
    pipeline: str | Path,
    *,
    out_dir: Path,
    label: str,
    workers: int | None = None,
    concurrency: int = 4,
    ray: str | None = None,
    overrides: Sequence[str] = (),
    retry_errors: bool = False,
) -> Solver:
    """Solve the pending items now, across workers; returns a solver that answers from them.

    Args:
        items: the evaluation's items.
        pipeline: the pipeline file each worker builds.
        out_dir, label: where the evaluation keeps its results (done items are not solved).
        workers, concurrency, ray: as for :func:`~orchestrator.batch.run_batch`.
        overrides: ``dotted.key=value`` items for the pipeline file.
        retry_errors: also solve items whose earlier result was a solver error.
    """
    done = load_results(results_path(out_dir, label))
    pending = [
        item
        for item in items
        if item.id not in done or (retry_errors and done[item.id].verdict is Verdict.SOLVER_ERROR)
    ]
    prompts = {str(item.id): build_prompt(item) for item in pending}
    outcomes: dict[str, SolveOutcome] = {}
    if prompts:
        rows = [{"id": key, "task": prompt} for key, prompt in prompts.items()]
        batch = run_batch(
            pipeline,
            rows,
            workers=workers,
            concurrency=concurrency,
            ray=ray,
            overrides=overrides,
        )
        for finished in batch:
            outcomes[prompts[str(finished.id)]] = outcome_from_run_result(finished.result)

    async def solve(prompt: str) -> SolveOutcome:
        outcome = outcomes.get(prompt)
        if outcome is None:
            return SolveOutcome(None, status="error", error="not solved by the batch")
        return outcome

    return solve
