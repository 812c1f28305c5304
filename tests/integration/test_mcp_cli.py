"""`bicameral mcp` serves a pipeline to real MCP clients (stdio and streamable HTTP);
`bicameral tools` lists MCP tools; `bicameral validate` checks the mcp_servers section."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

pytest.importorskip("mcp")

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[2]
CALC = ROOT / "tests" / "mcp_servers" / "calc_server.py"
SERVE_PORT = 8873
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _pipeline(tmp: Path, url: str, extra: str = "") -> Path:
    path = tmp / "solver.yaml"
    path.write_text(
        "name: tiny solver\n"
        "description: Answers arithmetic questions.\n"
        "models:\n"
        f"  planner: {{base_url: '{url}', model: fake, max_retries: 0}}\n"
        "tools: {builtin: [evaluate]}\n" + extra
    )
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


async def _call(session: ClientSession) -> tuple[dict[str, Any], list[tuple[float, str]]]:
    await session.initialize()
    [tool] = (await session.list_tools()).tools
    assert tool.name == "tiny_solver" and "arithmetic" in (tool.description or "")
    progress: list[tuple[float, str]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message or ""))

    result = await session.call_tool(
        tool.name,
        {"task": "What is 2 + 3?"},
        read_timeout_seconds=timedelta(seconds=60),
        progress_callback=on_progress,
    )
    assert not result.isError, result.content
    return dict(result.structuredContent or {}), progress


def _script(server: FakeOpenAIServer) -> None:
    server.enqueue(
        ChatReply(tool_calls=[ToolCallSpec("evaluate", {"expression": "2 + 3"}, id="c1")]),
        ChatReply("5"),
    )


def test_a_pipeline_served_over_stdio_answers_an_mcp_client(tmp_path: Path) -> None:
    with FakeOpenAIServer() as planner:
        _script(planner)
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "orchestrator.cli", "mcp", str(_pipeline(tmp_path, planner.base_url))],
            env=ENV,
            cwd=str(tmp_path),
        )

        async def go() -> tuple[dict[str, Any], list[tuple[float, str]]]:
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                return await _call(session)

        result, progress = asyncio.run(go())
    assert result["status"] == "completed" and result["answer"] == "5"
    assert result["tokens"]["planner"]["calls"] == 2
    assert [m for _, m in progress][:2] == ["step 1: plan", "step 2: act"]


def test_a_pipeline_served_over_streamable_http_answers_an_mcp_client(tmp_path: Path) -> None:
    with FakeOpenAIServer() as planner:
        _script(planner)
        path = _pipeline(tmp_path, planner.base_url)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "orchestrator.cli", "mcp", str(path)),
                *("--transport", "streamable-http", "--port", str(SERVE_PORT)),
            ],
            env=ENV,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", SERVE_PORT)) == 0:
                        break
                assert time.monotonic() < deadline, "bicameral mcp never listened"
                time.sleep(0.1)

            async def go() -> tuple[dict[str, Any], list[tuple[float, str]]]:
                url = f"http://127.0.0.1:{SERVE_PORT}/mcp"
                async with (
                    streamable_http_client(url) as (read, write, _),
                    ClientSession(read, write) as session,
                ):
                    return await _call(session)

            result, progress = asyncio.run(go())
        finally:
            proc.terminate()
            proc.wait(10)
    assert result["status"] == "completed" and result["answer"] == "5"
    assert len(progress) >= 3


def test_tools_lists_builtin_and_mcp_tools_with_schemas(tmp_path: Path) -> None:
    servers = f"mcp_servers:\n  calc:\n    command: {sys.executable}\n    args: ['{CALC}']\n"
    servers += "    tools: [add]\n    prefix: calc_\n    require_approval: [add]\n"
    path = _pipeline(tmp_path, "http://127.0.0.1:9/v1", servers)
    listed = _cli("tools", str(path), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "calc_add" in listed.stdout and "[mcp:calc, approval]" in listed.stdout
    assert "evaluate" in listed.stdout and "[local]" in listed.stdout
    as_json = json.loads(_cli("tools", str(path), "--json", cwd=tmp_path).stdout)
    [add] = [t for t in as_json["planner"] if t["function"]["name"] == "calc_add"]
    assert add["function"]["parameters"]["required"] == ["a", "b"]


@pytest.mark.parametrize(
    ("servers", "expect"),
    [
        ("  x:\n    command: no-such-mcp-server\n", "command 'no-such-mcp-server' not found"),
        ("  x:\n    transport: streamable_http\n", "needs url"),
        ("  x:\n    transport: stdio\n    command: python\n    url: http://a/b\n", "url is for"),
        (
            "  x:\n    transport: streamable_http\n    url: http://a/m\n    headers_env:\n"
            "      Authorization: Bearer xyz\n",
            "must name an environment variable",
        ),
        ("  x:\n    transport: carrier_pigeon\n", "transport"),
        ("  'a b':\n    command: python\n", "MCP server name 'a b'"),
    ],
    ids=["missing-command", "no-url", "url-on-stdio", "literal-header", "transport", "name"],
)
def test_validate_reports_a_bad_mcp_section_in_one_located_line(
    tmp_path: Path, servers: str, expect: str
) -> None:
    path = _pipeline(tmp_path, "http://127.0.0.1:9/v1", "mcp_servers:\n" + servers)
    result = _cli("validate", str(path), cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: "), line  # validate prints errors as `run` does
    assert line.removeprefix("error: ").split(":")[0] == str(path) and expect in line, line


def test_an_agent_naming_an_unknown_server_is_refused(tmp_path: Path) -> None:
    extra = (
        f"mcp_servers:\n  calc:\n    command: {sys.executable}\n"
        "agents:\n  planner:\n    tools: [evaluate, 'mcp:calk']\n"
    )
    result = _cli(
        "validate", str(_pipeline(tmp_path, "http://127.0.0.1:9/v1", extra)), cwd=tmp_path
    )
    assert (
        result.returncode == 2
        and "no MCP server named 'calk' in mcp_servers; did you mean 'calc'?" in (result.stderr)
    )


def test_run_time_server_failure_exits_1_and_load_failure_exits_2(tmp_path: Path) -> None:
    with FakeOpenAIServer() as planner:
        planner.enqueue(ChatReply(tool_calls=[ToolCallSpec("calc_crash", {}, id="c1")]))
        extra = (
            f"mcp_servers:\n  calc:\n    command: {sys.executable}\n    args: ['{CALC}']\n"
            "    prefix: calc_\n"
        )
        path = _pipeline(tmp_path, planner.base_url, extra)
        ran = _cli("run", str(path), "--task", "crash", "--json", cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr
    error = json.loads(ran.stdout)["error"]
    assert error["type"] == "ToolServerError" and "MCP server 'calc'" in error["message"]
    gone = _pipeline(
        tmp_path,
        "http://127.0.0.1:9/v1",
        "mcp_servers:\n  gone:\n    transport: streamable_http\n"
        "    url: http://127.0.0.1:8874/mcp\n    timeout_s: 5\n",
    )
    loaded = _cli("run", str(gone), "--task", "x", cwd=tmp_path)
    assert loaded.returncode == 2
    [line] = loaded.stderr.strip().splitlines()
    assert line.startswith("error: MCP server 'gone': ")
