"""Stream decoding: SSE framing, deltas -> chunks, tool-call assembly, think splitting."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

from orchestrator.exceptions import ModelResponseError
from orchestrator.models._reply import ReplyContext
from orchestrator.models._sse import StreamDecoder, _ThinkSplitter
from orchestrator.schema import split_reasoning

TOOLS = ReplyContext(tool_names=frozenset({"get_weather"}), recover_calls=True)


def event(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-9", "model": "smol", "choices": choices, **extra}
    return f"data: {json.dumps(body)}"


PLAIN = ReplyContext()


def run(lines: list[str], ctx: ReplyContext = PLAIN) -> AIMessageChunk:
    decoder = StreamDecoder(ctx, url="http://h/v1", started=0.0, clock=lambda: 1.25)
    chunks = []
    for line in lines:
        chunks.extend(decoder.feed_line(line))
    chunks.extend(decoder.finish())
    message = chunks[0].message
    for chunk in chunks[1:]:
        message = message + chunk.message
    assert isinstance(message, AIMessageChunk)
    last = chunks[-1].message
    assert isinstance(last, AIMessageChunk) and last.chunk_position == "last"
    return message


def sse(*events: str, done: bool = True) -> list[str]:
    lines: list[str] = []
    for e in events:
        lines += [e, ""]
    if done:
        lines += ["data: [DONE]", ""]
    return lines


def test_content_deltas_usage_chunk_and_metadata() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    message = run(
        sse(
            event({"role": "assistant", "content": ""}),
            event({"content": "Hel"}),
            event({"content": "lo"}),
            event({"content": ""}, "stop"),
            event(None, usage=usage),
        )
    )
    assert message.content == "Hello"
    assert message.id == "chatcmpl-9"
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert message.response_metadata == {
        "model_name": "smol",
        "finish_reason": "stop",
        "latency_s": 1.25,
        "base_url": "http://h/v1",
    }


def test_comments_multiline_data_and_missing_space_are_valid_sse() -> None:
    body = {"choices": [{"index": 0, "delta": {"content": "a\nb"}}]}
    first, *rest = json.dumps(body, indent=1).splitlines()
    lines = [": keep-alive", "", f"data:{first}", *(f"data: {r}" for r in rest), ""]
    lines += ["event: ping", "id: 3", "retry: 10", ""]
    assert run(lines + sse(event({}, "stop"))).content == "a\nb"


def test_streamed_tool_call_deltas_assemble() -> None:
    head = {"id": "call_1", "type": "function", "index": 0}
    message = run(
        sse(
            event({"tool_calls": [{**head, "function": {"name": "get_weather", "arguments": ""}}]}),
            event({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            event({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
            event(
                {"tool_calls": [{"id": "call_2", "index": 1, "function": {"name": "get_weather"}}]}
            ),
            event({"tool_calls": [{"index": 1, "function": {"arguments": '{"city": "Rome"}'}}]}),
            event({}, "stop"),
        ),
        TOOLS,
    )
    assert [(c["name"], c["args"], c["id"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "call_1"),
        ("get_weather", {"city": "Rome"}, "call_2"),
    ]


def test_a_name_and_id_repeated_in_every_chunk_are_kept_once() -> None:
    def piece(args: str) -> str:
        fn = {"name": "get_weather", "arguments": args}
        return event({"tool_calls": [{"id": "c1", "type": "function", "index": 0, "function": fn}]})

    message = run(sse(piece('{"ci'), piece('ty": "Pa'), piece('ris"}'), event({}, "tool_calls")))
    assert message.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}
    ]


def test_a_name_sent_in_pieces_is_joined_and_index_defaults_to_position() -> None:
    message = run(
        sse(
            event({"tool_calls": [{"id": "c1", "function": {"name": "get_"}}]}),
            event({"tool_calls": [{"function": {"name": "weather", "arguments": "{}"}}]}),
            event({}, "stop"),
        )
    )
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("get_weather", {})]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_deltas_go_to_additional_kwargs(field: str) -> None:
    message = run(
        sse(
            event({field: "2 + 2"}),
            event({field: " = 4"}),
            event({"content": "The answer: 4"}),
            event({}, "stop"),
        )
    )
    assert message.additional_kwargs == {"reasoning": "2 + 2 = 4"}
    assert message.content == "The answer: 4"


def test_think_tags_left_in_content_after_server_reasoning_never_stay() -> None:
    """Seen on a real vLLM R1 server: a second </think> in content after the split."""
    message = run(
        sse(
            event({"reasoning": "2 + 2 = 4"}),
            event({"content": "\n"}),
            event({"content": "</thi"}),
            event({"content": "nk> <th"}),
            event({"content": "ink>more</think>4 <b>"}),
            event({}, "stop"),
        )
    )
    assert message.additional_kwargs == {"reasoning": "2 + 2 = 4\n\nmore"}
    assert message.content == "\n 4 <b>"


def test_inline_think_split_across_chunk_boundaries() -> None:
    pieces = ["  <th", "ink>a</", "thi", "nk>", "\n\n", "The answer", " is 4"]
    message = run(sse(*(event({"content": p}) for p in pieces), event({}, "stop")))
    assert message.additional_kwargs == {"reasoning": "a"}
    assert message.content == "The answer is 4"


def test_think_prefilled_stream_starts_in_reasoning() -> None:
    ctx = ReplyContext(think_prefilled=True)
    message = run(
        sse(event({"content": "hmm</thi"}), event({"content": "nk>42"}), event({}, "stop")), ctx
    )
    assert (message.additional_kwargs["reasoning"], message.content) == ("hmm", "42")


def test_calls_left_in_streamed_content_are_recovered_at_the_end() -> None:
    pieces = ["[get_weather(", "city='Paris', ", "days=[1, 2])]"]
    message = run(sse(*(event({"content": p}) for p in pieces), event({}, "stop")), TOOLS)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris", "days": [1, 2]})
    ]


def test_finish_reason_without_done_is_complete() -> None:
    assert run(sse(event({"content": "ok"}, "stop"), done=False)).content == "ok"


def test_stream_ending_early_is_a_response_error_with_excerpt() -> None:
    decoder = StreamDecoder(ReplyContext(), url="http://h/v1", started=0.0)
    for line in sse(event({"content": "partial"}), done=False):
        decoder.feed_line(line)
    with pytest.raises(ModelResponseError, match="ended before") as err:
        decoder.finish()
    assert "partial" in err.value.excerpt


def test_cut_names_the_cause() -> None:
    decoder = StreamDecoder(ReplyContext(), url="http://h/v1", started=0.0)
    error = decoder.cut(ConnectionResetError("reset by peer"))
    assert "ConnectionResetError: reset by peer" in str(error)
    assert error.excerpt == "(nothing received)"


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("data: {not json", "not JSON"),
        ("data: [1, 2]", "not an object"),
        ('data: {"error": {"message": "boom", "code": 500}}', "boom"),
    ],
)
def test_bad_chunks_raise(line: str, match: str) -> None:
    decoder = StreamDecoder(ReplyContext(), url="u", started=0.0)
    decoder.feed_line(line)
    with pytest.raises(ModelResponseError, match=match):
        decoder.feed_line("")


# The incremental splitter must agree with the one splitter on every way to cut the text.
texts = st.tuples(
    st.text(alphabet="ab <>/\n", max_size=12),
    st.text(alphabet="cd <>/\n", max_size=12),
).map(lambda p: f"<think>{p[0]}</think>{p[1]}")


@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=6))
def test_think_splitter_matches_split_reasoning(text: str, cuts: list[int]) -> None:
    if "think>" in text[7:-8] or "</think>" in text.split("</think>", 1)[1]:
        return  # nested tags: not the form models produce
    splitter = _ThinkSplitter(prefilled=False)
    reasoning = content = ""
    bounds = [0, *sorted(min(c, len(text)) for c in cuts), len(text)]
    for lo, hi in itertools.pairwise(bounds):
        r, c = splitter.feed(text[lo:hi])
        reasoning, content = reasoning + r, content + c
    r, c = splitter.flush()
    reasoning, content = reasoning + r, content + c
    expected_reasoning, expected_content = split_reasoning(text)
    assert reasoning.strip() == (expected_reasoning or "")
    assert content.strip() == expected_content
