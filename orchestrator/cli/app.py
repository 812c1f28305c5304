"""The ``bicameral`` typer app: exit codes, the one-line error helper, and command registration.

User mistakes print one line (``error: file:line:col: message``) and exit 2; a run exits 0 when
completed, 1 when failed or out of budget, 130 when interrupted by Ctrl-C (the checkpoint is
kept and the resume command printed). Each command group lives in its own module and imports
what it needs inside the command body, so ``bicameral --help`` loads no model, graph or
validation code.
"""

from __future__ import annotations

import sys

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


def _register() -> None:
    from orchestrator.cli.eval_command import register_eval
    from orchestrator.cli.inspect_commands import register_inspect
    from orchestrator.cli.mcp_command import register_mcp
    from orchestrator.cli.plan_command import register_plan
    from orchestrator.cli.run_commands import register_run
    from orchestrator.cli.serve_command import register_serve
    from orchestrator.cli.tools_command import register_tools

    register_run(app)
    register_inspect(app)
    register_serve(app)
    register_eval(app)
    register_plan(app)
    register_tools(app)
    register_mcp(app)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
