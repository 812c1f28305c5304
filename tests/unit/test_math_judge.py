"""The math judge: answer extraction, normalisation and equivalence."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path

import pytest

from orchestrator.evaluation._latex import LatexParseError, parse_latex
from orchestrator.evaluation.math_judge import (
    answers_equal,
    answers_match,
    extract_answer,
    last_boxed,
    normalize_answer,
)

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"

EQUAL = [
    (r"\frac{1}{2}", "0.5"),
    (r"\dfrac12", r"\frac{1}{2}"),
    ("0.5", r"\dfrac12"),
    (r"\tfrac{1}{2}", ".5"),
    (r"\frac 34", "0.75"),
    (r"\frac9{19}", r"\frac{9}{19}"),
    ("1.25", r"\frac54"),
    (r"1\frac{4}{5}", r"\frac{9}{5}"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"\left(3,\dfrac{\pi}2\right)"),
    ("[-2, 7]", r"x \in [-2,7]"),
    (r"(-\infty, 0]", r"(-\infty,0]"),
    (r"\left(\frac{3}{5},\frac{8}{3}\right]", r"(0.6, \frac83]"),
    (r"(-\infty, 2) \cup (3, \infty)", r"(3,\infty)\cup(-\infty,2)"),
    ("-3", r"-\frac{6}{2}"),
    (r"-\frac{\pi}{6}", r"-\pi/6"),
    (r"3\sqrt{13}", r"\sqrt{117}"),
    (r"\sqrt{2}/2", r"\frac{1}{\sqrt2}"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"\sqrt[3]{27}", "3"),
    (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}"),
    (r"3 \pm 2 \sqrt{2}", r"3 + 2\sqrt2, 3 - 2\sqrt{2}"),
    (r"\{1\pm\sqrt{5},-2\}", r"-2, 1+\sqrt5, 1-\sqrt5"),
    ("3, 5, 7", "7,5,3"),
    ("6+9i", "9i+6"),
    ("(a+5)(b+2)", "ab + 2a + 5b + 10"),
    (r"\cot x", r"\frac{\cos x}{\sin x}"),
    ("2k+2", "2(k+1)"),
    ("x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1", r"\frac{x^9-1}{x-1}"),
    ("x=5", "5"),
    ("y = 2x + 3", "2x+3"),
    ("5x - 7y + 11z + 4 = 0", "-10x + 14y - 22z - 8 = 0"),
    (r"\text{Navin}", "navin"),
    (r"\text{(C)}", "C"),
    (r"\textbf{(C)}", "(C)"),
    (r"30^\circ", "30"),
    (r"30^{\circ}", "30 degrees"),
    (r"\$32,\!348", "32348"),
    ("10,080", r"10,\!080"),
    (r"11,\! 111,\! 111,\! 100", "11111111100"),
    (r"864 \mbox{ inches}^2", "864"),
    (r"5.4 \text{ cents}", "5.4"),
    (r"\frac{270}7\text{ degrees}", r"\frac{270}{7}"),
    ("10\\%", "10"),
    ("5.", "5"),
    (".0000672", "0.0000672"),
    ("2516_8", "2516_{8}"),
    (r"\boxed{42}", "42"),
    (r"\begin{pmatrix} -7 \\ 16 \\ 5 \end{pmatrix}", "(-7,16,5)"),
    (
        r"\begin{pmatrix} 1/5 \\ -18/5 \end{pmatrix}",
        r"\begin{pmatrix} \frac15 \\ -\frac{18}{5} \end{pmatrix}",
    ),
    (r"\left[ \frac{\pi^2}{8}, \frac{5 \pi^2}{4} \right]", r"[\pi^2/8, 5\pi^2/4]"),
]

DIFFERENT = [
    (r"\frac{1}{2}", "0.3"),
    ("0.333", r"\frac13"),
    (r"\pi", "3.14"),
    (r"\sqrt{3}", "1.732"),
    ("-3", "3"),
    ("-2", "2"),
    (r"(3, \frac{\pi}{2})", r"(3, \pi)"),
    (r"(\frac{\pi}{2}, 3)", r"(3, \frac{\pi}{2})"),
    ("(-2, 7]", "[-2,7]"),
    (r"3 \pm 2 \sqrt{2}", r"3 + 2\sqrt2"),
    ("3, 5, 7", "3,5"),
    ("2k+2", "2n+2"),
    ("5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0"),
    (".0000672", "0.0000673"),
    ("2516_8", "2516"),
    ("(B)", r"\text{(C)}"),
    (r"\text{east}", r"\text{west}"),
    ("x^2", "x^3"),
    ("", "5"),
    ("2^{2^{100}}", "2"),
]


# The comparison's semantics, in-process (answers_equal runs the same in the sandbox).
@pytest.mark.parametrize(("predicted", "reference"), EQUAL)
def test_equal_answers(predicted: str, reference: str) -> None:
    assert answers_match(predicted, reference)
    assert answers_match(reference, predicted)


@pytest.mark.parametrize(("predicted", "reference"), [d for d in DIFFERENT if "100" not in d[0]])
def test_different_answers(predicted: str, reference: str) -> None:
    assert not answers_match(predicted, reference)


def test_none_is_never_right() -> None:
    assert not answers_equal(None, "5")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (r"\boxed{\left( 3, \dfrac{\pi}2 \right)}.", r"(3,\frac{\pi}{2})"),
        (r"\frac12", r"\frac{1}{2}"),
        (r"\sqrt2", r"\sqrt{2}"),
        (r"$\$36$", "36"),
        ("58,500", "58500"),
        (r"4210_{5}", "4210_5"),
        (r"\text{(E)}", "E"),
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        (r"So $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
        (r"first \boxed{1}, then \boxed{\sqrt{\frac{2}{3}}}", r"\sqrt{\frac{2}{3}}"),
        (r"\boxed 5$", "5"),
        ("Adding them, the answer is $12$.", "12"),
        ("Final Answer: 42", "42"),
        ("So the answer is $(3, 4]$, since both ends are checked.", "(3, 4]"),
        ("The answer is 7. It follows from the above.", "7"),
        ('{"answer": "3/4", "steps": ["a"]}', "3/4"),
        ("<think>maybe \\boxed{3}</think>It is \\boxed{4}.", "4"),
        ("Long reasoning here.\n\n17", "17"),
    ],
)
def test_extract_answer_from_text(reply: str, answer: str) -> None:
    assert extract_answer(reply) == answer


def test_extract_answer_prefers_boxed_text_then_structured_field() -> None:
    assert extract_answer(r"\boxed{7}", {"answer": "8"}) == "7"
    assert extract_answer("I worked it out in the steps.\n" * 3, {"answer": 8}) == "8"
    assert extract_answer(None, {"result": {"answer": "x+1"}}) == "x+1"
    assert extract_answer(None, None) is None
    assert extract_answer("", {"steps": []}) is None


def test_last_boxed_balances_braces() -> None:
    assert last_boxed(r"\boxed{\frac{a}{b}} and \fbox{{x}}") == "{x}"
    assert last_boxed("no box") is None
    assert last_boxed(r"\boxed{unclosed") is None


def test_parser_refuses_what_it_does_not_know() -> None:
    with pytest.raises(LatexParseError):
        parse_latex(r"\unknown{3}")
    with pytest.raises(LatexParseError):
        parse_latex("1000!")
    with pytest.raises(LatexParseError):
        parse_latex("x^{10000}")


def test_the_sympy_step_runs_in_the_sandboxed_worker_with_no_signal_or_thread() -> None:
    before = signal.getsignal(signal.SIGALRM)
    threads = threading.active_count()
    assert answers_equal(r"\dfrac{1}{2}", "0.5")  # needs sympy: compared in the worker
    assert not answers_equal("x^2", "x^3")
    assert signal.getsignal(signal.SIGALRM) == before  # before: a SIGALRM handler, or
    assert threading.active_count() == threads  # ... a daemon thread left running


def test_a_runaway_comparison_is_stopped_by_the_sandbox_off_the_main_thread() -> None:
    results: list[bool] = []
    worker = threading.Thread(
        target=lambda: results.append(answers_equal("2^{2^{100}}", "2", timeout_s=2.0))
    )
    worker.start()
    worker.join()
    assert results == [False]


async def test_judging_a_math_item_does_not_block_the_event_loop() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    same = await asyncio.to_thread(answers_equal, r"\frac{3}{6}", "0.5")
    ticker.cancel()
    assert same and ticks > 1


def test_long_lists_and_huge_numbers_are_judged_without_blowing_up() -> None:
    values = [rf"\frac{{{i}}}{{2}}" for i in range(2000)]
    assert answers_equal(", ".join(values), ", ".join(reversed(values)))
    halves = ", ".join(f"{i}/2" for i in range(40))
    assert answers_equal(halves, ", ".join(reversed(values[:40])))
    assert not answers_equal("2^{2^{100}}", "2^{2^{100}}+1")
    assert not answers_equal("(a+b+c+d)^{200}", "(a+b+c+d)^{199}(a+b+c+d+1)")


def test_judge_works_off_the_main_thread() -> None:
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(answers_equal(r"\dfrac12", "0.5")))
    worker.start()
    worker.join()
    assert results == [True]


def test_math500_reference_solutions_match_their_answers() -> None:
    with (DATA / "math500.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(50), handle, strict=False)]
    mismatched = [
        (row["unique_id"], extract_answer(row["solution"]), row["answer"])
        for row in rows
        if not answers_equal(extract_answer(row["solution"]), row["answer"])
    ]
    assert mismatched == []
