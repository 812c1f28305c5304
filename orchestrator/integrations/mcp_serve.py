"""A pipeline as an MCP server: one tool, ``task`` in, the run's result out.

``bicameral mcp FILE`` serves it over stdio (for desktop assistants and IDEs that start their
MCP servers as child processes) or over streamable HTTP on loopback. While a run goes, each
graph step is sent as an MCP progress notification (when the client asked for progress).

Example client configuration (Claude Desktop, Cursor and most MCP clients use this form)::

    {"mcpServers": {"math": {"command": "bicameral",
                             "args": ["mcp", "/abs/path/examples/math_solver.yaml"]}}}
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcp.server.fastmcp import Context, FastMCP

from orchestrator.events import FinalEvent, NodeStart
from orchestrator.pipeline import Pipeline
from orchestrator.result import RunResult

__all__ = ["build_mcp_server", "result_summary", "tool_name_for"]


def tool_name_for(pipeline_name: str) -> str:
    """An MCP tool name from a pipeline name (``math solver`` -> ``math_solver``)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", pipeline_name).strip("_")
    return name or "pipeline"


def result_summary(result: RunResult) -> dict[str, Any]:
    """What the MCP tool returns: the result's status, answer, structured outputs and costs."""
    full = json.loads(result.to_json())
    keep = ("status", "answer", "outputs", "steps", "cost_usd", "thread_id", "error")
    summary = {key: full[key] for key in keep if key in full}
    summary["tokens"] = {
        role: {k: usage.get(k, 0) for k in ("prompt_tokens", "completion_tokens", "calls")}
        for role, usage in (full.get("usage") or {}).items()
    }
    return summary


def build_mcp_server(
    pipeline: Pipeline,
    *,
    description: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> FastMCP:
    """A FastMCP server exposing ``pipeline`` as one tool named after it."""
    server = FastMCP(
        f"bicameral-{tool_name_for(pipeline.name)}", host=host, port=port, log_level="WARNING"
    )
    total = float(pipeline.limits.max_steps)

    async def run(task: str, ctx: Context) -> dict[str, Any]:  # type: ignore[type-arg]
        result: RunResult | None = None
        steps = 0
        async for event in pipeline.astream(task, tokens=False):
            if isinstance(event, NodeStart):
                steps += 1
                await ctx.report_progress(steps, total, message=f"step {steps}: {event.node}")
            elif isinstance(event, FinalEvent):
                result = event.result
        assert result is not None  # astream always ends with a FinalEvent
        return result_summary(result)

    server.tool(
        name=tool_name_for(pipeline.name),
        description=description
        or f"Run the Bicameral pipeline {pipeline.name!r} on a task and return its result.",
    )(run)
    return server
