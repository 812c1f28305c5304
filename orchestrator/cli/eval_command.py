"""``bicameral eval``: run a dataset through one pipeline, or two side by side."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.exceptions import BicameralError

if TYPE_CHECKING:
    from orchestrator.evaluation.judging import Solver
    from orchestrator.pipeline import Pipeline

__all__ = ["register_eval"]

_EPILOG = (
    "Data: MATH-500 from huggingface.co/datasets/HuggingFaceH4/MATH-500 (rows: problem, "
    "answer); HumanEval ships with the `eval` extra (rows: task_id, prompt, entry_point, "
    "test); MBPP from github.com/google-research/google-research mbpp/mbpp.jsonl (rows: "
    "task_id, text, test_list). With network and `pip install datasets`, --path "
    "hf:HuggingFaceH4/MATH-500@test fetches it. A few items of each are in "
    "tests/fixtures/datasets/."
)


def register_eval(app: typer.Typer) -> None:
    """Add the ``eval`` command to the CLI."""

    @app.command("eval", epilog=_EPILOG)
    def eval_command(
        dataset: Annotated[str, typer.Option(help="math500, humaneval or mbpp")],
        pipeline: Annotated[Path, typer.Option(help="pipeline file to evaluate")],
        path: Annotated[
            str | None, typer.Option(help="JSONL file, gz or not (or hf:repo[:config][@split])")
        ] = None,
        limit: Annotated[int | None, typer.Option(help="first N items only")] = None,
        concurrency: Annotated[int, typer.Option(help="items in flight (per worker)")] = 4,
        out: Annotated[Path, typer.Option(help="results folder")] = Path("eval-results"),
        compare: Annotated[Path | None, typer.Option(help="second pipeline file")] = None,
        label: Annotated[
            str | None, typer.Option(help="name of the results (default: the file's stem)")
        ] = None,
        compare_label: Annotated[
            str | None, typer.Option(help="name of the --compare results (default: its stem)")
        ] = None,
        set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
        item_timeout: Annotated[float | None, typer.Option(help="seconds per item")] = None,
        workers: Annotated[
            int | None, typer.Option(min=1, help="solve on N worker processes (batch)")
        ] = None,
        ray: Annotated[
            str | None, typer.Option(help="solve on Ray: auto, host:port or local (batch)")
        ] = None,
    ) -> None:
        """Evaluate a pipeline on MATH-500, HumanEval or MBPP; resumes when rerun."""
        from orchestrator.evaluation.datasets import load_dataset
        from orchestrator.evaluation.harness import compare as compare_runs
        from orchestrator.evaluation.harness import run_eval
        from orchestrator.evaluation.report import render_comparison, render_summary
        from orchestrator.evaluation.solvers import pipeline_solver
        from orchestrator.loader import load_pipeline

        overrides = list(set_ or [])
        first_label = label or pipeline.stem
        second_label = compare_label or (compare.stem if compare else "")
        if compare is not None and first_label == second_label:
            typer.echo(
                f"error: both configurations would be labelled {first_label!r}; "
                "name them with --label NAME and --compare-label NAME",
                err=True,
            )
            raise typer.Exit(2)
        spread = workers is not None or ray is not None

        def solver_for(file: Path, runner: Pipeline, name: str) -> Solver:
            if not spread:
                return pipeline_solver(runner)
            from orchestrator.batch.eval_solver import batch_solver

            return batch_solver(
                items,
                file,
                out_dir=out,
                label=name,
                workers=workers,
                concurrency=concurrency,
                ray=ray,
                overrides=overrides,
            )

        try:
            items = load_dataset(dataset, path=path, limit=limit)
            first = load_pipeline(pipeline, overrides=overrides, checkpoint="memory", notice=None)
            if compare is None:
                summary = asyncio.run(
                    run_eval(
                        items,
                        solver_for(pipeline, first, first_label),
                        out_dir=out,
                        label=first_label,
                        concurrency=concurrency,
                        item_timeout_s=item_timeout,
                        progress=True,
                    )
                )
                render_summary(summary)
            else:
                second = load_pipeline(
                    compare, overrides=overrides, checkpoint="memory", notice=None
                )
                comparison = asyncio.run(
                    compare_runs(
                        items,
                        (first_label, solver_for(pipeline, first, first_label)),
                        (second_label, solver_for(compare, second, second_label)),
                        out_dir=out,
                        concurrency=concurrency,
                        item_timeout_s=item_timeout,
                        progress=True,
                    )
                )
                render_comparison(comparison)
        except BicameralError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"results in {out}/", err=True)
