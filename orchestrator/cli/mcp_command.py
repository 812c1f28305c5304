"""``bicameral mcp FILE``: serve a pipeline to MCP clients (stdio or streamable HTTP)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.exit_codes import EXIT_OK, fail
from orchestrator.exceptions import BicameralError

__all__ = ["register_mcp"]


class Transport(StrEnum):
    """How MCP clients reach the server."""

    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable-http"


def mcp(
    file: Annotated[Path, typer.Argument(help="pipeline file")],
    transport: Annotated[Transport, typer.Option(help="stdio or streamable-http")] = (
        Transport.STDIO
    ),
    host: Annotated[str, typer.Option(help="streamable-http: address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="streamable-http: port")] = 8000,
    set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
    workspace: Annotated[Path | None, typer.Option(help="directory the tools work in")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="checkpoint URL")] = None,
) -> None:
    """Serve the pipeline as one MCP tool (task in, result out, progress while it runs)."""
    try:
        from orchestrator.integrations.mcp_serve import build_mcp_server
    except ImportError as exc:
        message = f"bicameral mcp needs the MCP package: pip install 'bicameral[mcp]' ({exc})"
        raise fail(message) from None
    from orchestrator.config.loading import load_spec
    from orchestrator.loader import pipeline_from_spec

    try:
        spec = load_spec(file, list(set_ or []))
        pipeline = pipeline_from_spec(spec, workspace=workspace, checkpoint=checkpoint, notice=None)
    except BicameralError as exc:
        raise fail(str(exc)) from None
    server = build_mcp_server(pipeline, description=spec.description, host=host, port=port)
    if transport is Transport.STREAMABLE_HTTP:
        typer.echo(f"serving {spec.name!r} at http://{host}:{port}/mcp", err=True)
    server.run(transport.value)
    raise typer.Exit(EXIT_OK)


def register_mcp(app: typer.Typer) -> None:
    """Add ``mcp`` to the CLI."""
    app.command()(mcp)
