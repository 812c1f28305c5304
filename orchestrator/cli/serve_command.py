"""``bicameral serve``: print or launch the ``vllm serve`` commands of a pipeline's models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, fail
from orchestrator.exceptions import BicameralError

__all__ = ["register_serve"]


def serve(
    file: Annotated[Path, typer.Argument(help="pipeline file")],
    role: Annotated[str, typer.Option(help="planner, reasoner or all")] = "all",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands only")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for health")] = 1800.0,
) -> None:
    """Launch (or print) the `vllm serve` commands for the pipeline's models."""
    from orchestrator.cli.serve import launch, serve_commands
    from orchestrator.config.loading import load_spec

    try:
        spec = load_spec(file)
        roles = None if role == "all" else [role]
        commands = serve_commands(spec, roles)
    except BicameralError as exc:
        raise fail(str(exc)) from None
    if dry_run:
        for cmd in commands:
            typer.echo(cmd.shell())
        raise typer.Exit(EXIT_OK)
    try:
        servers = launch(commands, timeout_s=timeout)
    except BicameralError as exc:
        raise fail(str(exc), EXIT_RUN_FAILED) from None
    for server in servers:
        typer.echo(f"{server.command.role}: healthy at {server.command.base_url}")
    typer.echo("servers running; Ctrl-C stops them", err=True)
    try:
        for server in servers:
            server.process.wait()
    except KeyboardInterrupt:
        for server in servers:
            server.stop()
        raise typer.Exit(EXIT_INTERRUPTED) from None


def register_serve(app: typer.Typer) -> None:
    """Add these commands to the CLI."""
    app.command()(serve)
