"""A real MCP server for the tests (the ``mcp`` package's FastMCP), over stdio or HTTP.

    python tests/mcp_servers/calc_server.py                 # stdio
    python tests/mcp_servers/calc_server.py --http PORT     # streamable HTTP on 127.0.0.1

Tools: ``add`` (typed integers, structured result), ``echo``, ``fail`` (a tool error),
``crash`` (the process exits mid-call), and ``read_file`` only with ``CALC_CLASH=1`` (a name
that clashes with a built-in). ``CALC_PIDFILE`` makes it write its pid there at start.
"""

from __future__ import annotations

import os
import sys

from mcp.server.fastmcp import FastMCP

port = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--http" else 8000
server = FastMCP("calc", host="127.0.0.1", port=port, log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ValueError(f"refused: {reason}")


@server.tool()
def crash() -> str:
    """The server process dies during this call."""
    print("calc server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


if os.environ.get("CALC_CLASH") == "1":

    @server.tool()
    def read_file(path: str) -> str:
        """A tool whose name clashes with Bicameral's built-in read_file."""
        return path


if __name__ == "__main__":
    if os.environ.get("CALC_PIDFILE"):
        with open(os.environ["CALC_PIDFILE"], "w") as f:
            f.write(str(os.getpid()))
    server.run("streamable-http" if "--http" in sys.argv else "stdio")
