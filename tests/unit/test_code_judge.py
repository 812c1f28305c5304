"""The code judge: code extraction, test programs, and sandboxed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.evaluation.code_judge import (
    CodeStatus,
    entry_point_of,
    extract_code,
    humaneval_program,
    judge_code,
    mbpp_program,
)
from orchestrator.evaluation.datasets import HumanEvalItem, MbppItem, load_dataset
from tools.sandbox import SandboxLimits

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"
LIMITS = SandboxLimits(cpu_seconds=5, wall_timeout_s=10.0)

ADD = HumanEvalItem(
    id="toy/add",
    prompt='def add(a: int, b: int) -> int:\n    """Sum of a and b."""\n',
    entry_point="add",
    test="def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0",
    canonical_solution="    return a + b\n",
)


def fenced(code: str) -> str:
    return f"Here is the function:\n```python\n{code}\n```\nIt adds the numbers."


@pytest.fixture(scope="module")
def humaneval() -> list[HumanEvalItem]:
    items = load_dataset("humaneval", path=DATA, limit=3)
    return [i for i in items if isinstance(i, HumanEvalItem)]


@pytest.fixture(scope="module")
def mbpp() -> dict[str, MbppItem]:
    items = load_dataset("mbpp", path=DATA, limit=400)
    return {i.id: i for i in items if isinstance(i, MbppItem)}


def test_extract_code_prefers_the_block_defining_the_entry_point() -> None:
    reply = "```python\nimport math\n```\nthen\n```py\ndef add(a, b):\n    return a + b\n```\n"
    assert extract_code(reply, entry_point="add") == "def add(a, b):\n    return a + b\n"
    assert extract_code(reply) == "def add(a, b):\n    return a + b\n"


def test_extract_code_reads_the_structured_field_and_skips_reasoning() -> None:
    code = "def add(a, b):\n    return a + b"
    assert extract_code("I wrote it.", {"code": code}) == code
    assert extract_code(f"<think>```python\nbad()\n```</think>{fenced(code)}") == code + "\n"
    assert extract_code("no code at all, sorry!") is None
    assert extract_code(None, None) is None


def test_extract_code_accepts_bare_code_and_unclosed_fences() -> None:
    assert extract_code("    return a + b\n") == "    return a + b\n"
    assert extract_code("```python\ndef f():\n    return 1\n") == "def f():\n    return 1\n"


def test_humaneval_program_takes_a_whole_function_or_a_body() -> None:
    whole = humaneval_program(ADD, "def add(a, b):\n    return a + b\n")
    body = humaneval_program(ADD, "return a + b\n")
    assert whole.rstrip().endswith("check(add)")
    assert "    return a + b" in body


def test_toy_item_passes_and_fails() -> None:
    assert judge_code(ADD, fenced("def add(a, b):\n    return a + b"), limits=LIMITS).passed
    wrong = judge_code(ADD, fenced("def add(a, b):\n    return a - b"), limits=LIMITS)
    assert wrong.status is CodeStatus.FAILED
    assert "AssertionError" in wrong.detail
    assert judge_code(ADD, "I cannot do that.", limits=LIMITS).status is CodeStatus.NO_CODE


def test_humaneval_canonical_solutions_pass(humaneval: list[HumanEvalItem]) -> None:
    for item in humaneval:
        judged = judge_code(item, fenced(item.prompt + item.canonical_solution), limits=LIMITS)
        assert judged.passed, (item.id, judged.detail)
    first = humaneval[0]
    assert judge_code(first, first.canonical_solution, limits=LIMITS).passed  # body only


def test_humaneval_wrong_solution_fails(humaneval: list[HumanEvalItem]) -> None:
    item = humaneval[0]
    judged = judge_code(item, None, {"code": item.prompt + "    return False\n"}, limits=LIMITS)
    assert judged.status is CodeStatus.FAILED


def test_mbpp_canonical_solutions_pass(mbpp: dict[str, MbppItem]) -> None:
    for key in ("mbpp/1", "mbpp/2", "mbpp/367"):  # 367's setup code uses the solution's class
        item = mbpp[key]
        judged = judge_code(item, fenced(item.code), limits=LIMITS)
        assert judged.passed, (key, judged.detail)


def test_mbpp_wrong_solution_fails(mbpp: dict[str, MbppItem]) -> None:
    item = mbpp["mbpp/2"]
    assert entry_point_of(item) == "similar_elements"
    wrong = "def similar_elements(a, b):\n    return tuple(a)"
    assert judge_code(item, fenced(wrong), limits=LIMITS).status is CodeStatus.FAILED


def test_mbpp_program_order_and_challenge_tests() -> None:
    item = MbppItem(
        id="mbpp/x",
        text="Double a number.",
        test_list=("assert double(2) == 4",),
        test_setup_code="import math",
        challenge_test_list=("assert double(0) == 0",),
    )
    program = mbpp_program(item, "def double(x):\n    return 2 * x", challenge=True)
    assert program.index("def double") < program.index("import math")
    assert program.index("import math") < program.index("assert double(2)")
    assert "assert double(0) == 0" in program
    assert entry_point_of(item) == "double"


def test_infinite_loop_times_out() -> None:
    looping = fenced("def add(a, b):\n    while True:\n        pass")
    judged = judge_code(ADD, looping, limits=SandboxLimits(cpu_seconds=1, wall_timeout_s=3.0))
    assert judged.status is CodeStatus.TIMEOUT
