"""The `bicameral` CLI: typer's runner for the commands, and a real subprocess against the
loopback fake vLLM server for `run --json`, exit codes and `resume`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from tests.fake_openai_server import ChatReply, ErrorReply, FakeOpenAIServer, ToolCallSpec

ROOT = Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "tests" / "fixtures" / "bad_pipelines").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
runner = CliRunner()
_WITH_SIGINT = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'bicameral'; runpy.run_module('orchestrator.cli', run_name='__main__')"
)


def _pipeline(tmp: Path, url: str, extra: str = "") -> Path:
    path = tmp / "pipeline.yaml"
    path.write_text(
        "name: cli-test\n"
        "models:\n"
        f"  planner: {{base_url: '{url}', model: fake, max_retries: 0}}\n"
        f"  reasoner: {{base_url: '{url}', model: fake-r1, max_retries: 0}}\n"
        "tools: {builtin: [evaluate, check_equal]}\n" + extra
    )
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_examples_are_all_found() -> None:
    names = {p.relative_to(ROOT / "examples").as_posix() for p in EXAMPLES}
    assert {"calculator.yaml", "math_solver.yaml", "eval/planner_only.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_and_render(path: Path) -> None:
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    graph = runner.invoke(app, ["graph", str(path)])
    assert graph.exit_code == 0 and "graph TD" in graph.stdout and "__start__" in graph.stdout


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_pipelines_exit_2_with_one_located_line(path: Path) -> None:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"error: {path}") for line in lines), lines
    lines[0] = lines[0].removeprefix("error: ")
    assert "Traceback" not in result.output
    expect = path.read_text().splitlines()[0].removeprefix("# expect: ").split(":")[:2]
    assert lines[0].split(":")[1:3] == expect or "--set" in lines[0]


def test_schema_command_prints_the_pipeline_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    assert result.exit_code == 0 and "models" in schema["properties"]


def test_serve_dry_run_prints_vllm_commands(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "http://127.0.0.1:8000/v1")
    path.write_text(
        path.read_text().replace(
            "http://127.0.0.1:8000/v1', model: fake-r1", "http://127.0.0.1:8001/v1', model: fake-r1"
        )
    )
    result = runner.invoke(app, ["serve", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    planner, reasoner = result.stdout.strip().splitlines()
    assert "--enable-auto-tool-choice" in planner and "llama4_pythonic" in planner
    assert "--reasoning-parser deepseek_r1" in reasoner


def test_bad_set_is_a_usage_error(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "http://127.0.0.1:9/v1")
    result = runner.invoke(app, ["run", str(path), "--task", "x", "--set", "limits.max_stepz=3"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "max_steps" in result.stderr


def test_run_json_completes_through_a_real_subprocess(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.enqueue(
            ChatReply(tool_calls=[ToolCallSpec("evaluate", {"expression": "6*7"}, id="e1")]),
            ChatReply("The answer is 42."),
        )
        path = _pipeline(tmp_path, server.base_url)
        proc = _cli("run", str(path), "--task", "What is 6*7?", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert result["status"] == "completed" and result["answer"] == "The answer is 42."
    assert result["tool_results"][0]["result"] == "42"
    assert (tmp_path / ".bicameral" / "checkpoints.sqlite").exists()


def test_failed_run_exits_1_and_resume_completes(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.enqueue(ErrorReply(500))
        path = _pipeline(tmp_path, server.base_url)
        failed = _cli("run", str(path), "--task", "hi", "--json", "--thread", "t1", cwd=tmp_path)
        assert failed.returncode == 1, failed.stderr
        body = json.loads(failed.stdout)
        assert body["status"] == "failed" and body["error"]["type"] == "ModelHTTPError"
        server.enqueue(ChatReply("hello"))
        resumed = _cli("resume", "t1", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["answer"] == "hello"


def test_budget_exhausted_exits_1(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.enqueue(
            *[
                ChatReply(
                    tool_calls=[ToolCallSpec("evaluate", {"expression": f"{i}+1"}, id=f"c{i}")]
                )
                for i in range(3)
            ]
        )
        path = _pipeline(tmp_path, server.base_url, "limits: {max_steps: 2}\n")
        proc = _cli("run", str(path), "--task", "loop", "--json", cwd=tmp_path)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["status"] == "budget_exhausted"


def test_unreachable_server_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, "http://127.0.0.1:9/v1")
    proc = _cli("run", str(path), "--task", "hi", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "127.0.0.1:9" in proc.stdout


def test_approval_pauses_and_resume_approve_or_deny(tmp_path: Path) -> None:
    work = tmp_path / "ws"
    work.mkdir()
    gate = "tools: {builtin: [write_file], require_approval: [write_file]}\n"
    with FakeOpenAIServer() as server:
        path = _pipeline(tmp_path, server.base_url)
        path.write_text(
            path.read_text().replace("tools: {builtin: [evaluate, check_equal]}\n", gate)
        )
        write = ToolCallSpec("write_file", {"path": "a.txt", "content": "hi"}, id="w1")
        server.enqueue(ChatReply(tool_calls=[write]))
        paused = _cli(
            "run",
            str(path),
            "--task",
            "write",
            "--json",
            "--thread",
            "ap",
            "--workspace",
            str(work),
            cwd=tmp_path,
        )
        assert paused.returncode == 0, paused.stderr
        body = json.loads(paused.stdout)
        assert body["status"] == "interrupted"
        assert body["pending_approval"]["tool"] == "write_file"
        assert "bicameral resume ap --approve" in paused.stderr
        assert not (work / "a.txt").exists()
        server.enqueue(ChatReply("written"))
        done = _cli("resume", "ap", "--approve", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "completed"
        assert (work / "a.txt").read_text() == "hi"

        server.enqueue(ChatReply(tool_calls=[write]), ChatReply("not written"))
        paused2 = _cli(
            "run",
            str(path),
            "--task",
            "write",
            "--json",
            "--thread",
            "dn",
            "--workspace",
            str(work),
            cwd=tmp_path,
        )
        assert json.loads(paused2.stdout)["status"] == "interrupted", paused2.stderr
        denied = _cli("resume", "dn", "--deny", "--json", cwd=tmp_path)
    assert denied.returncode == 0, denied.stderr
    assert json.loads(denied.stdout)["answer"] == "not written"
    last = server.chat_requests[-1]["messages"][-1]
    assert last["role"] == "tool" and "denied" in last["content"]


def test_ctrl_c_exits_130_keeps_the_checkpoint_and_prints_resume(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency_ms=60_000) as server:
        server.enqueue(ChatReply("too late"))
        path = _pipeline(tmp_path, server.base_url)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            # CI may start us with SIGINT ignored (a background job inherits SIG_IGN, and
            # Python then never raises KeyboardInterrupt): give the child a terminal's handler.
            [
                sys.executable,
                "-c",
                _WITH_SIGINT,
                "run",
                str(path),
                "--task",
                "hi",
                "--thread",
                "cc",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not server.chat_requests:  # wait until the run is inside its first model call
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "bicameral resume cc" in err and "Traceback" not in err
    assert (tmp_path / ".bicameral" / "checkpoints.sqlite").exists()
