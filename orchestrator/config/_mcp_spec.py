"""MCP server specs: the ``mcp_servers:`` section of a pipeline file.

Each entry names one Model Context Protocol server whose tools the pipeline may call::

    mcp_servers:
      notes:                       # stdio: Bicameral starts the server as a child process
        command: python
        args: [servers/notes.py]
        env: {NOTES_DIR: "${HOME}/notes"}
        tools: [search_notes, add_note]    # allow-list (default: every tool it lists)
        prefix: notes_                      # tool names become notes_search_notes, ...
        require_approval: [add_note]
      tickets:                     # streamable HTTP: a server that is already running
        transport: streamable_http
        url: http://127.0.0.1:9000/mcp
        headers_env: {Authorization: TICKETS_TOKEN}   # header value read from $TICKETS_TOKEN

Header values never stand in the file: ``headers_env`` names the environment variable each
one is read from when the pipeline loads.
"""

from __future__ import annotations

import re
import shutil
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from orchestrator.config._common import SpecIssue, SpecModel, StrTuple, base_dir

__all__ = ["McpServerSpec", "McpTransport"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOOL_PREFIX = re.compile(r"[A-Za-z0-9_-]*")


class McpTransport(StrEnum):
    """How Bicameral talks to an MCP server."""

    STDIO = "stdio"
    STREAMABLE_HTTP = "streamable_http"


class McpServerSpec(SpecModel):
    """One MCP server whose tools the pipeline may call."""

    transport: McpTransport = McpTransport.STDIO
    """stdio (Bicameral starts ``command``) or streamable_http (connect to ``url``)."""
    command: str | None = None
    """stdio: the program to start: a name looked up on PATH, or a path (relative to this
    file)."""
    args: StrTuple = ()
    """stdio: its arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """stdio: extra environment variables for the server (values may use ``${VAR}``)."""
    cwd: Path | None = None
    """stdio: working directory (relative to this file); default: this file's directory."""
    url: str | None = None
    """streamable_http: the server's MCP endpoint, e.g. ``http://127.0.0.1:9000/mcp``."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """streamable_http: HTTP headers, each read from the named environment variable."""
    tools: StrTuple | None = None
    """Allow-list of the server's tool names; default: every tool the server lists."""
    prefix: str = ""
    """Prepended to every tool name (avoids clashes with built-in and other servers' tools)."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Seconds to wait for the server to start and for each tool call."""
    require_approval: StrTuple = ()
    """Tools (the server's names, without prefix) that pause the run for human approval."""

    @field_validator("command")
    @classmethod
    def _command_exists(cls, command: str | None, info: ValidationInfo) -> str | None:
        if command is None or "/" not in command:
            if command is not None and shutil.which(command) is None:
                raise SpecIssue(f"MCP server command {command!r} not found on PATH")
            return command
        path = Path(command).expanduser()
        path = path if path.is_absolute() else (base_dir(info) / path).resolve()
        if not path.is_file():
            raise SpecIssue(f"MCP server command {command!r} not found (looked for {path})")
        return str(path)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not _ENV_NAME.fullmatch(name):
                raise SpecIssue(f"{name!r} is not an environment variable name", loc=(name,))
        return env

    @field_validator("headers_env")
    @classmethod
    def _header_sources(cls, headers: dict[str, str]) -> dict[str, str]:
        for header, var in headers.items():
            if not _ENV_NAME.fullmatch(var):
                raise SpecIssue(
                    f"headers_env.{header} must name an environment variable (the header value "
                    f"is read from it), not {var!r}",
                    loc=(header,),
                )
        return headers

    @field_validator("prefix")
    @classmethod
    def _prefix_chars(cls, prefix: str) -> str:
        if not _TOOL_PREFIX.fullmatch(prefix):
            raise SpecIssue("prefix may hold letters, digits, '_' and '-' only")
        return prefix

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        resolved = path if path.is_absolute() else (base_dir(info) / path).resolve()
        if not resolved.is_dir():
            raise SpecIssue(f"cwd {str(path)!r} is not a directory")
        return resolved

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServerSpec:
        if self.transport is McpTransport.STDIO:
            if not self.command:
                raise SpecIssue("a stdio MCP server needs command", loc=("command",))
            if self.url is not None or self.headers_env:
                field = "url" if self.url is not None else "headers_env"
                raise SpecIssue(f"{field} is for transport: streamable_http", loc=(field,))
        else:
            parts = urlsplit(self.url or "")
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SpecIssue(
                    "a streamable_http MCP server needs url: http(s)://host:port/path",
                    loc=("url",),
                )
            if self.command is not None:
                raise SpecIssue("command is for transport: stdio", loc=("command",))
        if self.tools is not None:
            for i, name in enumerate(self.require_approval):
                if name not in self.tools:
                    raise SpecIssue(
                        f"require_approval names {name!r}, which is not in tools",
                        loc=("require_approval", i),
                    )
        return self

    def exposed_name(self, tool: str) -> str:
        """The name the pipeline's agents know the server's ``tool`` by."""
        return self.prefix + tool
