"""``bicameral eval``: run a dataset through one pipeline, or two side by side."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.exceptions import BicameralError

__all__ = ["register_eval"]


def register_eval(app: typer.Typer) -> None:
    """Add the ``eval`` command to the CLI."""

    @app.command("eval")
    def eval_command(
        dataset: Annotated[str, typer.Option(help="math500, humaneval or mbpp")],
        pipeline: Annotated[Path, typer.Option(help="pipeline file to evaluate")],
        path: Annotated[str | None, typer.Option(help="JSONL file (or hf:repo)")] = None,
        limit: Annotated[int | None, typer.Option(help="first N items only")] = None,
        concurrency: Annotated[int, typer.Option(help="items in flight")] = 4,
        out: Annotated[Path, typer.Option(help="results folder")] = Path("eval-results"),
        compare: Annotated[Path | None, typer.Option(help="second pipeline file")] = None,
        set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
        item_timeout: Annotated[float | None, typer.Option(help="seconds per item")] = None,
    ) -> None:
        """Evaluate a pipeline on MATH-500, HumanEval or MBPP; resumes when rerun."""
        from orchestrator.evaluation.datasets import load_dataset
        from orchestrator.evaluation.harness import compare as compare_runs
        from orchestrator.evaluation.harness import run_eval
        from orchestrator.evaluation.report import render_comparison, render_summary
        from orchestrator.evaluation.solvers import pipeline_solver
        from orchestrator.loader import load_pipeline

        overrides = list(set_ or [])
        try:
            items = load_dataset(dataset, path=path, limit=limit)
            first = load_pipeline(pipeline, overrides=overrides, checkpoint="memory", notice=None)
            if compare is None:
                summary = asyncio.run(
                    run_eval(
                        items,
                        pipeline_solver(first),
                        out_dir=out,
                        label=pipeline.stem,
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
                        (pipeline.stem, pipeline_solver(first)),
                        (compare.stem, pipeline_solver(second)),
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
