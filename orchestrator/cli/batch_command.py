"""``bicameral batch``: run a tasks file through a pipeline across processes or a Ray cluster.

Every line of the tasks file is checked before any task runs; the output file gets one row
per task as it finishes, written by this process alone, so a rerun skips the ids already
there (``--retry-failed`` runs the failed ones again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import EXIT_OK, EXIT_RUN_FAILED, fail
from orchestrator.exceptions import BicameralError, ConfigError

__all__ = ["register_batch"]


def batch(
    file: Annotated[Path, typer.Argument(help="pipeline YAML file")],
    tasks: Annotated[Path, typer.Option("--tasks", help="JSONL: {id, task, ...} per line")],
    out: Annotated[Path, typer.Option("--out", help="results JSONL (appended; resumes)")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="worker processes or actors (default: cores)")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="runs in flight per worker")] = 4,
    ray: Annotated[
        str | None,
        typer.Option(help="run on Ray: auto, host:port, ray://..., or local (starts one)"),
    ] = None,
    ray_temp_dir: Annotated[
        Path | None, typer.Option(help="Ray's temporary files (local cluster)")
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="run failed ids again")
    ] = False,
    skip_bad_lines: Annotated[
        bool, typer.Option("--skip-bad-lines", help="skip malformed task lines, report them")
    ] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
    checkpoint: Annotated[
        str, typer.Option(help="checkpoint URL shared by the workers (postgres://...)")
    ] = "memory",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")] = False,
) -> None:
    """Run every task of a JSONL file through a pipeline; rerun to resume."""
    from orchestrator.batch.progress import ProgressView, format_summary
    from orchestrator.batch.results import ResultsFile
    from orchestrator.batch.runner import run_batch
    from orchestrator.batch.tasks import read_tasks
    from orchestrator.config.loading import load_spec

    overrides = list(set_ or [])
    try:
        rows, bad = read_tasks(tasks, skip_bad_lines=skip_bad_lines)
        for skipped in bad:
            typer.echo(f"skipped: {tasks}:{skipped.line}: {skipped.message}", err=True)
        load_spec(file, overrides)  # a broken pipeline file fails here, before any worker
        results = ResultsFile(out, pipeline=file, retry_failed=retry_failed)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    failed = 0
    try:
        with results:
            run = run_batch(
                file,
                rows,
                workers=workers,
                concurrency=concurrency,
                ray=ray,
                ray_temp_dir=ray_temp_dir,
                overrides=overrides,
                checkpoint=checkpoint,
                skip_ids=results.done,
            )
            run.tally.skipped = len(rows) - run.tally.total
            if quiet:
                for row in run.rows():
                    results.append(row)
            else:
                with ProgressView(run.tally) as view:
                    for row in run.rows():
                        results.append(row)
                        view.update()
                typer.echo(format_summary(run.tally), err=True)
            failed = run.tally.failed
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except BicameralError as exc:
        raise fail(str(exc), EXIT_RUN_FAILED) from None
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted; rerun the same command to resume ({out})", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(EXIT_RUN_FAILED if failed else EXIT_OK)


def register_batch(app: typer.Typer) -> None:
    """Add the ``batch`` command to the CLI."""
    app.command()(batch)
