"""Parsers on hostile model output finish (linear or bounded), and still find real answers.

Each attack runs in a child process with a timeout: before the fixes, ``find_tool_calls`` on
``"f(a=[" * n`` took 14 s at 40 KB and never ended at 500 KB, and ``coerce('{' * n)`` spent
minutes in json-repair. Timings are printed by ``benchmarks/hostile_parsers.py``; here a
run only has to end.
"""

from __future__ import annotations

import json

import pytest

from orchestrator.models.toolcall_parsers import find_tool_calls
from orchestrator.schema import coerce
from tests.security._bounded import run_bounded

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

SIZE = 1_000_000
LONG = 64 * 1024  # MAX_HEURISTIC_CHARS: past it, only the end of a reply is searched
ATTACKS = {
    "pythonic-open": '"f(a=[" * (SIZE // 5)',
    "pythonic-list-open": '"[f(a=" * (SIZE // 5)',
    "brace-open": '"{" * SIZE',
    "bracket-open": '"[" * SIZE',
    "obj-open": "'{\"name\": ' * (SIZE // 9)",
    "fences": '"```json\\n{" * (SIZE // 9)',
    "apostrophes": '"[f(a=\'" * (SIZE // 6)',
    "tool-tags": '"<tool_call>{" * (SIZE // 12)',
    "nested-valid": '"[" * (SIZE // 2) + "]" * (SIZE // 2)',
}
PARSERS = {
    "find_tool_calls": "from orchestrator.models.toolcall_parsers import find_tool_calls as f",
    "coerce": (
        "from orchestrator.schema import coerce\n"
        "def f(t):\n"
        "    try:\n"
        "        coerce(t, {'type': 'object'})\n"
        "    except Exception as exc:\n"
        "        assert type(exc).__name__ == 'SchemaValidationError', exc"
    ),
    "candidates": (
        "from orchestrator.schema.extract import candidates\ndef f(t):\n    list(candidates(t))"
    ),
}


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_megabyte_of_hostile_output_is_parsed_in_bounded_time(parser: str, attack: str) -> None:
    code = f"SIZE = {SIZE}\n{PARSERS[parser]}\nf({ATTACKS[attack]})\nprint('done')"
    done = run_bounded(code, limit_mb=2048, timeout_s=30)
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]


def test_json_repair_is_refused_for_deep_or_long_text() -> None:
    from orchestrator.models._parse_limits import repairable

    assert repairable('{"a": [1, 2')
    assert not repairable("{" * 100)
    assert not repairable('{"a": "' + "x" * (LONG * 2))


def test_a_call_at_the_end_of_a_long_reply_is_still_found() -> None:
    prose = "Thinking about it. " * (LONG // 10)
    calls, rest = find_tool_calls(prose + '[get_weather(city="Paris")]')
    assert [c.name for c in calls] == ["get_weather"]
    assert calls[0].arguments == {"city": "Paris"}
    assert rest == prose.strip()


def test_a_strict_json_call_anywhere_in_a_long_tagged_reply_is_found() -> None:
    call = json.dumps({"name": "f", "arguments": {"x": 1}})
    text = f"<tool_call>{call}</tool_call>" + " filler" * (LONG // 3)
    calls, _ = find_tool_calls(text)
    assert [(c.name, c.arguments) for c in calls] == [("f", {"x": 1})]


def test_an_answer_at_the_end_of_a_long_reply_is_still_coerced() -> None:
    text = "Let me think. " * (LONG // 7) + '\nSo: {"answer": 4}'
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    assert coerce(text, schema) == {"answer": 4}
