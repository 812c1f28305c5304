"""MCP servers as tools: one session per server for a whole run, its tools as LangChain tools.

A :class:`McpServers` value holds the connections of a pipeline's ``mcp_servers:``. Its tools
are ordinary LangChain tools, so they reach the agents through the same :class:`Toolset`
(the same argument policy, approval and events as every other tool). Sessions are opened
when a run starts and closed when it ends, whatever the ending (failure and Ctrl-C
included): :meth:`McpServers.session` is the run-scoped context a ``Pipeline`` enters.

- **stdio** servers are started as child processes through :mod:`._pdeathsig`, which asks
  the kernel to kill the server when its parent dies, so a SIGKILLed orchestrator leaves no
  server behind. Their stderr goes to a private file whose tail is quoted when they fail.
- **streamable_http** servers are connected to; header values come from the environment.

A tool error the server reports (``isError``) is a :class:`ToolError`: the model sees it and
may try again. A server that cannot start, stops answering or dies is a
:class:`ToolServerError`: the run ends ``failed``, its checkpoint intact.

Example:
    >>> servers = McpServers.from_specs(spec.mcp_servers)  # doctest: +SKIP
    >>> tools = servers.load_tools()                        # starts each server briefly
    >>> Pipeline(planner=model, tools=tools, resources=[servers])
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from langchain_core.tools import BaseTool, StructuredTool

from orchestrator._sync import run_sync
from orchestrator.config._mcp_spec import McpServerSpec, McpTransport
from orchestrator.exceptions import ConfigError, ToolError, ToolServerError
from orchestrator.pipeline import RUN_RESOURCE_KEY

__all__ = ["McpConnection", "McpServers", "flatten_result", "mcp_tools"]


_STDERR_TAIL = 600
_PDEATHSIG = str(Path(__file__).with_name("_pdeathsig.py"))


class McpConnection:
    """One MCP server: its spec, and while a session is open, the live session.

    The session lives in a task of its own (the MCP client's transports are anyio task
    groups that must be entered and left by one task); tool calls from any task of the same
    event loop go through it.
    """

    def __init__(self, name: str, spec: McpServerSpec) -> None:
        self.name = name
        self.spec = spec
        self._session: Any = None
        self._holder: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self._errlog: IO[str] | None = None
        self._failure: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Start (or connect to) the server and initialise the session.

        Raises:
            ToolServerError: the server did not start or did not answer ``initialize`` in time.
        """
        if self._holder is not None:
            return
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._closing = asyncio.Event()
        self._failure = None
        self._holder = loop.create_task(self._hold(ready), name=f"mcp:{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), self.spec.timeout_s)
        except TimeoutError:
            await self.close()
            raise self._error(
                f"did not answer initialize within {self.spec.timeout_s:g} s"
            ) from None
        except ToolServerError:
            await self.close()
            raise

    async def close(self) -> None:
        """End the session; a stdio server is stopped (the MCP client closes its stdin, then
        terminates it)."""
        holder, self._holder = self._holder, None
        if holder is None:
            return
        if self._closing is not None:
            self._closing.set()
        try:
            await asyncio.wait_for(asyncio.shield(holder), self.spec.timeout_s)
        except (TimeoutError, Exception):
            holder.cancel()
            await asyncio.gather(holder, return_exceptions=True)
        finally:
            if self._errlog is not None:
                self._errlog.close()
                self._errlog = None

    async def _hold(self, ready: asyncio.Future[None]) -> None:
        from mcp import ClientSession

        try:
            async with AsyncExitStack() as stack:
                streams = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(
                    ClientSession(
                        streams[0],
                        streams[1],
                        read_timeout_seconds=timedelta(seconds=self.spec.timeout_s),
                    )
                )
                await session.initialize()
                self._session = session
                ready.set_result(None)
                assert self._closing is not None
                await self._closing.wait()
        except BaseException as exc:
            self._failure = exc
            if not ready.done():
                ready.set_exception(self._error(_describe(exc)))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._session = None

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[Any]:
        if self.spec.transport is McpTransport.STREAMABLE_HTTP:
            import httpx
            from mcp.client.streamable_http import streamable_http_client

            assert self.spec.url is not None
            timeout = httpx.Timeout(self.spec.timeout_s)
            async with (
                httpx.AsyncClient(headers=self._headers(), timeout=timeout) as http,
                streamable_http_client(self.spec.url, http_client=http) as streams,
            ):
                yield streams
            return
        from mcp.client.stdio import StdioServerParameters, stdio_client

        assert self.spec.command is not None
        # Kept open while the server runs (closed in close()): its stderr, for error messages.
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        params = StdioServerParameters(
            command=sys.executable,
            # -I -S: the launcher needs no site-packages, so its interpreter starts in ~20 ms
            args=["-I", "-S", _PDEATHSIG, self.spec.command, *self.spec.args],
            env={**os.environ, **self.spec.env},
            cwd=str(self.spec.cwd) if self.spec.cwd is not None else None,
        )
        async with stdio_client(params, errlog=self._errlog) as streams:
            yield streams

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for header, var in self.spec.headers_env.items():
            value = os.environ.get(var)
            if value is None:
                raise ConfigError(
                    f"mcp_servers.{self.name}: header {header} reads ${var}, which is not set"
                )
            headers[header] = value
        return headers

    # -- use -----------------------------------------------------------------------------------

    async def list_tools(self) -> list[Any]:
        """The server's tools (``mcp.types.Tool``), filtered by the spec's allow-list."""
        session = self._live()
        try:
            listed = (await session.list_tools()).tools
        except Exception as exc:
            raise self._error(f"list_tools failed: {_describe(exc)}") from exc
        if self.spec.tools is None:
            return list(listed)
        by_name = {tool.name: tool for tool in listed}
        missing = [name for name in self.spec.tools if name not in by_name]
        if missing:
            raise ConfigError(
                f"mcp_servers.{self.name}: the server has no tool {missing[0]!r} "
                f"(it lists: {', '.join(sorted(by_name)) or 'none'})"
            )
        return [by_name[name] for name in self.spec.tools]

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> str | dict[str, Any]:
        """Call ``tool``; its content flattened to text (or text plus structured content).

        Raises:
            ToolError: the server reported a tool error (``isError``).
            ToolServerError: the server is gone, or did not answer within ``timeout_s``.
        """
        session = self._live()
        try:
            result = await session.call_tool(
                tool,
                dict(arguments),
                read_timeout_seconds=timedelta(seconds=self.spec.timeout_s),
            )
        except Exception as exc:
            raise self._error(f"call to {tool!r} failed: {_describe(exc)}") from exc
        text, structured = flatten_result(result)
        if getattr(result, "isError", False):
            raise ToolError(text or f"{tool} failed", tool=self.spec.exposed_name(tool))
        if structured is not None:
            return {"text": text, "structured": structured}
        return text

    def _live(self) -> Any:
        if self._session is None:
            reason = _describe(self._failure) if self._failure is not None else "not started"
            raise self._error(f"no session ({reason})")
        return self._session

    def _error(self, message: str) -> ToolServerError:
        tail = self._stderr_tail()
        where = f"; its stderr ends: {tail}" if tail else ""
        return ToolServerError(f"MCP server {self.name!r}: {message}{where}", server=self.name)

    def _stderr_tail(self) -> str:
        if self._errlog is None or self._errlog.closed:
            return ""
        try:
            self._errlog.flush()
            size = self._errlog.seek(0, os.SEEK_END)
            self._errlog.seek(max(0, size - _STDERR_TAIL))
            return " | ".join(line.strip() for line in self._errlog.read().splitlines()[-5:])
        except (OSError, ValueError):
            return ""


class McpServers:
    """The MCP servers of one pipeline; a run-scoped resource of its ``Pipeline``."""

    def __init__(self, connections: Sequence[McpConnection]) -> None:
        self.connections = tuple(connections)

    @classmethod
    def from_specs(cls, specs: Mapping[str, McpServerSpec]) -> McpServers:
        """One connection per ``mcp_servers`` entry (nothing is started yet)."""
        return cls([McpConnection(name, spec) for name, spec in specs.items()])

    def __bool__(self) -> bool:
        return bool(self.connections)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[McpServers]:
        """Open every server's session (concurrently) for the block; close them all after."""
        opened: list[McpConnection] = []
        try:
            results = await asyncio.gather(
                *(c.open() for c in self.connections), return_exceptions=True
            )
            for connection, outcome in zip(self.connections, results, strict=True):
                if not isinstance(outcome, BaseException):
                    opened.append(connection)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
            yield self
        finally:
            await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)

    async def alist_tools(self) -> list[BaseTool]:
        """Start every server, list its tools as LangChain tools, stop it again."""
        async with self.session():
            tools: list[BaseTool] = []
            for connection in self.connections:
                for tool in await connection.list_tools():
                    tools.append(_as_langchain_tool(connection, tool, self))
            return tools

    def load_tools(self) -> list[BaseTool]:
        """Synchronous :meth:`alist_tools` (what the loader and ``bicameral tools`` call)."""
        return run_sync(self.alist_tools()) if self.connections else []


def _as_langchain_tool(connection: McpConnection, tool: Any, owner: McpServers) -> BaseTool:
    schema = dict(tool.inputSchema or {"type": "object", "properties": {}})
    schema.setdefault("type", "object")

    async def call(**arguments: Any) -> str | dict[str, Any]:
        return await connection.call(tool.name, arguments)

    exposed = connection.spec.exposed_name(tool.name)
    return StructuredTool(
        name=exposed,
        description=tool.description or f"{tool.name} (MCP server {connection.name})",
        args_schema=schema,
        coroutine=call,
        metadata={
            "requires_approval": tool.name in connection.spec.require_approval,
            "mcp_server": connection.name,
            "mcp_tool": tool.name,
            RUN_RESOURCE_KEY: owner,
        },
    )


def mcp_tools(servers: Mapping[str, Mapping[str, Any]]) -> list[BaseTool]:
    """LangChain tools for MCP servers described as in a pipeline's ``mcp_servers:``.

    Pass them to ``Pipeline(tools=...)``: the pipeline finds their servers in the tools'
    metadata and opens one session per server for each run.

    Example:
        >>> tools = mcp_tools({"calc": {"command": "python", "args": ["calc_server.py"]}})
        >>> Pipeline(planner=model, tools=tools).run("What is 2 + 3?")  # doctest: +SKIP

    Raises:
        ConfigError: a server spec is invalid, or a server cannot be started.
    """
    from pydantic import ValidationError

    specs: dict[str, McpServerSpec] = {}
    for name, raw in servers.items():
        try:
            specs[name] = McpServerSpec.model_validate(dict(raw), context={"base_dir": os.getcwd()})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"mcp server {name!r}: {where}: {first['msg']}") from None
    try:
        return McpServers.from_specs(specs).load_tools()
    except ToolServerError as exc:
        raise ConfigError(str(exc)) from None


def flatten_result(result: Any) -> tuple[str, Any]:
    """MCP content blocks as text for the model, and the structured content if any.

    Text blocks are joined; an image or audio block becomes a one-line placeholder (the
    model cannot see it through a chat-completions tool message); an embedded resource
    contributes its text, or a placeholder for a binary one.
    """
    parts: list[str] = []
    for block in getattr(result, "content", None) or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind} {getattr(block, 'mimeType', '')}]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
    return "\n".join(parts), getattr(result, "structuredContent", None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions[0] if exc.exceptions else exc
        return _describe(inner)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
