"""Solvers for the harness: a pipeline, or a bare chat model as a baseline.

A solver is ``async solve(prompt: str) -> SolveOutcome``; anything with that shape works.

Example:
    >>> solver = pipeline_solver(load_pipeline("examples/math_solver.yaml"))  # doctest: +SKIP
    >>> summary = await run_eval(items, solver, out_dir=Path("eval-out"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from orchestrator.evaluation.judging import SolveOutcome, Solver
from orchestrator.result import RunResult

__all__ = ["chat_model_solver", "outcome_from_run_result", "pipeline_solver"]


class _AsyncRunner(Protocol):
    async def arun(self, task: str, *, thread_id: str | None = None) -> RunResult: ...


def outcome_from_run_result(result: RunResult) -> SolveOutcome:
    """A pipeline run as a :class:`SolveOutcome`: tokens summed over roles, the last
    structured output, the run's status and error."""
    usage = {
        "input_tokens": sum(u.prompt_tokens for u in result.usage.values()),
        "output_tokens": sum(u.completion_tokens for u in result.usage.values()),
        "reasoning_tokens": sum(u.reasoning_tokens for u in result.usage.values()),
    }
    error = f"{result.error.type}: {result.error.message}" if result.error else None
    return SolveOutcome(
        answer_text=result.answer,
        structured=result.outputs[-1] if result.outputs else None,
        usage=usage,
        latency_s=result.elapsed_s,
        cost_usd=result.cost_usd,
        status=str(result.status.value),
        error=error,
    )


def pipeline_solver(pipeline: _AsyncRunner) -> Solver:
    """A solver that runs each prompt as one task of ``pipeline`` (a fresh thread each).

    Example:
        >>> solver = pipeline_solver(Pipeline(planner=model))  # doctest: +SKIP
    """

    async def solve(prompt: str) -> SolveOutcome:
        return outcome_from_run_result(await pipeline.arun(prompt))

    return solve


def chat_model_solver(model: BaseChatModel) -> Solver:
    """A solver that sends each prompt straight to one chat model (a no-pipeline baseline).

    Reasoning the model returns separately (``additional_kwargs["reasoning"]``) is not part of
    the answer text.
    """

    async def solve(prompt: str) -> SolveOutcome:
        start = time.perf_counter()
        reply = await model.ainvoke([HumanMessage(content=prompt)])
        meta = reply.usage_metadata
        reasoning = (meta.get("output_token_details") or {}).get("reasoning", 0) if meta else 0
        return SolveOutcome(
            answer_text=reply.text,
            usage={
                "input_tokens": meta["input_tokens"] if meta else 0,
                "output_tokens": meta["output_tokens"] if meta else 0,
                "reasoning_tokens": int(reasoning or 0),
            },
            latency_s=time.perf_counter() - start,
        )

    return solve
