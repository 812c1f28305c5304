"""``bicameral tools FILE``: every tool each agent of a pipeline would see, with its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.exit_codes import EXIT_OK, fail
from orchestrator.exceptions import BicameralError

__all__ = ["register_tools"]


def tools(
    file: Annotated[Path, typer.Argument(help="pipeline file")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the OpenAI-format schemas as JSON")
    ] = False,
) -> None:
    """List the tools (built-in, user modules, MCP servers) each agent may call.

    MCP servers are started briefly to ask for their tools, then stopped.
    """
    from orchestrator.config.loading import load_spec
    from orchestrator.loader import agent_tools
    from tools.base import Toolset

    try:
        by_agent = {name: Toolset(ts) for name, ts in agent_tools(load_spec(file)).items()}
    except BicameralError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({n: ts.schemas() for n, ts in by_agent.items()}, indent=2))
        raise typer.Exit(EXIT_OK)
    for agent, toolset in by_agent.items():
        typer.echo(f"{agent}: {len(toolset)} tool(s)")
        for tool in toolset:
            typer.echo(f"  {tool.name:<24} {_source(tool.metadata or {})}  {_first_line(tool)}")
    raise typer.Exit(EXIT_OK)


def _source(metadata: dict[str, Any]) -> str:
    server = metadata.get("mcp_server")
    source = f"mcp:{server}" if server else "local"
    return f"[{source}{', approval' if metadata.get('requires_approval') else ''}]"


def _first_line(tool: Any) -> str:
    return str(tool.description or "").strip().splitlines()[0][:80] if tool.description else ""


def register_tools(app: typer.Typer) -> None:
    """Add ``tools`` to the CLI."""
    app.command()(tools)
