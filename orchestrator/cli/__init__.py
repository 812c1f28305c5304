"""The ``bicameral`` command line: one typer app, one module per command group.

Start-up cost matters here (every shell completion and subprocess test pays it), so this
package imports nothing heavy at module level: each command imports the loader, the pipeline
or the evaluation harness inside its own body.
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point (``bicameral``)."""
    from orchestrator.cli.app import main as run

    run()


__all__ = ["main"]
