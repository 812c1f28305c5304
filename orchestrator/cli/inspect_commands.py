"""``bicameral validate``, ``graph`` and ``schema``: look at pipeline files without running."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import EXIT_OK, EXIT_USAGE, OUTSIDE_FILES_OPTION, fail
from orchestrator.exceptions import BicameralError

__all__ = ["register_inspect"]


def validate(
    files: Annotated[list[Path], typer.Argument(help="pipeline files")],
    allow_outside_files: Annotated[bool, OUTSIDE_FILES_OPTION] = False,
) -> None:
    """Check pipeline files: `FILE: ok`, or every mistake as `error: FILE:LINE:COL: ...`."""
    from orchestrator.config.loading import check_file

    bad = 0
    for file in files:
        errors = check_file(file, allow_outside_files=allow_outside_files)
        for error in errors:
            typer.echo(f"error: {error}", err=True)
        if errors:
            bad += 1
        else:
            typer.echo(f"{file}: ok")
    raise typer.Exit(EXIT_USAGE if bad else EXIT_OK)


def graph(
    file: Annotated[Path, typer.Argument(help="pipeline file")],
    allow_outside_files: Annotated[bool, OUTSIDE_FILES_OPTION] = False,
) -> None:
    """Print the pipeline's graph as a Mermaid diagram (user tool modules are not imported)."""
    from orchestrator.loader import load_pipeline

    try:
        pipeline = load_pipeline(
            file, notice=None, import_user_tools=False, allow_outside_files=allow_outside_files
        )
        typer.echo(pipeline.compile(checkpointer="memory").get_graph().draw_mermaid())
    except BicameralError as exc:
        raise fail(str(exc)) from None


def schema() -> None:
    """Print the JSON Schema of pipeline files (for editor validation and completion)."""
    from orchestrator.config.editor_schema import pipeline_json_schema_text

    typer.echo(pipeline_json_schema_text())


def register_inspect(app: typer.Typer) -> None:
    """Add these commands to the CLI."""
    app.command()(validate)
    app.command()(graph)
    app.command()(schema)
