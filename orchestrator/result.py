"""``RunResult``: what a run returns, built from the final graph state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.types import RunStatus
from orchestrator.usage import Price, Usage, cost_of

__all__ = ["ErrorInfo", "RunResult", "error_entry", "result_from_state"]


class ErrorInfo(BaseModel):
    """Why a run failed: the error's class name and its one-line message.

    Always derived from an exception (:meth:`of`), so ``type`` is a real class name
    (``BudgetExhaustedError``, ``SchemaValidationError``, ...), never a hand-written string.
    """

    type: str
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> ErrorInfo:
        """The record of ``exc``: its class name and the first line of its message."""
        text = str(exc) or repr(exc)
        return cls(type=type(exc).__name__, message=text)


def error_entry(exc: BaseException) -> dict[str, str]:
    """The run state's ``error`` for ``exc`` (what a node records instead of raising)."""
    return ErrorInfo.of(exc).model_dump()


class RunResult(BaseModel):
    """The outcome of one run.

    Attributes:
        status: completed, failed, budget_exhausted or interrupted.
        answer: the planner's final answer (``None`` when there is none).
        outputs: structured results the reasoner produced (validated against their schemas).
        steps: model turns taken.
        usage: per-role prompt/completion/reasoning tokens, calls and latency.
        cost_usd: cost estimate from the configured prices.
        enforcement: schema-enforcement outcome counts keyed by ``model::schema``.
        thread_id: the checkpoint thread; pass it to ``Pipeline.resume``.
        error: set when the run failed or stopped on a budget.
        pending_approval: the tool call awaiting approval when interrupted.
        changed_files: workspace files changed by tools.
        tool_results: each tool call's name, arguments, ok flag and result summary.
        report: what a built-in workflow reports (the coding assistant: tests before and
            after, the unified diff, the localised functions).
        finish_reason: the server's finish reason for the final answer (``"length"``: it
            was cut off by the token limit and ``status`` is ``truncated``).
        sandbox: one line on how far sandboxed code (``run_python``, ``run_tests``, the math
            tools) is isolated on this machine (``tools.sandbox.Isolation``).
    """

    status: RunStatus
    answer: str | None = None
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    steps: int = 0
    usage: dict[str, Usage] = Field(default_factory=dict)
    cost_usd: float = 0.0
    enforcement: dict[str, dict[str, int]] = Field(default_factory=dict)
    thread_id: str = ""
    error: ErrorInfo | None = None
    elapsed_s: float = 0.0
    pending_approval: dict[str, Any] | None = None
    changed_files: list[str] = Field(default_factory=list)
    tool_results: list[dict[str, Any]] = Field(default_factory=list)
    report: dict[str, Any] | None = None
    finish_reason: str | None = None
    sandbox: str = ""

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.COMPLETED

    @property
    def total_tokens(self) -> int:
        return sum(u.total_tokens for u in self.usage.values())

    def to_json(self, **kwargs: Any) -> str:
        """The result as one JSON object (what ``bicameral run --json`` prints)."""
        return self.model_dump_json(**kwargs)


def result_from_state(
    values: Mapping[str, Any],
    *,
    thread_id: str,
    prices: Mapping[str, Price],
    elapsed_s: float,
    status: RunStatus | None = None,
    error: ErrorInfo | None = None,
    pending_approval: dict[str, Any] | None = None,
    sandbox: str = "",
) -> RunResult:
    """Build a ``RunResult`` from a graph state snapshot's values (``sandbox``: the line
    describing the sandbox's isolation, from ``tools.sandbox``, which this layer cannot
    import)."""
    usage_table = values.get("usage") or {}
    raw_status = status or RunStatus(values.get("status") or RunStatus.COMPLETED)
    if raw_status is RunStatus.RUNNING:
        raw_status = RunStatus.FAILED if error else RunStatus.INTERRUPTED
    err = error
    if err is None and values.get("error"):
        err = ErrorInfo(**values["error"])
    return RunResult(
        status=raw_status,
        answer=values.get("answer"),
        outputs=list(values.get("outputs") or []),
        steps=int(values.get("steps") or 0),
        # sums of floats: 7.599000000000001 -> 7.599 in the JSON
        usage={
            role: Usage.from_entry({**u, "latency_s": round(float(u.get("latency_s", 0.0)), 4)})
            for role, u in usage_table.items()
        },
        cost_usd=round(cost_of(usage_table, prices), 8),
        enforcement=dict(values.get("enforcement") or {}),
        thread_id=thread_id,
        error=err,
        elapsed_s=round(elapsed_s, 4),
        pending_approval=pending_approval,
        changed_files=list(values.get("changed_files") or []),
        tool_results=list(values.get("tool_results") or []),
        report=values.get("report"),
        finish_reason=values.get("finish_reason"),
        sandbox=sandbox,
    )
