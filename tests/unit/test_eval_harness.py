"""The evaluation harness end to end with scripted models: runs, resume, compare, reports."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from rich.console import Console

from orchestrator.evaluation import (
    HumanEvalItem,
    MathItem,
    ProgressUpdate,
    SolveOutcome,
    chat_model_solver,
    compare,
    comparison_table,
    load_results,
    progress_bar,
    results_path,
    run_eval,
    summary_path,
    summary_table,
)
from orchestrator.exceptions import EvalError
from orchestrator.models.testing import FakeChatModel, FunctionChatModel

ITEMS = [
    MathItem(id="t/1", problem="What is 1 + 1?", answer="2"),
    MathItem(id="t/2", problem="Half of one, as a fraction?", answer=r"\frac{1}{2}"),
    MathItem(
        id="t/3", problem="The polar form of (0, 3)?", answer=r"\left( 3, \frac{\pi}{2} \right)"
    ),
]
RIGHT = {
    "1 + 1": r"One plus one is \boxed{2}.",
    "Half of one": r"That is $\boxed{\dfrac12}$",
    "polar form": r"r = 3 and theta = pi/2, so the answer is $(3, \pi/2)$.",
}


class Scripted:
    """A FunctionChatModel that answers by the problem in the prompt and counts its calls."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.calls: Counter[str] = Counter()
        self.model = FunctionChatModel(self._reply)

    def _reply(self, messages: list[BaseMessage], options: dict[str, Any]) -> str:
        prompt = messages[-1].text
        for key, reply in self.replies.items():
            if key in prompt:
                self.calls[key] += 1
                return reply
        raise AssertionError(f"unscripted prompt: {prompt[:80]}")


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_run_judges_writes_results_and_summary(tmp_path: Path) -> None:
    replies = dict(RIGHT, **{"Half of one": r"\boxed{0.3}"})
    scripted = Scripted(replies)
    updates: list[ProgressUpdate] = []
    summary = await run_eval(
        ITEMS,
        chat_model_solver(scripted.model),
        out_dir=tmp_path,
        label="fake",
        concurrency=2,
        progress=updates.append,
    )
    assert (summary.n_items, summary.n_correct, summary.metric) == (3, 2, "accuracy")
    assert summary.score == pytest.approx(2 / 3, abs=1e-4)
    assert summary.by_verdict == {"correct": 2, "wrong": 1}
    assert summary.by_solver_status == {"completed": 3}
    assert summary.mean_input_tokens > 0 and summary.mean_output_tokens > 0
    assert summary.latency_p95_s >= summary.latency_p50_s >= 0
    lines = read_lines(results_path(tmp_path, "fake"))
    assert sorted(line["id"] for line in lines) == ["t/1", "t/2", "t/3"]
    wrong = next(line for line in lines if line["id"] == "t/2")
    assert (wrong["verdict"], wrong["predicted"], wrong["correct"]) == ("wrong", "0.3", False)
    assert json.loads(summary_path(tmp_path, "fake").read_text())["n_correct"] == 2
    assert [u.done for u in updates] == [0, 1, 2, 3]
    assert updates[-1].correct == 2 and updates[0].last is None


async def test_rich_progress_bar_follows_the_run(tmp_path: Path) -> None:
    out = io.StringIO()
    with progress_bar(Console(file=out, force_terminal=True, width=100)) as bar:
        await run_eval(
            ITEMS, chat_model_solver(Scripted(RIGHT).model), out_dir=tmp_path, progress=bar
        )
    assert "3/3" in out.getvalue() and "100.0% correct" in out.getvalue()


async def test_rerun_resumes_after_a_crash_without_redoing_items(tmp_path: Path) -> None:
    scripted = Scripted(RIGHT)
    inner = chat_model_solver(scripted.model)

    class Crash(BaseException):
        pass

    async def crashing(prompt: str) -> SolveOutcome:
        if "polar form" in prompt:
            raise Crash
        return await inner(prompt)

    with pytest.raises(BaseExceptionGroup):
        await run_eval(ITEMS, crashing, out_dir=tmp_path, concurrency=1, progress=False)
    path = results_path(tmp_path, "run")
    assert [line["id"] for line in read_lines(path)] == ["t/1", "t/2"]
    with path.open("a") as handle:  # a line the crash cut short
        handle.write('{"id": "t/3", "dataset": "math500", "verd')

    summary = await run_eval(ITEMS, inner, out_dir=tmp_path, concurrency=1, progress=False)
    assert summary.n_correct == 3
    assert scripted.calls == {"1 + 1": 1, "Half of one": 1, "polar form": 1}
    assert [line["id"] for line in read_lines(path)] == ["t/1", "t/2", "t/3"]

    again = await run_eval(ITEMS, inner, out_dir=tmp_path, progress=False)
    assert again == summary
    assert sum(scripted.calls.values()) == 3


async def test_solver_errors_are_recorded_and_retried_on_request(tmp_path: Path) -> None:
    async def failing(prompt: str) -> SolveOutcome:
        raise RuntimeError("server down")

    first = await run_eval(ITEMS[:2], failing, out_dir=tmp_path, progress=False)
    assert first.by_verdict == {"solver_error": 2}
    assert load_results(results_path(tmp_path, "run"))["t/1"].error == "RuntimeError: server down"

    scripted = Scripted(RIGHT)
    solver = chat_model_solver(scripted.model)
    kept = await run_eval(ITEMS[:2], solver, out_dir=tmp_path, progress=False)
    assert kept.by_verdict == {"solver_error": 2} and not scripted.calls
    updates: list[ProgressUpdate] = []
    retried = await run_eval(
        ITEMS[:2], solver, out_dir=tmp_path, retry_errors=True, progress=updates.append
    )
    assert retried.by_verdict == {"correct": 2}
    assert [(u.done, u.total) for u in updates] == [(0, 2), (1, 2), (2, 2)]


async def test_structured_output_failed_runs_and_timeouts(tmp_path: Path) -> None:
    blocked = asyncio.Event()

    async def solver(prompt: str) -> SolveOutcome:
        if "1 + 1" in prompt:
            return SolveOutcome("see outputs", {"answer": "2", "steps": []}, {"input_tokens": 4})
        if "Half" in prompt:
            return SolveOutcome(
                None, status="budget_exhausted", error="BudgetExhaustedError: steps"
            )
        await blocked.wait()
        raise AssertionError("never released")

    summary = await run_eval(ITEMS, solver, out_dir=tmp_path, item_timeout_s=0.05, progress=False)
    assert summary.by_verdict == {"correct": 1, "solver_error": 2}
    assert summary.by_solver_status == {"budget_exhausted": 1, "completed": 1, "timeout": 1}
    assert summary.mean_input_tokens == pytest.approx(4 / 3, abs=0.01)


async def test_code_items_are_judged_in_the_sandbox(tmp_path: Path) -> None:
    item = HumanEvalItem(
        id="toy/0",
        prompt='def add(a, b):\n    """Sum."""\n',
        entry_point="add",
        test="def check(candidate):\n    assert candidate(2, 3) == 5\n",
    )
    model = FakeChatModel(["```python\ndef add(a, b):\n    return a + b\n```"])
    summary = await run_eval([item], chat_model_solver(model), out_dir=tmp_path, progress=False)
    assert (summary.metric, summary.score) == ("pass@1", 1.0)
    prompt = model.requests[0][0][-1].text
    assert "def add(a, b):" in prompt and "```python" in prompt


async def test_compare_runs_both_solvers_side_by_side(tmp_path: Path) -> None:
    alone = Scripted(dict(RIGHT, **{"polar form": r"\boxed{(3, \pi)}", "1 + 1": r"\boxed{3}"}))
    paired = Scripted(RIGHT)
    comparison = await compare(
        ITEMS,
        ("planner", chat_model_solver(alone.model)),
        ("planner+reasoner", chat_model_solver(paired.model)),
        out_dir=tmp_path,
        concurrency=2,
        progress=False,
    )
    assert (comparison.first.n_correct, comparison.second.n_correct) == (1, 3)
    assert (comparison.both_correct, comparison.only_first, comparison.only_second) == (1, 0, 2)
    assert comparison.only_second_ids == ["t/1", "t/3"]
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert saved["second"]["label"] == "planner+reasoner"
    assert summary_path(tmp_path, "planner+reasoner").is_file()

    console = Console(record=True, width=120)
    console.print(comparison_table(comparison))
    console.print(summary_table(comparison.first))
    text = console.export_text()
    assert "planner+reasoner / planner" in text and "3.00x" in text and "accuracy" in text

    solver = chat_model_solver(alone.model)
    with pytest.raises(EvalError, match="different labels"):
        await compare(ITEMS, ("a", solver), ("a", solver), out_dir=tmp_path)


async def test_guards_against_bad_arguments_and_foreign_results(tmp_path: Path) -> None:
    solver = chat_model_solver(Scripted(RIGHT).model)
    with pytest.raises(EvalError, match="concurrency"):
        await run_eval(ITEMS, solver, out_dir=tmp_path, concurrency=0)
    with pytest.raises(EvalError, match="unique"):
        await run_eval([ITEMS[0], ITEMS[0]], solver, out_dir=tmp_path, progress=False)
    code_line = {"id": "t/1", "dataset": "mbpp", "verdict": "correct", "solver_status": "completed"}
    results_path(tmp_path, "run").write_text(json.dumps(code_line) + "\n")
    with pytest.raises(EvalError, match="holds mbpp results"):
        await run_eval(ITEMS, solver, out_dir=tmp_path, progress=False)
