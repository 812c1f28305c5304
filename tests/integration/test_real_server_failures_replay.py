"""Issue 13: how real servers fail, replayed from recorded replies.

Recorded with ``scripts/real_server_check.py --record tests/fixtures`` from vLLM 0.32 (CPU)
serving SmolLM2-135M (hermes planner on one port, ``--reasoning-parser deepseek_r1`` on
another) and from llama-cpp-python's server on the same model's GGUF, at temperature 0.
Each file holds the request sent and the body answered (``response`` JSON or ``sse`` text).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from orchestrator.exceptions import ModelHTTPError, SchemaValidationError
from orchestrator.models._reply import TRUNCATED_CALL
from orchestrator.schema import EnforcementStats, aenforce, response_format_for
from orchestrator.schema.stats import EnforceOutcome
from tests.fake_openai_server import FakeOpenAIServer, load_fixture
from tests.integration.conftest import ModelFactory, RecordingSleep
from tests.integration.test_openai_compat_server import call

FIXTURES = Path(__file__).parent.parent / "fixtures"
VLLM = FIXTURES / "vllm"
LLAMACPP = FIXTURES / "llamacpp_server"
sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

from real_server_check import WRITE_NOTE, bicameral_schemas  # noqa: E402


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _prompt(request: dict[str, Any]) -> list[HumanMessage]:
    return [HumanMessage(m["content"]) for m in request["messages"]]


# --- 1. every schema Bicameral sends, as vLLM takes it --------------------------------------


def test_the_full_file_choice_schema_is_what_vllm_rejected() -> None:
    """The reason for the subset: HTTP 400, and an error event inside a 200 stream."""
    plain = load(VLLM / "failures" / "unique_items_rejected.json")
    assert plain["status"] == 400
    assert (
        plain["response"]["error"]["message"]
        == 'Grammar error: Unimplemented keys: ["uniqueItems"]'
    )
    stream = load(VLLM / "failures" / "unique_items_rejected_stream.json")
    assert stream["status"] == 200 and "Unimplemented keys" in stream["sse"]
    sent = plain["request"]["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["files"]["uniqueItems"] is True


def test_every_schema_bicameral_sends_was_recorded() -> None:
    recorded = {p.stem for p in (VLLM / "schemas").glob("*.json")}
    for name in bicameral_schemas():
        assert {name, f"{name}_stream"} <= recorded, name


@pytest.mark.parametrize("name", sorted(bicameral_schemas()))
@pytest.mark.parametrize("mode", ["ainvoke", "astream"])
async def test_the_client_sends_each_schema_as_vllm_accepted_it(
    server: FakeOpenAIServer, make_model: ModelFactory, name: str, mode: str
) -> None:
    """The client's request is byte-for-byte (in JSON terms) the one the real server took
    with HTTP 200; the full schema is still what validates the reply."""
    schema = bicameral_schemas()[name]
    fixture = VLLM / "schemas" / f"{name}{'_stream' if mode == 'astream' else ''}.json"
    recorded = load(fixture)
    assert recorded["status"] == 200
    server.enqueue(load_fixture(fixture))
    model = make_model(temperature=0.0, max_tokens=160, extra_body={"seed": 0})
    fmt = response_format_for(schema, name)
    message = await call(model.bind(response_format=fmt), mode, _prompt(recorded["request"]))
    assert server.chat_requests == [recorded["request"]]
    assert "uniqueItems" not in json.dumps(server.chat_requests[0]["response_format"])
    assert message.response_metadata["finish_reason"] in ("stop", "length")


async def test_the_coding_assistant_file_choice_passes_with_duplicates_refused(
    server: FakeOpenAIServer, make_model: ModelFactory
) -> None:
    """The grammar let a duplicate through; client-side validation of the full schema
    (uniqueItems) refuses it and re-asks."""
    fixture = VLLM / "schemas" / "choose_files.json"
    server.enqueue(load_fixture(fixture), load_fixture(fixture))
    model = make_model(temperature=0.0, max_tokens=160, extra_body={"seed": 0})
    schema = bicameral_schemas()["choose_files"]
    with pytest.raises(SchemaValidationError, match="non-unique"):
        await aenforce(model, _prompt(load(fixture)["request"]), schema, max_retries=1)
    assert len(server.chat_requests) == 2


# --- 2. cut off by max_tokens in the middle of a tool call ---------------------------------


@pytest.mark.parametrize("tokens", [20, 40])
@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_a_tool_call_cut_off_is_never_a_valid_call(
    server: FakeOpenAIServer, make_model: ModelFactory, tokens: int, mode: str
) -> None:
    """vLLM returned the cut hermes markup in content (JSON) or as native deltas (stream);
    both used to become a "valid" write_note with invented arguments."""
    stream = mode in ("stream", "astream")
    fixture = VLLM / "failures" / f"length_tool_call_{tokens}{'_stream' if stream else ''}.json"
    recorded = load(fixture)
    server.enqueue(load_fixture(fixture))
    model = make_model(temperature=0.0, max_tokens=tokens, extra_body={"seed": 0})
    bound = model.bind_tools([WRITE_NOTE], tool_choice="required", strict=False)
    message = await call(bound, mode, _prompt(recorded["request"]))
    assert server.chat_requests == [recorded["request"]]
    assert message.response_metadata["finish_reason"] == "length"
    assert message.tool_calls == []
    [bad] = message.invalid_tool_calls
    assert bad["name"] == "write_note"
    if not stream:
        assert bad["error"] == TRUNCATED_CALL


# --- 3. thinking that never closes ----------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_a_value_at_the_end_of_unclosed_reasoning_is_its_own_outcome(
    server: FakeOpenAIServer, make_model: ModelFactory, stream: bool
) -> None:
    fixture = VLLM / "failures" / f"r1_reasoning_json{'_stream' if stream else ''}.json"
    recorded = load(fixture)
    if not stream:
        message = recorded["response"]["choices"][0]["message"]
        assert message["content"] is None
        assert recorded["response"]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    server.enqueue(load_fixture(fixture))
    model: Any = make_model(temperature=0.0, max_tokens=48, extra_body={"seed": 0})
    if stream:
        model = model.bind(stream=True)  # langchain then streams and adds the chunks up
    stats = EnforcementStats()
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    result = await aenforce(
        model, _prompt(recorded["request"]), schema, stats=stats, schema_name="n", max_retries=0
    )
    assert result.value == {"answer": 84}
    assert result.outcome is EnforceOutcome.FROM_REASONING
    assert stats.count("smol", "n", EnforceOutcome.FROM_REASONING) == 1
    reply = result.messages[0]
    assert isinstance(reply, AIMessage)
    assert reply.response_metadata["usage_estimated"] == ["reasoning_tokens"]
    assert result.usage.reasoning_tokens > 0 and result.usage.estimated_calls == 1


# --- 7. llama.cpp's server -------------------------------------------------------------------


def test_what_llamacpp_server_did() -> None:
    rejected = load(LLAMACPP / "json_schema.json")
    assert rejected["status"] == 500
    assert "response_format" in rejected["response"]["error"]["message"]
    assert load(LLAMACPP / "json_schema_stream.json")["status"] == 500
    for name in ("stream_no_usage", "stream_include_usage"):
        assert '"usage"' not in load(LLAMACPP / f"{name}.json")["sse"]  # even when asked
    assert load(LLAMACPP / "json_object_schema.json")["status"] == 200


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_a_rejected_json_schema_falls_back_once_without_retries(
    server: FakeOpenAIServer, make_model: ModelFactory, waits: RecordingSleep, mode: str
) -> None:
    """The 500 is deterministic: not retried; the client falls back to json_object with the
    schema (what llama-cpp-python reads), records it, and keeps that form."""
    stream = mode in ("stream", "astream")
    answer = LLAMACPP / ("stream_include_usage.json" if stream else "json_object_schema.json")
    rejected = LLAMACPP / ("json_schema_stream.json" if stream else "json_schema.json")
    server.enqueue(load_fixture(rejected), load_fixture(answer), load_fixture(answer))
    model = make_model(max_retries=3)
    schema = load(LLAMACPP / "json_object_schema.json")["request"]["response_format"]["schema"]
    bound = model.bind(response_format=response_format_for(schema, "delegate_math"))
    first = await call(bound, mode)
    second = await call(bound, mode)
    assert waits.delays == []
    formats = [r["response_format"] for r in server.chat_requests]
    assert [f["type"] for f in formats] == ["json_schema", "json_object", "json_object"]
    assert formats[1]["schema"] == schema
    for message in (first, second):
        fallback = message.response_metadata["grammar_fallback"]
        assert fallback["backend"] == "llama_cpp"
        assert fallback["steps"][0]["from"] == "vllm"
    if stream:  # no usage in llama.cpp's streams: estimated, and labelled so
        assert first.response_metadata["usage_estimated"] == ["input_tokens", "output_tokens"]
        assert first.usage_metadata is not None and first.usage_metadata["output_tokens"] > 0
    else:
        assert "usage_estimated" not in first.response_metadata


async def test_an_unrelated_500_is_still_retried(
    server: FakeOpenAIServer, make_model: ModelFactory, waits: RecordingSleep
) -> None:
    from tests.fake_openai_server import ErrorReply

    server.enqueue(ErrorReply(500), ErrorReply(500))
    with pytest.raises(ModelHTTPError):
        await call(make_model(max_retries=1), "ainvoke")
    assert len(server.chat_requests) == 2 and len(waits.delays) == 1
