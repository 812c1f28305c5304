"""What MCP costs: a tool call through a kept stdio session against the same function as a
local tool, and what two stdio MCP servers add to starting a pipeline.

Targets (issue 16): at most 5 ms more per call; at most 1.5 s more to start a pipeline with
two stdio servers (load: list their tools; then one run's sessions opened and closed).

Usage: ``python -m benchmarks.mcp_tools [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from benchmarks._common import ROOT, median_ms, platform_info, write_results
from orchestrator.config._mcp_spec import McpServerSpec
from orchestrator.integrations.mcp_client import McpServers
from orchestrator.loader import load_pipeline
from tools.base import Toolset

CALC = ROOT / "tests" / "mcp_servers" / "calc_server.py"


def _local_add() -> BaseTool:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    return StructuredTool.from_function(add)


async def _per_call(calls: int) -> dict[str, float]:
    servers = McpServers.from_specs(
        {"calc": McpServerSpec(command=sys.executable, args=(str(CALC),))}
    )
    tools = await servers.alist_tools()
    mcp = Toolset([t for t in tools if t.name == "add"])
    local = Toolset([_local_add()])
    samples: dict[str, list[float]] = {"local": [], "mcp": []}
    async with servers.session():
        for _ in range(calls):  # interleaved, so machine noise hits both alike
            for name, toolset in (("local", local), ("mcp", mcp)):
                start = time.perf_counter()
                await toolset.acall("add", {"a": 2, "b": 3})
                samples[name].append(time.perf_counter() - start)
    return {name: median_ms(s) for name, s in samples.items()}


def _pipeline_file(folder: Path, servers: int) -> Path:
    text = "name: bench\nmodels:\n  planner: {base_url: 'http://127.0.0.1:9/v1', model: m}\n"
    if servers:
        text += "mcp_servers:\n"
        for i in range(servers):
            text += f"  calc{i}:\n    command: {sys.executable}\n    args: ['{CALC}']\n"
            text += f"    prefix: c{i}_\n"
    path = folder / f"p{servers}.yaml"
    path.write_text(text)
    return path


async def _open_sessions(pipeline: Any) -> None:
    for resource in pipeline.resources:
        async with resource.session():
            pass


def _startup(rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        samples: dict[str, list[float]] = {"none": [], "two_stdio": []}
        for _ in range(rounds):
            for name, count in (("none", 0), ("two_stdio", 2)):
                start = time.perf_counter()
                pipeline = load_pipeline(_pipeline_file(Path(tmp), count), notice=None)
                asyncio.run(_open_sessions(pipeline))
                samples[name].append(time.perf_counter() - start)
    return {name: median_ms(s) for name, s in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    per_call = asyncio.run(_per_call(args.calls))
    added_call = per_call["mcp"] - per_call["local"]
    print(
        f"tool call, median of {args.calls}: local {per_call['local']:.2f} ms, "
        f"MCP stdio {per_call['mcp']:.2f} ms, added {added_call:.2f} ms (target <= 5 ms)"
    )
    start = _startup(args.rounds)
    added_start = start["two_stdio"] - start["none"]
    print(
        f"pipeline start (load + one run's sessions), median of {args.rounds}: "
        f"none {start['none']:.0f} ms, two stdio servers {start['two_stdio']:.0f} ms, "
        f"added {added_start:.0f} ms (target <= 1500 ms)"
    )
    write_results(
        "mcp_tools",
        {
            "platform": platform_info(),
            "per_call_ms": per_call,
            "added_call_ms": added_call,
            "startup_ms": start,
            "added_startup_ms": added_start,
            "passed": added_call <= 5.0 and added_start <= 1500.0,
        },
    )


if __name__ == "__main__":
    main()
