"""vLLM command lines per role, and the launcher's health wait (fake clock, no sleeps)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from orchestrator.cli.serve import (
    RunningServer,
    ServeCommand,
    build_serve_command,
    launch,
    probe_models,
    serve_commands,
)
from orchestrator.config.loading import load_spec, parse_spec
from orchestrator.exceptions import ConfigError, ModelConnectionError

GOOD = Path(__file__).parents[1] / "fixtures" / "good_pipelines"
TWO = (
    "models:\n"
    "  planner: {base_url: http://127.0.0.1:8000/v1, model: scout}\n"
    "  reasoner: {base_url: http://127.0.0.1:8001/v1, model: r1}\n"
)


def test_minimal_pipeline_commands() -> None:
    planner, reasoner = serve_commands(load_spec(GOOD / "minimal.yaml", env={}))
    assert planner.argv == (
        "vllm", "serve", "scout", "--host", "127.0.0.1", "--port", "8000",
        "--tensor-parallel-size", "1",
        "--enable-auto-tool-choice", "--tool-call-parser", "llama4_pythonic",
    )  # fmt: skip
    assert reasoner.argv == (
        "vllm", "serve", "r1", "--host", "127.0.0.1", "--port", "8001",
        "--tensor-parallel-size", "1", "--reasoning-parser", "deepseek_r1",
    )  # fmt: skip
    assert planner.base_url == "http://127.0.0.1:8000/v1"
    assert reasoner.models_url == "http://127.0.0.1:8001/v1/models"


def test_full_serve_settings() -> None:
    spec = load_spec(GOOD / "standard_full.yaml", env={})
    planner, reasoner = serve_commands(spec, ["planner", "reasoner"], executable="/opt/vllm")
    assert planner.argv == (
        "/opt/vllm", "serve", "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "--host", "127.0.0.1", "--port", "8000", "--tensor-parallel-size", "1",
        "--max-model-len", "65536", "--gpu-memory-utilization", "0.9", "--quantization", "fp8",
        "--enable-auto-tool-choice", "--tool-call-parser", "llama4_pythonic",
        "--chat-template", str(GOOD / "templates" / "llama4_pythonic.jinja"),
        "--enable-prefix-caching",
    )  # fmt: skip
    assert planner.env == {"CUDA_VISIBLE_DEVICES": "0"}
    assert planner.shell().startswith('CUDA_VISIBLE_DEVICES=0 VLLM_API_KEY="$PLANNER_API_KEY" ')
    assert reasoner.argv == (
        "/opt/vllm", "serve", "/models/deepseek-r2", "--host", "127.0.0.1", "--port", "8001",
        "--served-model-name", "deepseek-r2", "--tensor-parallel-size", "8",
        "--max-model-len", "131072", "--reasoning-parser", "deepseek_r1",
    )  # fmt: skip


def test_port_host_and_parser_choices() -> None:
    spec = parse_spec(
        "models:\n"
        "  planner:\n"
        "    base_url: http://gpu-box:9100/v1\n"
        "    model: qwen\n"
        "    serve: {host: 0.0.0.0, tool_call_parser: hermes, chat_template: '{{ messages }}'}\n"
        "  helper:\n"
        "    base_url: https://helper.example/v1\n"
        "    model: small\n"
        "    serve: {host: '::1', reasoning_parser: qwen3}\n",
        env={},
    )
    planner, helper = serve_commands(spec)
    assert planner.argv[3:7] == ("--host", "0.0.0.0", "--port", "9100")
    assert planner.base_url == "http://127.0.0.1:9100/v1"  # polled locally
    assert "hermes" in planner.argv and "{{ messages }}" in planner.argv
    assert helper.base_url == "http://[::1]:8000/v1"
    assert "--tool-call-parser" not in helper.argv
    assert helper.argv[-2:] == ("--reasoning-parser", "qwen3")


def test_local_models_are_skipped_or_refused() -> None:
    spec = parse_spec(TWO + "  critic: {n_ctx: 1024}\n", env={})
    assert [c.role for c in serve_commands(spec)] == ["planner", "reasoner"]
    with pytest.raises(ConfigError, match=r"models.critic runs on the embedded model"):
        serve_commands(spec, ["critic"])
    with pytest.raises(ConfigError, match=r"no model named 'planer'.*did you mean 'planner'"):
        serve_commands(spec, ["planer"])


def test_two_servers_on_one_port_are_refused() -> None:
    spec = parse_spec(TWO.replace("8001", "8000"), env={})
    with pytest.raises(ConfigError, match=r"both listen on 127.0.0.1:8000; set serve.port"):
        serve_commands(spec)


class FakeProcess:
    def __init__(self, exit_after: int | None = None) -> None:
        self.polls = 0
        self.exit_after = exit_after
        self.terminated = False
        self.killed = False

    def poll(self) -> int | None:
        self.polls += 1
        if self.terminated:
            return -15
        if self.exit_after is not None and self.polls > self.exit_after:
            return 1
        return None

    def terminate(self) -> None:
        self.terminated = True

    def kill(self) -> None:
        self.killed = True

    def wait(self, timeout: float | None = None) -> int:
        return -15


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _commands() -> list[ServeCommand]:
    return serve_commands(parse_spec(TWO, env={}))


def test_launch_waits_until_every_server_is_healthy() -> None:
    time, started, envs = FakeTime(), [], []
    ready_at = {"planner": 3, "reasoner": 5}
    probes: dict[str, int] = {"planner": 0, "reasoner": 0}

    def popen(cmd: ServeCommand, env: dict[str, str]) -> FakeProcess:
        started.append(cmd.role)
        envs.append(env)
        return FakeProcess()

    def probe(cmd: ServeCommand) -> bool:
        probes[cmd.role] += 1
        return probes[cmd.role] >= ready_at[cmd.role]

    servers = launch(
        _commands(),
        env={"PATH": "/bin"},
        popen=popen,
        probe=probe,
        clock=time.clock,
        sleep=time.sleep,
        poll_interval_s=2,
    )
    assert started == ["planner", "reasoner"]
    assert [s.command.role for s in servers] == ["planner", "reasoner"]
    assert time.sleeps == [2, 2, 2, 2]
    assert probes == {"planner": 3, "reasoner": 5}  # a healthy server is not probed again
    assert envs[0] == {"PATH": "/bin"}


def test_launch_passes_the_api_key_through_the_environment() -> None:
    spec = parse_spec(TWO.replace("model: r1}", "model: r1, api_key_env: R_KEY}"), env={})
    envs: list[dict[str, str]] = []

    def popen(cmd: ServeCommand, env: dict[str, str]) -> FakeProcess:
        envs.append(env)
        return FakeProcess()

    launch(serve_commands(spec, ["reasoner"]), env={"R_KEY": "s3cret"}, popen=popen,
           probe=lambda c: True)  # fmt: skip
    assert envs == [{"R_KEY": "s3cret", "VLLM_API_KEY": "s3cret"}]
    assert "s3cret" not in serve_commands(spec, ["reasoner"])[0].shell()


def test_launch_times_out_and_stops_what_it_started() -> None:
    time, processes = FakeTime(), []

    def popen(cmd: ServeCommand, env: dict[str, str]) -> FakeProcess:
        processes.append(FakeProcess())
        return processes[-1]

    with pytest.raises(
        ModelConnectionError, match="vLLM for planner, reasoner not healthy after 10s"
    ):
        launch(_commands(), timeout_s=10, poll_interval_s=3, popen=popen,
               probe=lambda c: False, clock=time.clock, sleep=time.sleep)  # fmt: skip
    assert time.now == 12
    assert all(p.terminated for p in processes)


def test_launch_reports_a_server_that_exits() -> None:
    time = FakeTime()
    procs = iter([FakeProcess(), FakeProcess(exit_after=2)])
    with pytest.raises(
        ModelConnectionError, match="vLLM for reasoner exited with code 1"
    ) as caught:
        launch(_commands(), popen=lambda c, e: next(procs), probe=lambda c: False,
               clock=time.clock, sleep=time.sleep)  # fmt: skip
    assert caught.value.url == "http://127.0.0.1:8001/v1"


def test_missing_executable_is_a_config_error() -> None:
    cmds = serve_commands(parse_spec(TWO, env={}), executable="/nonexistent/vllm-binary")
    with pytest.raises(ConfigError, match="'/nonexistent/vllm-binary' not found; install vLLM"):
        launch(cmds, probe=lambda c: True)


def test_stop_kills_a_process_that_ignores_terminate() -> None:
    class Stubborn(FakeProcess):
        def wait(self, timeout: float | None = None) -> int:
            if not self.killed:
                raise subprocess.TimeoutExpired("vllm", timeout or 0)
            return -9

        def poll(self) -> int | None:
            return None

    proc = Stubborn()
    RunningServer(_commands()[0], proc).stop(timeout_s=0.01)
    assert proc.terminated and proc.killed


class _Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/v1/models" and self.headers.get("Authorization") != "Bearer bad"
        body = b'{"object": "list", "data": [{"id": "scout"}]}' if ok else b"{}"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def models_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Models)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_probe_models_over_loopback(models_server: str) -> None:
    assert probe_models(f"{models_server}/v1/models")
    assert not probe_models(f"{models_server}/v1/models", api_key="bad")
    assert not probe_models(f"{models_server}/v2/nothing")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    assert not probe_models(f"http://127.0.0.1:{closed_port}/v1/models", timeout_s=0.5)


_FAKE_VLLM = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "fake"}]}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_launch_a_real_process() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = ServeCommand(
        role="planner",
        argv=(sys.executable, "-c", _FAKE_VLLM, str(port)),
        base_url=f"http://127.0.0.1:{port}/v1",
    )
    (server,) = launch([cmd], timeout_s=20, poll_interval_s=0.05)
    try:
        assert server.process.poll() is None
        assert probe_models(cmd.models_url)
    finally:
        server.stop(timeout_s=5)
    assert server.process.poll() is not None


def test_build_serve_command_refuses_local() -> None:
    spec = parse_spec("models:\n  planner: {}\n", env={})
    with pytest.raises(ConfigError, match=r"runs on the embedded model.*--planner-model NAME"):
        build_serve_command("planner", spec.models["planner"])


_REASONER_SERVE = (
    "models:\n"
    "  planner: {{base_url: http://127.0.0.1:8000/v1, model: scout}}\n"
    "  reasoner:\n"
    "    base_url: http://127.0.0.1:8001/v1\n"
    "    model: r1\n"
    "    serve: {{{}}}\n"
)


def test_planned_settings_become_flags() -> None:
    spec = parse_spec(
        _REASONER_SERVE.format("tensor_parallel_size: 8, max_num_seqs: 20, kv_cache_dtype: fp8")
    )
    (cmd,) = serve_commands(spec, ["reasoner"])
    assert cmd.argv[7:] == (
        "--tensor-parallel-size", "8", "--max-num-seqs", "20", "--kv-cache-dtype", "fp8",
        "--reasoning-parser", "deepseek_r1",
    )  # fmt: skip


def test_kv_cache_dtype_is_checked() -> None:
    with pytest.raises(ConfigError, match="kv_cache_dtype"):
        parse_spec(_REASONER_SERVE.format("kv_cache_dtype: int3"))


def test_multi_node_flags_for_a_model_larger_than_one_machine(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(
        "models:\n  planner: {base_url: http://10.0.0.2:8000/v1, model: p}\n"
        "  reasoner:\n    base_url: http://10.0.0.1:8001/v1\n    model: big\n"
        "    serve: {tensor_parallel_size: 8, pipeline_parallel_size: 2,"
        " distributed_executor_backend: ray, host: 0.0.0.0}\n"
    )
    (cmd,) = serve_commands(load_spec(path, env={}), ["reasoner"], executable="vllm")
    assert cmd.argv[cmd.argv.index("--tensor-parallel-size") :][:6] == (
        "--tensor-parallel-size", "8", "--pipeline-parallel-size", "2",
        "--distributed-executor-backend", "ray",
    )  # fmt: skip
