"""LocalChatModel on the real embedded model (SmolLM2-135M through llama.cpp), nothing mocked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from orchestrator.exceptions import ConfigError, ModelError, SchemaDefinitionError
from orchestrator.models.local import LocalChatModel, default_model_path
from orchestrator.schema import EnforcementStats, coerce, enforce, response_format_for

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 32},
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "minimum": 1, "maximum": 9},
                    "text": {"type": "string", "minLength": 1, "maxLength": 32},
                },
                "required": ["n", "text"],
                "additionalProperties": False,
            },
        },
        "done": {"type": "boolean"},
    },
    "required": ["title", "steps", "done"],
    "additionalProperties": False,
}
PLAN_MESSAGES = [
    SystemMessage("You answer with JSON only."),
    HumanMessage("Plan how to make tea in at most three short numbered steps."),
]
READ_FILE: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a text file from the workspace.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "minLength": 1, "maxLength": 40}},
            "required": ["path"],
            "additionalProperties": False,
        },
    },
}
READ_FILE_PARAMS = READ_FILE["function"]["parameters"]
ACTION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "properties": {"action": {"const": "read_file"}, "arguments": READ_FILE_PARAMS},
            "required": ["action", "arguments"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "action": {"const": "final"},
                "result": {"type": "string", "maxLength": 80},
            },
            "required": ["action", "result"],
            "additionalProperties": False,
        },
    ]
}
ACTION_MESSAGES = [
    SystemMessage(
        "You can use one tool: read_file(path) reads a file. Answer with one JSON object: "
        '{"action": "read_file", "arguments": {"path": "..."}} to call it, or '
        '{"action": "final", "result": "..."} when you know the answer.'
    ),
    HumanMessage("What does the file README.md say? Read it first."),
]


def test_chat_reply_is_not_empty(local_model: LocalChatModel) -> None:
    reply = local_model.invoke("Say hello in one short sentence.")

    assert isinstance(reply.content, str) and reply.content.strip()
    usage = reply.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    meta = reply.response_metadata
    assert meta["finish_reason"] in ("stop", "length")
    assert meta["latency_s"] > 0
    assert meta["model_name"] == "SmolLM2-135M-Instruct.Q4_1"


def test_structured_output_valid_in_ten_of_ten_runs() -> None:
    stats = EnforcementStats()
    validator = Draft202012Validator(PLAN_SCHEMA)
    for run in range(10):
        # Different seeds and temperatures; every model shares the one loaded file.
        model = LocalChatModel(seed=run, temperature=(0.2, 0.5, 0.8)[run % 3], max_tokens=200)
        result = enforce(
            model, PLAN_MESSAGES, PLAN_SCHEMA, max_retries=3, stats=stats, schema_name="plan"
        )

        validator.validate(result.value)
        assert result.messages[0].response_metadata["grammar"] == "json_schema"

    (counts,) = stats.as_dict().values()
    assert counts["failed"] == 0
    assert sum(counts.values()) == 10


def test_action_mode_tool_call_is_parsed_and_validated(local_model: LocalChatModel) -> None:
    response_format = response_format_for(ACTION_SCHEMA, "action")
    actions = []
    for seed in (1, 2, 3):
        reply = local_model.invoke(
            ACTION_MESSAGES, response_format=response_format, seed=seed, max_tokens=64
        )
        assert isinstance(reply.content, str)
        action = coerce(reply.content, ACTION_SCHEMA, strict=True)
        actions.append(action)
        if action["action"] == "read_file":
            Draft202012Validator(READ_FILE_PARAMS).validate(action["arguments"])

    assert any(a["action"] == "read_file" for a in actions), actions


def test_named_tool_choice_gives_a_valid_native_tool_call(local_model: LocalChatModel) -> None:
    bound = local_model.bind_tools([READ_FILE], tool_choice="read_file")

    reply = bound.invoke("Show me README.md.", max_tokens=48)

    assert reply.content == ""
    (call,) = reply.tool_calls
    assert call["name"] == "read_file" and call["id"]
    Draft202012Validator(READ_FILE_PARAMS).validate(call["args"])

    chunks = list(bound.stream("Show me README.md.", max_tokens=48))
    streamed = sum(chunks[1:], chunks[0])
    assert isinstance(streamed, AIMessageChunk)
    (call,) = streamed.tool_calls
    Draft202012Validator(READ_FILE_PARAMS).validate(call["args"])


def test_schema_llama_cpp_cannot_convert_falls_back_loudly_or_raises_when_strict(
    local_model: LocalChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    schema = {"type": "object", "properties": {"a": True}}  # a boolean sub-schema
    rf = {"type": "json_schema", "json_schema": {"name": "odd", "schema": schema}}

    with caplog.at_level(logging.WARNING, logger="orchestrator.models.local"):
        reply = local_model.invoke("Give a JSON object.", response_format=rf, max_tokens=24)

    assert reply.response_metadata["grammar"] == "json"
    assert "cannot turn this JSON Schema into a grammar" in caplog.text
    strict = local_model.model_copy(update={"strict_grammar": True})
    with pytest.raises(SchemaDefinitionError, match="into a grammar"):
        strict.invoke("Give a JSON object.", response_format=rf)


def test_prompt_longer_than_the_context_is_a_model_error() -> None:
    small = LocalChatModel(n_ctx=256, max_tokens=8)
    with pytest.raises(ModelError, match=r"exceed context window .*n_ctx=256"):
        small.invoke("word " * 400)


def test_stream_yields_tokens(local_model: LocalChatModel) -> None:
    chunks = list(local_model.stream("Count from one to five in words."))

    tokens = [c.content for c in chunks if c.content]
    assert len(tokens) >= 2
    assert "".join(str(t) for t in tokens).strip()
    last = chunks[-1]
    assert last.usage_metadata is not None and last.usage_metadata["output_tokens"] == len(tokens)
    assert last.response_metadata["finish_reason"] in ("stop", "length")


async def test_astream_yields_tokens(local_model: LocalChatModel) -> None:
    tokens = [c.content async for c in local_model.astream("Name three colours.") if c.content]

    assert len(tokens) >= 2
    assert "".join(str(t) for t in tokens).strip()


def test_leaving_a_stream_early_frees_the_model(local_model: LocalChatModel) -> None:
    stream = local_model.stream("Count from one to fifty in words.", max_tokens=200)
    first = next(c for c in stream if c.content)
    assert isinstance(stream, Generator)
    stream.close()

    assert first.content
    reply = local_model.invoke("Say hi.", max_tokens=8)
    assert isinstance(reply.content, str) and reply.content.strip()


async def test_leaving_an_async_stream_early_stops_generation(
    local_model: LocalChatModel,
) -> None:
    stream = local_model.astream("Count from one to fifty in words.", max_tokens=200)
    async for chunk in stream:
        if chunk.content:
            break
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()

    reply = await local_model.ainvoke("Say hi.", max_tokens=8)
    assert isinstance(reply.content, str) and reply.content.strip()


async def test_ainvoke_leaves_the_event_loop_free(local_model: LocalChatModel) -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    reply = await local_model.ainvoke("Name three colours.", max_tokens=16)
    done.set()
    await task

    assert isinstance(reply.content, str) and reply.content.strip()
    # Had generation run on the loop, the ticker could not have run while it did.
    assert ticks > 10


def test_two_roles_share_one_loaded_model(local_model: LocalChatModel) -> None:
    planner = LocalChatModel(temperature=0.2, max_tokens=16)
    reasoner = LocalChatModel(temperature=0.7, max_tokens=16, seed=5)

    assert planner.llama is reasoner.llama
    assert planner.llama is local_model.llama
    assert LocalChatModel(n_ctx=1024).llama is not planner.llama

    # Calls from two threads at once take turns on the shared context; both complete.
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda m: m.invoke("Say hi."), [planner, reasoner]))
    assert all(isinstance(r.content, str) and r.content.strip() for r in replies)


async def test_two_roles_generate_concurrently_from_async_code() -> None:
    planner = LocalChatModel(max_tokens=12, seed=1)
    reasoner = LocalChatModel(max_tokens=12, seed=2)

    replies = await asyncio.gather(planner.ainvoke("Say hi."), reasoner.ainvoke("Say bye."))

    assert all(isinstance(r.content, str) and r.content.strip() for r in replies)


def test_missing_gguf_gives_a_clear_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.gguf"

    with pytest.raises(ConfigError, match="local model file not found") as info:
        LocalChatModel(model_path=str(missing))
    assert str(missing) in str(info.value) and "\n" not in str(info.value)

    monkeypatch.setenv("BICAMERAL_LOCAL_MODEL", str(missing))
    with pytest.raises(ConfigError, match="BICAMERAL_LOCAL_MODEL"):
        LocalChatModel()


@pytest.mark.parametrize("kind", ["not_gguf", "garbage_after_magic", "truncated"])
def test_corrupt_gguf_gives_a_clear_config_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.gguf"
    if kind == "not_gguf":
        path.write_bytes(b"<html>not a model</html>")
    elif kind == "garbage_after_magic":
        path.write_bytes(b"GGUF" + bytes(range(256)) * 16)
    else:
        with default_model_path().open("rb") as real:
            path.write_bytes(real.read(256 * 1024))

    with pytest.raises(ConfigError) as info:
        LocalChatModel(model_path=str(path)).load()

    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "GGUF" in message
