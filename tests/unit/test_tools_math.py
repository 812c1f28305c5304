"""Math tools: safe parsing, evaluation, simplification, equality; run in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.exceptions import ToolError
from tools import SandboxLimits, ToolContext, Toolset, build_tools
from tools import _math_worker as worker
from tools.math import check_equal, evaluate

# In-process: the worker's functions (fast; the sandboxed path is covered below).


@pytest.mark.parametrize(
    ("expression", "exact", "numeric"),
    [
        ("integrate(x**2, (x, 0, 1))", "1/3", "0.333333333333333"),
        ("2^10 + 3!", "1030", None),
        ("sqrt(2)", "sqrt(2)", "1.41421356237310"),
        (r"\frac{1}{3} + \sqrt{4}", "7/3", "2.33333333333333"),
        (r"$\boxed{2\pi}$", "2*pi", "6.28318530717959"),
        (r"\sqrt[3]{27}", "3", None),
        ("2x + 3x", "5*x", None),
        ("sin x", "sin(x)", None),
        ("Sum(k, (k, 1, 100))", "5050", None),
        ("x = 2", "Eq(x, 2)", None),
    ],
)
def test_evaluate(expression: str, exact: str, numeric: str | None) -> None:
    result = worker.evaluate(expression)
    assert result["exact"] == exact
    assert result.get("numeric") == numeric


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("sin(x)^2 + cos(x)^2", "1"),
        ("(x^2 - 1)/(x - 1)", "x + 1"),
        ("diff(x^3, x)", "3*x**2"),
    ],
)
def test_simplify(expression: str, expected: str) -> None:
    assert worker.simplify(expression) == {"simplified": expected}


@pytest.mark.parametrize(
    ("a", "b", "equal", "method"),
    [
        ("(x+1)^2", "x^2 + 2x + 1", True, "symbolic"),
        ("0.5", "1/2", True, "symbolic"),
        (r"\frac{\pi}{2}", "asin(1)", True, "symbolic"),
        ("x = 2", "2x = 4", True, "symbolic"),
        ("x + 1", "x + 2", False, "numeric"),
        ("sqrt(x^2)", "x", False, "numeric"),
        ("(1, 2)", "(1, 2.0)", True, "elementwise"),
        ("(1, 2)", "(1, 2, 3)", False, "structural"),
    ],
)
def test_check_equal(a: str, b: str, equal: bool, method: str) -> None:
    result = worker.check_equal(a, b)
    assert (result["equal"], result["method"]) == (equal, method), result


def test_check_equal_tolerance() -> None:
    assert worker.check_equal("0.3333333", "1/3")["equal"] is False
    assert worker.check_equal("0.3333333", "1/3", tolerance=1e-6)["equal"] is True


def test_sample_points_decide_what_simplify_cannot() -> None:
    x2 = worker.parse("log(x^2)")
    assert worker._sample(x2, worker.parse("2*log(Abs(x))"), 1e-9)[:2] == (True, "numeric")
    assert worker._sample(x2, worker.parse("2*log(x)"), 1e-9)[0] is False  # wrong for x < 0


@pytest.mark.parametrize(
    "attack",
    [
        "().__class__.__bases__[0].__subclasses__()",
        "x.y",
        "__import__('os').system('id')",
        "'a' + 'b'",
        "lambda: 1",
        "[c for c in (1, 2)]",
        "a == b",
        "x; y",
        "a := 1",
        "{1: 2}",
        "f'{x}'",
        "1 if x else 2",
        "x = y = z",
        r"\input{/etc/passwd}",
        "x" * (worker.MAX_CHARS + 1),
        "",
    ],
)
def test_parser_refuses_code(attack: str) -> None:
    with pytest.raises(worker.InputError):
        worker.parse(attack)


def test_namespace_has_no_builtins_and_no_string_evaluators() -> None:
    ns = worker.namespace()
    assert ns["__builtins__"] == {}
    for name in ("sympify", "S", "parse_expr", "lambdify", "srepr", "sstr", "latex", "preview"):
        assert name not in ns
    # unknown names become harmless symbols, never Python objects
    assert worker.evaluate("exec + open")["exact"] == "exec + open"


# Through the sandbox: the public functions and the tools.


def test_public_functions_run_in_the_sandbox() -> None:
    assert evaluate("1/3 + integrate(sin(x), (x, 0, pi))") == "7/3 ≈ 2.33333333333333"
    verdict = check_equal("(x+1)^2", "x^2 + 2x + 1")
    assert verdict.equal is True
    assert verdict.to_text() == "equal (symbolic): simplify(a - b) is 0"


def test_refused_input_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match=r"evaluate: '\.' is not allowed"):
        evaluate("().__class__")


def test_runaway_computation_is_stopped() -> None:
    limits = SandboxLimits(wall_timeout_s=2, cpu_seconds=30, memory_mb=512)
    with pytest.raises(ToolError, match="stopped by the"):
        evaluate("factorial(10^9)", limits=limits)


def test_math_tools(tmp_path: Path) -> None:
    toolset = Toolset(build_tools(["evaluate", "simplify", "check_equal"], ToolContext(tmp_path)))
    assert toolset.call("simplify", {"expression": "(x^2 - 1)/(x - 1)"}) == "x + 1"
    params = toolset.schemas()[2]["function"]["parameters"]
    assert params["required"] == ["a", "b"]
    assert params["properties"]["tolerance"]["maximum"] == 1
