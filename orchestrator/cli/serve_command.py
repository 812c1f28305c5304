"""``bicameral serve``: print or launch the ``vllm serve`` commands of a pipeline's models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    OUTSIDE_FILES_OPTION,
    fail,
)
from orchestrator.exceptions import BicameralError

__all__ = ["register_serve"]


def _flag_overrides(file: Path, flags: dict[str, tuple[str | None, str | None]]) -> list[str]:
    """``--ROLE-model NAME`` serves NAME for a role the file runs on the embedded model (on
    the role's default port unless ``--ROLE-url`` says otherwise)."""
    from orchestrator.cli.serve import DEFAULT_PORTS
    from orchestrator.config.loading import load_spec
    from orchestrator.config.spec import Provider

    spec = load_spec(file)
    out: list[str] = []
    for role, (url, name) in flags.items():
        current = spec.models.get(role)
        if name:
            out += [f"models.{role}.model={name}", f"models.{role}.provider=openai"]
            if url is None and (current is None or current.provider is Provider.LOCAL):
                url = f"http://127.0.0.1:{DEFAULT_PORTS[role]}/v1"
        if url:
            out += [f"models.{role}.base_url={url}", f"models.{role}.provider=openai"]
    return out


def serve(
    file: Annotated[Path, typer.Argument(help="pipeline file")],
    role: Annotated[str, typer.Option(help="planner, reasoner or all")] = "all",
    planner_model: Annotated[
        str | None, typer.Option(help="weights to serve as the planner (HF id or path)")
    ] = None,
    reasoner_model: Annotated[
        str | None, typer.Option(help="weights to serve as the reasoner (HF id or path)")
    ] = None,
    planner_url: Annotated[str | None, typer.Option(help="planner URL (sets the port)")] = None,
    reasoner_url: Annotated[str | None, typer.Option(help="reasoner URL (sets the port)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the commands only", metavar="")
    ] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for health")] = 1800.0,
    allow_outside_files: Annotated[bool, OUTSIDE_FILES_OPTION] = False,
) -> None:
    """Launch (or print) the `vllm serve` commands for the pipeline's models."""
    from orchestrator.cli.serve import launch, serve_commands
    from orchestrator.config.loading import load_spec
    from orchestrator.redact import Redactor

    secrets = Redactor()
    flags = {"planner": (planner_url, planner_model), "reasoner": (reasoner_url, reasoner_model)}
    try:
        overrides = _flag_overrides(file, flags) + list(set_ or [])
        spec = load_spec(file, overrides, secrets=secrets, allow_outside_files=allow_outside_files)
        roles = None if role == "all" else [role]
        commands = serve_commands(spec, roles)
    except BicameralError as exc:
        raise fail(secrets(str(exc))) from None
    if not commands:
        raise fail(
            f"{file}: every model runs on the embedded model, so there is no server to start; "
            "name the weights to serve with --planner-model NAME (and --reasoner-model NAME)"
        )
    if dry_run:
        for cmd in commands:
            typer.echo(secrets(cmd.shell()))
        raise typer.Exit(EXIT_OK)
    try:
        servers = launch(commands, timeout_s=timeout)
    except BicameralError as exc:
        raise fail(secrets(str(exc)), EXIT_RUN_FAILED) from None
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
