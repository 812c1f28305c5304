"""Exit codes shared by every command, and the one-line error helper."""

from __future__ import annotations

import typer

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RUN_FAILED",
    "EXIT_USAGE",
    "OUTSIDE_FILES_OPTION",
    "fail",
]

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

OUTSIDE_FILES_OPTION = typer.Option(
    "--allow-outside-files",
    help="let prompt, schema and template files lie outside the pipeline file's folder",
)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr and return the ``typer.Exit`` to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
