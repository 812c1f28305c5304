"""A pipeline's ``mcp_servers:`` as tools, checked when the pipeline loads.

Loading starts each server briefly to list its tools (their names and JSON schemas are part
of the prompt, so they must be known before the first run), then stops it again; each run
opens its own sessions (:class:`~orchestrator.integrations.mcp_client.McpServers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool

from orchestrator.config.spec import BUILTIN_TOOL_NAMES, PipelineSpec
from orchestrator.exceptions import ConfigError, ToolServerError

if TYPE_CHECKING:
    from orchestrator.integrations.mcp_client import McpServers

__all__ = ["load_mcp_tools"]


def load_mcp_tools(
    spec: PipelineSpec,
) -> tuple[McpServers | None, dict[str, list[BaseTool]]]:
    """The pipeline's MCP servers (``None`` without any) and their tools by server name.

    Raises:
        ConfigError: the ``mcp`` extra is missing; a server cannot start, does not answer
            ``initialize`` in time or refuses the connection; a tool name clashes with a
            built-in tool, a user tool or another server's tool (set ``prefix``).
    """
    if not spec.mcp_servers:
        return None, {}
    try:
        from orchestrator.integrations.mcp_client import McpServers
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            f"mcp_servers needs the MCP client: pip install 'bicameral[mcp]' ({exc})"
        ) from None
    servers = McpServers.from_specs(spec.mcp_servers)
    try:
        tools = servers.load_tools()
    except ToolServerError as exc:
        raise ConfigError(str(exc)) from None
    by_server: dict[str, list[BaseTool]] = {}
    for tool in tools:
        by_server.setdefault(str((tool.metadata or {})["mcp_server"]), []).append(tool)
    _check_names(by_server, [*BUILTIN_TOOL_NAMES, *_user_tool_names(spec.tools.modules)])
    return servers, by_server


def _user_tool_names(modules: Sequence[str]) -> list[str]:
    return [ref.rpartition(":")[2] for ref in modules if ":" in ref]


def _check_names(by_server: Mapping[str, Sequence[BaseTool]], taken: Sequence[str]) -> None:
    owner: dict[str, str] = {name: "the built-in or user tool" for name in taken}
    for server, tools in by_server.items():
        for tool in tools:
            if tool.name in owner:
                raise ConfigError(
                    f"mcp_servers.{server}: tool {tool.name!r} clashes with "
                    f"{owner[tool.name]} of that name; set mcp_servers.{server}.prefix"
                )
            owner[tool.name] = f"MCP server {server!r}'s tool"
