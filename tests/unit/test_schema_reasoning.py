"""split_reasoning and message_parts."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from orchestrator.schema import message_parts, split_reasoning


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<think>a + b</think>\n{"x": 1}', ("a + b", '{"x": 1}')),
        (
            "opening tag was in the prompt</think> answer",
            ("opening tag was in the prompt", "answer"),
        ),
        ("<think>cut off while thinking", ("cut off while thinking", "")),
        ("<think>one</think> x <think>two</think> y", ("one\n\ntwo", "x  y")),
        ("<thinking>t</thinking>c", ("t", "c")),
        ("<THINK>t</THINK>c", ("t", "c")),
        ("<think></think>c", ("", "c")),
        ("I think so", (None, "I think so")),
        ("a < b", (None, "a < b")),
        ("", (None, "")),
        ('<think>t</think>{"s": "</think>"}', ("t", '{"s": "</think>"}')),
    ],
)
def test_split_reasoning(text: str, expected: tuple[str | None, str]) -> None:
    assert split_reasoning(text) == expected


def test_message_parts_uses_reasoning_field_and_tags() -> None:
    msg = AIMessage(content="<think>more</think> 42", additional_kwargs={"reasoning": "first"})
    assert message_parts(msg) == ("first\n\nmore", "42")


def test_message_parts_reads_older_reasoning_content_field() -> None:
    msg = AIMessage(content="42", additional_kwargs={"reasoning_content": "old"})
    assert message_parts(msg) == ("old", "42")


def test_message_parts_reads_content_blocks() -> None:
    msg = AIMessage(
        content=[{"type": "reasoning", "reasoning": "hmm"}, {"type": "text", "text": "42"}]
    )
    assert message_parts(msg) == ("hmm", "42")


def test_message_parts_without_reasoning() -> None:
    assert message_parts(AIMessage(content="42")) == (None, "42")
