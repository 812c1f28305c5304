"""The ``bicameral`` typer app: exit codes, the one-line error helper, and command registration.

User mistakes print one line (``error: file:line:col: message``) and exit 2; a run exits 0 when
completed, 1 when failed or out of budget, 130 when interrupted by Ctrl-C (the checkpoint is
kept and the resume command printed). Each command group lives in its own module and imports
what it needs inside the command body, so ``bicameral --help`` loads no model, graph or
validation code.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import EXIT_INTERRUPTED

__all__ = ["app", "main"]

app = typer.Typer(
    name="bicameral",
    help="Two-model agent pipelines: a tool-calling planner and a reasoning model.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"bicameral {version('bicameral')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            typer.echo("bicameral (not installed; run `make demo` or `pip install -e .`)")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            metavar="",
            help="print the version and exit",
        ),
    ] = False,
) -> None:
    """Two-model agent pipelines: a tool-calling planner and a reasoning model."""


def _register() -> None:
    from orchestrator.cli.batch_command import register_batch
    from orchestrator.cli.eval_command import register_eval
    from orchestrator.cli.inspect_commands import register_inspect
    from orchestrator.cli.mcp_command import register_mcp
    from orchestrator.cli.plan_command import register_plan
    from orchestrator.cli.run_commands import register_run
    from orchestrator.cli.runs_command import register_runs
    from orchestrator.cli.serve_command import register_serve
    from orchestrator.cli.tools_command import register_tools
    from orchestrator.cli.ui_command import register_ui

    register_run(app)
    register_inspect(app)
    register_serve(app)
    register_eval(app)
    register_batch(app)
    register_plan(app)
    register_tools(app)
    register_mcp(app)
    register_runs(app)
    register_ui(app)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
