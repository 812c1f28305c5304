"""MCP servers as tools: real MCP servers (tests/mcp_servers/calc_server.py, the ``mcp``
package's FastMCP) over stdio and streamable HTTP, called by a planner on the loopback fake
vLLM server through a pipeline file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from orchestrator import RunStatus
from orchestrator.exceptions import ConfigError
from orchestrator.loader import load_pipeline
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

pytest.importorskip("mcp")

ROOT = Path(__file__).resolve().parents[2]
CALC = ROOT / "tests" / "mcp_servers" / "calc_server.py"
HTTP_PORT = 8871


def _write(tmp: Path, url: str, servers: str, extra: str = "") -> Path:
    path = tmp / "pipeline.yaml"
    path.write_text(
        "name: mcp-test\n"
        "models:\n"
        f"  planner: {{base_url: '{url}', model: fake, max_retries: 0}}\n"
        "tools: {builtin: [evaluate]}\n"
        "mcp_servers:\n" + textwrap.indent(textwrap.dedent(servers), "  ") + extra
    )
    return path


def _stdio(name: str = "calc", extra: str = "") -> str:
    return (
        f"{name}:\n  command: {sys.executable}\n  args: ['{CALC}']\n  prefix: calc_\n"
        f"  timeout_s: 20\n{textwrap.indent(extra, '  ')}"
    )


def _tool_messages(server: FakeOpenAIServer, request: int) -> list[dict[str, Any]]:
    return [m for m in server.chat_requests[request]["messages"] if m["role"] == "tool"]


@pytest.fixture
def planner() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def test_a_stdio_mcp_tool_runs_in_a_pipeline(planner: FakeOpenAIServer, tmp_path: Path) -> None:
    planner.enqueue(
        ChatReply(tool_calls=[ToolCallSpec("calc_add", {"a": 2, "b": 3}, id="c1")]),
        ChatReply("five"),
    )
    pipeline = load_pipeline(_write(tmp_path, planner.base_url, _stdio()), notice=None)
    tools = {t["function"]["name"] for t in planner_tools(pipeline)}
    assert {"calc_add", "calc_echo", "evaluate"} <= tools
    result = pipeline.run("What is 2 + 3?")
    assert result.status is RunStatus.COMPLETED and result.answer == "five"
    [message] = _tool_messages(planner, 1)
    assert json.loads(message["content"])["structured"] == {"result": 5}


def planner_tools(pipeline: Any) -> list[dict[str, Any]]:
    schemas: list[dict[str, Any]] = pipeline.context.planner.toolset.schemas()
    return schemas


def test_invalid_arguments_never_reach_the_mcp_tool(
    planner: FakeOpenAIServer, tmp_path: Path
) -> None:
    planner.enqueue(
        ChatReply(tool_calls=[ToolCallSpec("calc_add", {"a": "two", "b": 3}, id="c1")]),
        ChatReply(tool_calls=[ToolCallSpec("calc_fail", {"reason": "no"}, id="c2")]),
        ChatReply("gave up"),
    )
    pipeline = load_pipeline(_write(tmp_path, planner.base_url, _stdio()), notice=None)
    result = pipeline.run("add")
    assert result.status is RunStatus.COMPLETED
    [invalid] = _tool_messages(planner, 1)
    assert "invalid arguments for calc_add" in invalid["content"] and "$.a" in invalid["content"]
    failed = _tool_messages(planner, 2)[-1]
    assert "refused: no" in failed["content"]  # the server's tool error reaches the planner


def test_approval_gates_an_mcp_tool(planner: FakeOpenAIServer, tmp_path: Path) -> None:
    planner.enqueue(
        ChatReply(tool_calls=[ToolCallSpec("calc_echo", {"text": "hi"}, id="c1")]),
        ChatReply("echoed"),
    )
    path = _write(tmp_path, planner.base_url, _stdio(extra="require_approval: [echo]\n"))
    pipeline = load_pipeline(path, notice=None, checkpoint=f"sqlite:///{tmp_path}/ck.db")
    paused = pipeline.run("echo hi", thread_id="t1")
    assert paused.status is RunStatus.INTERRUPTED
    assert paused.pending_approval and paused.pending_approval["tool"] == "calc_echo"
    done = pipeline.resume("t1", approve=True)
    assert done.status is RunStatus.COMPLETED and done.answer == "echoed"
    assert _tool_messages(planner, 1)[0]["content"].startswith('{"text": "hi"')


def test_a_server_that_dies_mid_run_fails_the_run_with_its_stderr(
    planner: FakeOpenAIServer, tmp_path: Path
) -> None:
    planner.enqueue(ChatReply(tool_calls=[ToolCallSpec("calc_crash", {}, id="c1")]))
    path = _write(tmp_path, planner.base_url, _stdio())
    pipeline = load_pipeline(path, notice=None, checkpoint=f"sqlite:///{tmp_path}/ck.db")
    result = pipeline.run("crash", thread_id="t-crash")
    assert result.status is RunStatus.FAILED and result.error is not None
    assert result.error.type == "ToolServerError"
    assert "MCP server 'calc'" in result.error.message
    assert "crashing on purpose" in result.error.message
    # the checkpoint is intact: the run resumes from the step that failed
    planner.enqueue(ChatReply("recovered"))
    assert pipeline.resume("t-crash").status is RunStatus.FAILED  # crashes again, cleanly


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the MCP HTTP server exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"port {port} never opened")


@pytest.fixture
def http_server() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(CALC), "--http", str(HTTP_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(HTTP_PORT, proc)
        yield f"http://127.0.0.1:{HTTP_PORT}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_streamable_http_mcp_tool_runs_in_a_pipeline(
    planner: FakeOpenAIServer, http_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALC_TOKEN", "Bearer s3cret")
    servers = f"""
    calc:
      transport: streamable_http
      url: {http_server}
      headers_env: {{Authorization: CALC_TOKEN}}
      tools: [add]
    """
    planner.enqueue(
        ChatReply(tool_calls=[ToolCallSpec("add", {"a": 40, "b": 2}, id="c1")]),
        ChatReply("42"),
    )
    pipeline = load_pipeline(_write(tmp_path, planner.base_url, servers), notice=None)
    assert [t["function"]["name"] for t in planner_tools(pipeline)] == ["evaluate", "add"]
    assert pipeline.run("40 + 2?").answer == "42"
    assert '"result": 42' in _tool_messages(planner, 1)[0]["content"]


def test_a_clashing_tool_name_is_refused_at_load_unless_prefixed(
    planner: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALC_CLASH", "1")
    servers = f"calc:\n  command: {sys.executable}\n  args: ['{CALC}']\n"
    path = _write(tmp_path, planner.base_url, servers).read_text()
    path_file = tmp_path / "clash.yaml"
    path_file.write_text(path.replace("builtin: [evaluate]", "builtin: [read_file]"))
    with pytest.raises(ConfigError, match=r"mcp_servers.calc: tool 'read_file' clashes.*prefix"):
        load_pipeline(path_file, notice=None)
    prefixed = _write(tmp_path, planner.base_url, _stdio())
    assert load_pipeline(prefixed, notice=None) is not None


def test_a_server_that_never_initialises_times_out_and_leaves_no_process(
    planner: FakeOpenAIServer, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    script = tmp_path / "mute.py"
    script.write_text(
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    )
    servers = f"mute:\n  command: {sys.executable}\n  args: ['{script}']\n  timeout_s: 1\n"
    with pytest.raises(ConfigError, match=r"MCP server 'mute': did not answer initialize"):
        load_pipeline(_write(tmp_path, planner.base_url, servers), notice=None)
    assert not psutil.pid_exists(int(pidfile.read_text())) or _gone(int(pidfile.read_text()))


def _gone(pid: int) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(10)
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_refused_url_is_one_line_naming_the_server(
    planner: FakeOpenAIServer, tmp_path: Path
) -> None:
    servers = (
        "gone:\n  transport: streamable_http\n  url: http://127.0.0.1:8872/mcp\n  timeout_s: 5\n"
    )
    with pytest.raises(ConfigError, match=r"^MCP server 'gone': ") as info:
        load_pipeline(_write(tmp_path, planner.base_url, servers), notice=None)
    assert "\n" not in str(info.value)


def test_no_orphan_server_after_the_parent_is_sigkilled(tmp_path: Path) -> None:
    pidfile = tmp_path / "calc.pid"
    script = tmp_path / "hold.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, sys
            sys.path.insert(0, {str(ROOT)!r})
            from orchestrator.config._mcp_spec import McpServerSpec
            from orchestrator.integrations.mcp_client import McpServers
            spec = McpServerSpec(command={sys.executable!r}, args=({str(CALC)!r},))
            async def main():
                async with McpServers.from_specs({{"calc": spec}}).session():
                    print("READY", flush=True)
                    await asyncio.sleep(60)
            asyncio.run(main())
            """
        )
    )
    env = {**os.environ, "CALC_PIDFILE": str(pidfile)}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == b"READY"
        server_pid = int(pidfile.read_text())
        assert psutil.pid_exists(server_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _gone(server_pid), "the MCP server outlived its SIGKILLed parent"
    finally:
        parent.kill()


def test_mcp_tools_from_python_open_their_sessions_per_run(planner: FakeOpenAIServer) -> None:
    from orchestrator import OpenAICompatChatModel, Pipeline
    from orchestrator.integrations.mcp_client import mcp_tools

    tools = mcp_tools(
        {"calc": {"command": sys.executable, "args": [str(CALC)], "tools": ["add"], "prefix": "c_"}}
    )
    assert [t.name for t in tools] == ["c_add"]
    planner.enqueue(
        ChatReply(tool_calls=[ToolCallSpec("c_add", {"a": 1, "b": 1}, id="c1")]),
        ChatReply("2"),
    )
    model = OpenAICompatChatModel(base_urls=[planner.base_url], model="fake", max_retries=0)
    pipeline = Pipeline(planner=model, tools=tools)
    assert len(pipeline.resources) == 1  # found in the tools' metadata
    result = pipeline.run("1 + 1?")
    assert result.status is RunStatus.COMPLETED and result.answer == "2"
    assert '"result": 2' in _tool_messages(planner, 1)[0]["content"]
