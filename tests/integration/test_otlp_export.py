"""Traces over OTLP/HTTP to a real receiver on loopback (started by the test), decoded with
opentelemetry-proto; and a collector that is down costs one warning line, not the run."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from orchestrator import RunStatus
from orchestrator.loader import load_pipeline
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

ROOT = Path(__file__).resolve().parents[2]
RECEIVER_PORT = 8821
DEAD_PORT = 8822  # nothing listens here


class Receiver:
    """A minimal OTLP/HTTP traces endpoint: stores each decoded export request."""

    def __init__(self, port: int) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                outer.requests.append(message)
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                outer.got.set()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(name, attributes, resource attributes) of every span received."""
        out = []
        for req in self.requests:
            for rs in req.resource_spans:
                resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        attrs = {a.key: _value(a.value) for a in span.attributes}
                        out.append((span.name, attrs, resource))
        return out

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(RECEIVER_PORT) as r:
        yield r


def _pipeline_file(tmp: Path, url: str, extra: str = "") -> Path:
    path = tmp / "p.yaml"
    path.write_text(
        "name: traced\nmodels:\n"
        f"  planner: {{base_url: '{url}', model: scout, max_retries: 0}}\n"
        "tools: {builtin: [evaluate]}\n" + extra
    )
    return path


def test_yaml_telemetry_exports_a_trace_with_headers_from_env(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTLP_TEST_AUTH", "Bearer test-otlp-token")
    with FakeOpenAIServer() as server:
        section = (
            "telemetry:\n"
            f"  endpoint: http://127.0.0.1:{RECEIVER_PORT}\n"
            "  headers_env: {Authorization: OTLP_TEST_AUTH}\n"
            "  service_name: bicameral-test\n"
        )
        pipeline = load_pipeline(_pipeline_file(tmp_path, server.base_url, section), notice=None)
        server.enqueue(
            ChatReply(tool_calls=[ToolCallSpec("evaluate", {"expression": "6*7"}, id="e1")]),
            ChatReply("42"),
        )
        result = pipeline.run("6*7?", thread_id="otlp-1")
    assert result.status is RunStatus.COMPLETED
    assert pipeline.tracing is not None
    pipeline.tracing.flush()
    spans = receiver.spans()
    names = [name for name, _, _ in spans]
    assert "invoke_workflow traced" in names
    assert "execute_tool evaluate" in names
    assert names.count("chat scout") == 2
    chat = next(attrs for name, attrs, _ in spans if name == "chat scout")
    assert chat["gen_ai.provider.name"] == "vllm"
    assert chat["gen_ai.request.model"] == "scout"
    assert chat["gen_ai.conversation.id"] == "otlp-1"
    assert chat["gen_ai.usage.input_tokens"] > 0
    assert all(res["service.name"] == "bicameral-test" for _, _, res in spans)
    assert receiver.headers[0].get("authorization") == "Bearer test-otlp-token"


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_cli_exports_with_the_standard_environment_variable(
    tmp_path: Path, receiver: Receiver
) -> None:
    with FakeOpenAIServer(default_reply=ChatReply("hello")) as server:
        path = _pipeline_file(tmp_path, server.base_url)
        done = _cli(
            "run",
            str(path),
            "-t",
            "hi",
            "-q",
            cwd=tmp_path,
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{RECEIVER_PORT}"},
        )
    assert done.returncode == 0, done.stderr
    names = [name for name, _, _ in receiver.spans()]
    assert names.count("invoke_workflow traced") == 1 and "node plan" in names


def test_collector_down_costs_one_warning_line(tmp_path: Path) -> None:
    with FakeOpenAIServer(default_reply=ChatReply("hello")) as server:
        path = _pipeline_file(tmp_path, server.base_url)
        done = _cli(
            "run",
            str(path),
            "-t",
            "hi",
            "-q",
            "--otlp-endpoint",
            f"http://127.0.0.1:{DEAD_PORT}",
            cwd=tmp_path,
            env={},
        )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: could not export traces"), lines
