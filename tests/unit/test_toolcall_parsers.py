"""find_tool_calls: every textual form of a tool call, exact results, and garbage."""

from __future__ import annotations

import random

import pytest

from orchestrator.models.toolcall_parsers import TextToolCall, find_tool_calls


def _calls(text: str) -> list[tuple[str, dict[str, object]]]:
    return [(c.name, c.arguments) for c in find_tool_calls(text)[0]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "add", "arguments": {"a": 1, "b": 2}}', [("add", {"a": 1, "b": 2})]),
        ('{"name": "add", "parameters": {"a": 1}}', [("add", {"a": 1})]),
        ('{"name": "add", "arguments": "{\\"a\\": 1}"}', [("add", {"a": 1})]),
        (
            '[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {"x": [1]}}]',
            [("a", {}), ("b", {"x": [1]})],
        ),
        (
            '{"type": "function", "function": {"name": "f", "arguments": "{\\"q\\": \\"x\\"}"}}',
            [("f", {"q": "x"})],
        ),
    ],
    ids=["object", "parameters", "string-arguments", "array", "openai-function"],
)
def test_json_forms(text: str, expected: list[tuple[str, dict[str, object]]]) -> None:
    assert _calls(text) == expected
    assert find_tool_calls(text)[1] == ""


def test_pythonic_with_nested_lists_and_dicts() -> None:
    text = (
        '[search(query="paris hotels", filters={"stars": [4, 5], "pool": True, "near": None}, '
        "limit=-3), add(a=1.5, b=[[1, 2], {'k': 'v'}])]"
    )
    assert _calls(text) == [
        (
            "search",
            {
                "query": "paris hotels",
                "filters": {"stars": [4, 5], "pool": True, "near": None},
                "limit": -3,
            },
        ),
        ("add", {"a": 1.5, "b": [[1, 2], {"k": "v"}]}),
    ]


def test_pythonic_accepts_json_literals_and_no_arguments() -> None:
    assert _calls("[f(flag=true, other=null), g()]") == [
        ("f", {"flag": True, "other": None}),
        ("g", {}),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[f(1, 2)]",  # positional arguments cannot be mapped to names
        "[f(a=__import__('os').system('true'))]",  # never evaluated
        "[f(**kw)]",
        "[f(a=x)]",
        "[f(a={1, 2})]",
    ],
)
def test_pythonic_rejects_anything_but_keyword_literals(text: str) -> None:
    """Such a call is recognisable: it comes back invalid (never evaluated), not dropped."""
    [call], rest = find_tool_calls(text)
    assert (call.name, call.arguments, rest) == ("f", {}, "")
    assert call.error is not None
    assert call.raw_arguments == text[1:-1]


def test_a_broken_pythonic_call_keeps_its_valid_siblings() -> None:
    """Issue 13.5: a ``b'...'`` literal made the whole list vanish; vLLM keeps the valid calls."""
    calls, rest = find_tool_calls("[add(a=1, b=2), save(data=b'raw'), mul(x=3)]")
    assert [(c.name, c.arguments, c.error is None) for c in calls] == [
        ("add", {"a": 1, "b": 2}, True),
        ("save", {}, False),
        ("mul", {"x": 3}, True),
    ]
    assert calls[1].error == "argument 'data' is not a JSON value"
    assert rest == ""


def test_hermes_call_with_a_bare_string_is_an_invalid_call() -> None:
    """Issue 13.5: ``"arguments": "hello"`` silently became "no call"."""
    text = '<tool_call>{"name": "write_note", "arguments": "hello"}</tool_call>'
    [call], rest = find_tool_calls(text)
    assert (call.name, call.error, call.raw_arguments, rest) == (
        "write_note",
        "arguments are not a JSON object",
        "hello",
        "",
    )


def test_double_encoded_arguments_are_decoded() -> None:
    text = '<tool_call>{"name": "add", "arguments": "{\\"x\\": 4, \\"y\\": 5}"}</tool_call>'
    [call], _ = find_tool_calls(text)
    assert (call.arguments, call.error, call.complete) == ({"x": 4, "y": 5}, None, True)


def test_a_call_cut_off_is_marked_incomplete() -> None:
    """A region whose closing marker never came, or JSON that needed repair, may be cut."""
    [cut], _ = find_tool_calls('<tool_call>{"name": "write_note", "arguments": {"path": "a.md"')
    assert (cut.name, cut.arguments, cut.complete) == ("write_note", {"path": "a.md"}, False)
    [whole], _ = find_tool_calls('<tool_call>{"name": "f", "arguments": {}}</tool_call>')
    assert whole.complete


def test_llama4_python_tags() -> None:
    text = 'Checking.<|python_start|>[get_weather(city="Oslo")]<|python_end|>'
    calls, rest = find_tool_calls(text)
    assert [(c.name, c.arguments) for c in calls] == [("get_weather", {"city": "Oslo"})]
    assert rest == "Checking."


def test_llama4_python_tags_unterminated_and_bare_call() -> None:
    assert _calls('<|python_start|>get_weather(city="Oslo")') == [("get_weather", {"city": "Oslo"})]


def test_llama3_python_tag_and_function_tag() -> None:
    assert _calls('<|python_tag|>brave_search.call(query="x")') == [
        ("brave_search", {"query": "x"})
    ]
    assert _calls('<function=add>{"a": 1}</function>') == [("add", {"a": 1})]


def test_hermes_tool_call_tags() -> None:
    text = (
        "I will call two tools.\n"
        '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    )
    calls, rest = find_tool_calls(text)
    assert [(c.name, c.arguments) for c in calls] == [("a", {"x": 1}), ("b", {})]
    assert rest == "I will call two tools."


def test_hermes_repairs_inside_tags_and_accepts_unterminated_last_tag() -> None:
    text = (
        "<tool_call>{'name': 'a', 'arguments': {'x': True,}}</tool_call><tool_call>{\"name\": \"b\""
    )
    assert _calls(text) == [("a", {"x": True}), ("b", {})]


def test_mistral_marker() -> None:
    assert _calls('[TOOL_CALLS][{"name": "f", "arguments": {"x": 1}}]') == [("f", {"x": 1})]


def test_fenced_block() -> None:
    text = 'Sure.\n```json\n{"name": "f", "arguments": {"x": 1},}\n```\nDone.'
    calls, rest = find_tool_calls(text)
    assert [(c.name, c.arguments) for c in calls] == [("f", {"x": 1})]
    assert rest == "Sure.\n\nDone."


def test_calls_after_prose() -> None:
    text = 'Let me look that up: {"name": "f", "arguments": {"s": "a}b"}} and [g(x="it\'s")] ok'
    calls, rest = find_tool_calls(text)
    assert [(c.name, c.arguments) for c in calls] == [("f", {"s": "a}b"}), ("g", {"x": "it's"})]
    assert rest == "Let me look that up: and ok"


def test_ids_are_deterministic_and_indexed() -> None:
    text = '[{"name": "f", "arguments": {"x": 1}}, {"name": "f", "arguments": {"x": 1}}]'
    first, second = find_tool_calls(text)[0]
    assert first.id.startswith("call_0_") and second.id.startswith("call_1_")
    assert first.id[7:] == second.id[7:]
    assert find_tool_calls(text)[0][0] == first
    assert isinstance(first, TextToolCall)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "just prose, no call",
        '{"name": "Bob", "age": 3}',  # data, not a call: no arguments key
        '{"name": "f", "arguments": {"x": 1}, "extra": 2}',  # unknown keys: data
        '{"name": "", "arguments": {}}',
        '[1, 2, 3] and {"a": 1}',
        "garbage {{{ [[[ ( \" ' <tool_call> ``` <|python_start|>",
        "[" * 5000 + "]" * 10,
        "<tool_call>not json at all</tool_call>",
    ],
)
def test_no_calls(text: str) -> None:
    assert find_tool_calls(text) == ([], text)


def test_a_call_whose_arguments_are_no_object_is_invalid() -> None:
    [call], _ = find_tool_calls('{"name": "f", "arguments": [1]}')
    assert (call.name, call.error, call.raw_arguments) == (
        "f",
        "arguments are not a JSON object",
        "[1]",
    )


def test_never_raises_on_random_garbage() -> None:
    rng = random.Random(7)
    alphabet = "{}[]()\"':,=\\ \nabcfnx01-<>|_/`TrueNonel"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        calls, rest = find_tool_calls(text)
        assert all(isinstance(c.arguments, dict) and c.name for c in calls)
        assert isinstance(rest, str)


def test_several_calls_with_prose_between_keep_the_prose() -> None:
    text = '{"name": "a", "arguments": {}}\nThen I will call {"name": "b", "arguments": {"x": 1}}'
    calls, rest = find_tool_calls(text)
    assert [(c.name, c.arguments) for c in calls] == [("a", {}), ("b", {"x": 1})]
    assert rest == "Then I will call"


def test_whole_text_call_missing_its_final_brace() -> None:
    assert _calls('{"name": "a", "arguments": {"x": [1, 2]}') == [("a", {"x": [1, 2]})]


def test_brackets_inside_quoted_keyword_arguments_do_not_close_the_call() -> None:
    """The shared scanner (``orchestrator.text.scan``) reads ``a='x]'`` as a string."""
    calls, _ = find_tool_calls("Calling [echo(text='x]', n=2)] now")
    assert [(c.name, c.arguments) for c in calls] == [("echo", {"text": "x]", "n": 2})]
