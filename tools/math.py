"""sympy-based tools for checking a reasoner's math: ``evaluate``, ``simplify``, ``check_equal``.

Every computation runs in the sandbox (``tools/_math_worker.py``), so an expression that
would take for ever or eat all memory (``factorial(10**10)``, ``9**9**9**9``) is stopped at
the limits instead of hanging the run. Inputs are plain math (``x^2 + 2x``, ``sqrt(2)/2``,
``integrate(sin(x), (x, 0, pi))``) or simple LaTeX (``\\frac{1}{3}``, ``\\boxed{2\\pi}``);
``lhs = rhs`` is an equation. See the worker for what the parser refuses and why.

Example:
    >>> check_equal("(x+1)^2", "x^2 + 2x + 1").equal
    True
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import Field

from orchestrator.exceptions import ToolError
from tools._context import ToolContext
from tools._limits import SandboxLimits
from tools.sandbox import run_sandboxed

__all__ = [
    "DEFAULT_MATH_LIMITS",
    "EqualityResult",
    "check_equal",
    "check_equal_tool",
    "evaluate",
    "evaluate_tool",
    "run_math_worker",
    "simplify",
    "simplify_tool",
]

NonEmpty = Annotated[str, Field(min_length=1)]
"""An expression argument: the schema (and so the decoding grammar) excludes ""."""
_WORKER = str(Path(__file__).with_name("_math_worker.py"))
_MAX_CHARS = 2000

DEFAULT_MATH_LIMITS = SandboxLimits(
    cpu_seconds=10, memory_mb=1024, file_size_mb=1, max_processes=8, wall_timeout_s=15
)
"""Limits for one math computation when none are given."""


@dataclass(frozen=True)
class EqualityResult:
    """The verdict of :func:`check_equal`.

    Attributes:
        equal: True, False, or None when it could not be decided.
        method: ``symbolic`` (proved), ``numeric`` (sample points or tolerance),
            ``elementwise``/``structural`` (tuples, sets, booleans), or ``unknown``.
        detail: a short human-readable reason.
    """

    equal: bool | None
    method: str
    detail: str

    def to_text(self) -> str:
        """One line for a model."""
        verdict = {True: "equal", False: "not equal", None: "undecided"}[self.equal]
        return f"{verdict} ({self.method}): {self.detail}"


def evaluate(expression: str, *, limits: SandboxLimits | None = None) -> str:
    """The exact value of ``expression`` and, for a number, its 15-digit decimal.

    Raises:
        ToolError: the expression is refused, invalid, or exceeds the limits.
    """
    result = _run("evaluate", {"expression": expression}, limits)
    exact, numeric = result["exact"], result.get("numeric")
    return f"{exact} ≈ {numeric}" if numeric else str(exact)


def simplify(expression: str, *, limits: SandboxLimits | None = None) -> str:
    """``expression`` simplified (sums, integrals and limits evaluated first).

    Raises:
        ToolError: the expression is refused, invalid, or exceeds the limits.
    """
    return str(_run("simplify", {"expression": expression}, limits)["simplified"])


def check_equal(
    a: str, b: str, *, tolerance: float = 1e-9, limits: SandboxLimits | None = None
) -> EqualityResult:
    """Whether ``a`` and ``b`` are mathematically equal.

    Symbolic first (``simplify(a - b) == 0``; equations match when one is a constant multiple
    of the other); numbers within a relative ``tolerance`` count as equal; expressions that
    do not simplify are compared at random points (seeded, so the verdict is repeatable).

    Raises:
        ToolError: an expression is refused, invalid, or exceeds the limits.
    """
    result = _run("check_equal", {"a": a, "b": b, "tolerance": tolerance}, limits)
    return EqualityResult(
        equal=result["equal"], method=str(result["method"]), detail=str(result["detail"])
    )


def _run(op: str, args: dict[str, Any], limits: SandboxLimits | None) -> dict[str, Any]:
    for key, value in args.items():
        if isinstance(value, str) and len(value) > _MAX_CHARS:
            raise ToolError(f"{key} is longer than {_MAX_CHARS} characters", tool=op)
    return run_math_worker(op, args, limits=limits)


def run_math_worker(
    op: str,
    args: dict[str, Any],
    *,
    limits: SandboxLimits | None = None,
    worker: str | Path | None = None,
) -> dict[str, Any]:
    """Run one sympy computation in the sandboxed worker and return its result.

    The worker is a script run with ``python -I`` under the sandbox's limits; it reads
    ``{"op", "args"}`` from its argument and prints ``{"ok", "result"|"error"}`` as one JSON
    line. ``worker`` names another script speaking the same protocol (the math judge's).

    Raises:
        ToolError: the computation was refused, failed, or was stopped by a limit.
    """
    limits = limits or DEFAULT_MATH_LIMITS
    request = json.dumps({"op": op, "args": args})
    script = str(worker or _WORKER)
    with tempfile.TemporaryDirectory(prefix="bicameral-math-", ignore_cleanup_errors=True) as tmp:
        argv = [sys.executable, "-I", "-B", "-X", "utf8", script, request]
        result = run_sandboxed(argv, cwd=Path(tmp), limits=limits)
    if result.killed_by is not None:
        reason = result.killed_by.value.replace("_", " ")
        raise ToolError(
            f"{op} stopped by the {reason} ({result.duration_s:.1f}s); try a simpler form",
            tool=op,
        )
    lines = result.stdout.strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        reply = None
    if not isinstance(reply, dict):
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ToolError(f"{op} failed: {tail[0]}", tool=op)
    if not reply.get("ok"):
        raise ToolError(f"{op}: {reply.get('error', 'failed')}", tool=op)
    value = reply.get("result")
    if not isinstance(value, dict):
        raise ToolError(f"{op} failed: malformed reply", tool=op)
    return value


def evaluate_tool(ctx: ToolContext) -> BaseTool:
    """The ``evaluate`` tool bound to ``ctx``."""

    def evaluate_(expression: NonEmpty) -> str:
        """Compute a math expression exactly with sympy (and its decimal value). Supports
        + - * / ^, sqrt, sin, log, factorial, integrate(f, (x, a, b)), diff, limit, Sum.

        Args:
            expression: e.g. "integrate(x^2, (x, 0, 1))" or "\\frac{1}{3} + \\sqrt{2}".
        """
        return evaluate(expression, limits=ctx.limits)

    return _tool(evaluate_, "evaluate")


def simplify_tool(ctx: ToolContext) -> BaseTool:
    """The ``simplify`` tool bound to ``ctx``."""

    def simplify_(expression: NonEmpty) -> str:
        """Simplify a math expression with sympy.

        Args:
            expression: e.g. "(x^2 - 1)/(x - 1)" or "sin(x)^2 + cos(x)^2".
        """
        return simplify(expression, limits=ctx.limits)

    return _tool(simplify_, "simplify")


def check_equal_tool(ctx: ToolContext) -> BaseTool:
    """The ``check_equal`` tool bound to ``ctx``."""

    def check_equal_(
        a: NonEmpty, b: NonEmpty, tolerance: Annotated[float, Field(ge=0, le=1)] = 1e-9
    ) -> str:
        """Check whether two math expressions (or two equations "lhs = rhs") are equal,
        symbolically with sympy, or numerically when that fails.

        Args:
            a: first expression, e.g. "(x+1)^2".
            b: second expression, e.g. "x^2 + 2x + 1".
            tolerance: relative tolerance for numbers, e.g. 1e-6 for rounded decimals.
        """
        return check_equal(a, b, tolerance=tolerance, limits=ctx.limits).to_text()

    return _tool(check_equal_, "check_equal")


def _tool(fn: Any, name: str) -> BaseTool:
    return StructuredTool.from_function(
        fn,
        name=name,
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
