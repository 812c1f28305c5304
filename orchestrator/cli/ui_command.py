"""``bicameral ui``: serve the local web page over the run log (runs, timelines, approvals,
new runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import fail
from orchestrator.exceptions import ConfigError

__all__ = ["register_ui"]


def ui(
    checkpoint: Annotated[
        str | None, typer.Option(help="checkpoint URL (default: the CLI's SQLite file)")
    ] = None,
    host: Annotated[str, typer.Option(help="address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    pipelines: Annotated[
        Path, typer.Option(help="directory of pipeline files the page may start")
    ] = Path("."),
) -> None:
    """Open the run browser: runs, timelines, approvals and new runs, on a local web page."""
    from aiohttp import web

    from orchestrator.graph.checkpoint import DEFAULT_SQLITE_URL
    from orchestrator.ui.security import Guard
    from orchestrator.ui.server import UiConfig, make_app

    guard = Guard.for_address(host, port)
    config = UiConfig(
        checkpoint=checkpoint or DEFAULT_SQLITE_URL, guard=guard, pipelines_dir=pipelines
    )
    try:
        app = make_app(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if guard.token is not None:
        url += f"?token={guard.token}"
        typer.echo(f"not on loopback: every request needs the token; open {url}", err=True)
    else:
        typer.echo(f"Bicameral UI on {url} (Ctrl-C to stop)", err=True)
    try:
        web.run_app(app, host=host, port=port, print=None, handle_signals=True)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def register_ui(app: typer.Typer) -> None:
    """Add ``ui`` to the CLI."""
    app.command()(ui)
