"""What a solver returns, how one item is judged, and the record kept per item."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator.evaluation.code_judge import CodeStatus, judge_code
from orchestrator.evaluation.datasets import DatasetName, EvalItem, HumanEvalItem, MathItem
from orchestrator.evaluation.math_judge import answers_equal, extract_answer
from tools.sandbox import SandboxLimits

__all__ = [
    "ItemResult",
    "JudgeOptions",
    "SolveOutcome",
    "Solver",
    "Verdict",
    "dataset_of",
    "judge_item",
]

_PREVIEW_CHARS = 20_000


@dataclass(frozen=True)
class SolveOutcome:
    """What a solver made of one prompt.

    Attributes:
        answer_text: the final reply (a pipeline's ``RunResult.answer``), if any.
        structured: the last structured output (e.g. the reasoner's ``{"answer": ...}`` or
            ``{"code": ...}``), read when the text holds no answer.
        usage: token counts; ``input_tokens``/``output_tokens``/``reasoning_tokens`` (or
            ``prompt_tokens``/``completion_tokens``) are read.
        latency_s: wall time of the solve; the harness measures it when left at 0.
        cost_usd: estimated cost of the solve.
        status: the solver's own status (``completed``, ``failed``, ``budget_exhausted``...).
        error: a one-line description when the solver failed.
    """

    answer_text: str | None
    structured: Mapping[str, Any] | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    cost_usd: float = 0.0
    status: str = "completed"
    error: str | None = None

    def with_latency(self, latency_s: float) -> SolveOutcome:
        """A copy with ``latency_s`` set."""
        return dataclasses.replace(self, latency_s=latency_s)


Solver = Callable[[str], Awaitable[SolveOutcome]]


class Verdict(StrEnum):
    """How an item ended."""

    CORRECT = "correct"
    WRONG = "wrong"
    TIMEOUT = "timeout"
    NO_ANSWER = "no_answer"
    SOLVER_ERROR = "solver_error"
    JUDGE_ERROR = "judge_error"


@dataclass(frozen=True)
class JudgeOptions:
    """Limits for judging: sympy time per math comparison, sandbox limits per program."""

    math_timeout_s: float = 5.0
    sandbox: SandboxLimits = field(
        default_factory=lambda: SandboxLimits(cpu_seconds=10, wall_timeout_s=15.0)
    )


@dataclass(frozen=True)
class ItemResult:
    """One judged item, as one line of the results JSONL."""

    id: str
    dataset: str
    verdict: Verdict
    solver_status: str
    predicted: str | None = None
    reference: str | None = None
    detail: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.verdict is Verdict.CORRECT

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``correct`` included for readers of the file)."""
        data = dataclasses.asdict(self)
        data["verdict"] = self.verdict.value
        data["correct"] = self.correct
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemResult:
        """Read back a :meth:`to_dict` line. Raises KeyError/ValueError/TypeError if malformed."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["verdict"] = Verdict(values["verdict"])
        if not isinstance(values["id"], str):
            raise TypeError("id must be a string")
        return cls(**values)


def dataset_of(item: EvalItem) -> str:
    """The dataset name of an item."""
    if isinstance(item, MathItem):
        return DatasetName.MATH500.value
    if isinstance(item, HumanEvalItem):
        return DatasetName.HUMANEVAL.value
    return DatasetName.MBPP.value


async def judge_item(item: EvalItem, outcome: SolveOutcome, options: JudgeOptions) -> ItemResult:
    """Judge one solver outcome against its item (sandboxed programs run off the loop)."""
    base = ItemResult(
        id=item.id,
        dataset=dataset_of(item),
        verdict=Verdict.NO_ANSWER,
        solver_status=outcome.status,
        reference=item.answer if isinstance(item, MathItem) else None,
        input_tokens=_tokens(outcome.usage, "input_tokens", "prompt_tokens"),
        output_tokens=_tokens(outcome.usage, "output_tokens", "completion_tokens"),
        reasoning_tokens=_tokens(outcome.usage, "reasoning_tokens"),
        latency_s=round(outcome.latency_s, 4),
        cost_usd=outcome.cost_usd,
        error=outcome.error,
    )
    failed = outcome.error is not None and not outcome.answer_text and not outcome.structured
    if failed:
        return dataclasses.replace(base, verdict=Verdict.SOLVER_ERROR)
    try:
        if isinstance(item, MathItem):
            # The comparison waits on the sandboxed sympy worker: off the loop.
            return await asyncio.to_thread(_judge_math, item, outcome, options, base)
        return await asyncio.to_thread(_judge_code, item, outcome, options, base)
    except Exception as exc:  # a judge bug must not cost the rest of the run
        return dataclasses.replace(
            base, verdict=Verdict.JUDGE_ERROR, detail=f"{type(exc).__name__}: {exc}"
        )


def _judge_math(
    item: MathItem, outcome: SolveOutcome, options: JudgeOptions, base: ItemResult
) -> ItemResult:
    answer = extract_answer(outcome.answer_text, outcome.structured)
    if answer is None:
        return base
    same = answers_equal(answer, item.answer, timeout_s=options.math_timeout_s)
    return dataclasses.replace(
        base, verdict=Verdict.CORRECT if same else Verdict.WRONG, predicted=answer
    )


_CODE_VERDICTS = {
    CodeStatus.PASSED: Verdict.CORRECT,
    CodeStatus.FAILED: Verdict.WRONG,
    CodeStatus.TIMEOUT: Verdict.TIMEOUT,
    CodeStatus.NO_CODE: Verdict.NO_ANSWER,
    CodeStatus.ERROR: Verdict.JUDGE_ERROR,
}


def _judge_code(
    item: EvalItem, outcome: SolveOutcome, options: JudgeOptions, base: ItemResult
) -> ItemResult:
    if isinstance(item, MathItem):
        raise TypeError("math items have no code judge")
    judged = judge_code(item, outcome.answer_text, outcome.structured, limits=options.sandbox)
    return dataclasses.replace(
        base,
        verdict=_CODE_VERDICTS[judged.status],
        predicted=judged.code[:_PREVIEW_CHARS] if judged.code else None,
        detail=judged.detail,
    )


def _tokens(usage: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return 0
