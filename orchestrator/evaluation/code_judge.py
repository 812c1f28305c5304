"""Judge code answers by running the dataset's tests in the sandbox.

* HumanEval: ``prompt + completion + test + check(entry_point)``. A completion that is a whole
  function (what the prompts ask for) simply redefines the prompt's stub; a body alone
  completes it.
* MBPP: ``code + test_setup_code + test_list`` (the setup may use classes the code defines).

Programs run through :func:`tools.sandbox.run_python`, in a subprocess with CPU, memory, file
size and wall-time limits, a scrubbed environment and a temporary working directory.

Example::

    judged = judge_code(item, "```python\\ndef add(a, b):\\n    return a + b\\n```")
    judged.status  # CodeStatus.PASSED
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orchestrator.evaluation.datasets import HumanEvalItem, MbppItem
from orchestrator.exceptions import ToolError
from orchestrator.text.think import answer_part
from tools.sandbox import KillReason, SandboxLimits, SandboxResult, run_python

__all__ = [
    "CodeJudgement",
    "CodeStatus",
    "entry_point_of",
    "extract_code",
    "humaneval_program",
    "judge_code",
    "mbpp_program",
    "run_program",
]

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_DETAIL_CHARS = 2000


class CodeStatus(StrEnum):
    """How a program fared in the sandbox."""

    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    NO_CODE = "no_code"
    ERROR = "error"


@dataclass(frozen=True)
class CodeJudgement:
    """The verdict on one code answer: status, the code judged, and the error's tail."""

    status: CodeStatus
    code: str | None = None
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status is CodeStatus.PASSED


def entry_point_of(item: HumanEvalItem | MbppItem) -> str | None:
    """The function the tests call: HumanEval's ``entry_point``, MBPP's first asserted call."""
    if isinstance(item, HumanEvalItem):
        return item.entry_point
    for test in item.test_list:
        match = re.match(r"\s*assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*([A-Za-z_]\w*)\s*\(", test)
        if match and match.group(1) not in {"math", "set", "abs", "round", "sorted"}:
            return match.group(1)
    return None


def extract_code(
    text: str | None,
    structured: Mapping[str, Any] | None = None,
    *,
    entry_point: str | None = None,
) -> str | None:
    """Find the code in a model's reply.

    Prefers a fenced block that defines ``entry_point``, then the structured output's ``code``
    field, then the last fenced block, then the whole reply when it parses as Python.
    ``<think>`` blocks are ignored.

    Example:
        >>> extract_code("Here:\\n```python\\ndef f():\\n    return 1\\n```\\nDone.")
        'def f():\\n    return 1\\n'
    """
    body = answer_part(text)
    blocks = [m.group(2) for m in _FENCE.finditer(body) if m.group(2).strip()]
    if entry_point:
        defining = [b for b in blocks if _defines(b, entry_point)]
        if defining:
            return defining[-1]
    field = (structured or {}).get("code")
    if isinstance(field, str) and field.strip():
        return field
    if blocks:
        return blocks[-1]
    if body.strip() and _parses(textwrap.dedent(body)):
        return body  # bare code, perhaps only an indented function body
    return None


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def humaneval_program(item: HumanEvalItem, completion: str) -> str:
    """The program that tests a HumanEval completion (a whole function or only its body)."""
    if _defines(completion, item.entry_point):
        body = completion
    else:
        lines = completion.splitlines()
        first = next((ln for ln in lines if ln.strip()), "")
        body = textwrap.indent(completion, "    ") if first == first.lstrip() else completion
    return f"{item.prompt}\n{body}\n\n{item.test}\n\ncheck({item.entry_point})\n"


def mbpp_program(item: MbppItem, code: str, *, challenge: bool = False) -> str:
    """The program that tests MBPP code (``challenge`` adds the harder hidden tests)."""
    tests = list(item.test_list) + (list(item.challenge_test_list) if challenge else [])
    return "\n\n".join([code, item.test_setup_code, "\n".join(tests)]) + "\n"


def run_program(program: str, limits: SandboxLimits | None = None) -> CodeJudgement:
    """Run a test program in the sandbox: passed when it exits 0 within every limit.

    Running out of wall or CPU time is a ``timeout``; being stopped by another limit (memory,
    file size) or failing an assert is a ``failed``; a sandbox that cannot start is an
    ``error``.
    """
    try:
        ran = run_python(program, limits=limits or SandboxLimits())
    except ToolError as exc:
        return CodeJudgement(CodeStatus.ERROR, program, str(exc))
    if ran.timed_out or ran.killed_by in _TIME_LIMITS:
        return CodeJudgement(CodeStatus.TIMEOUT, program, _detail(ran))
    if ran.ok:
        return CodeJudgement(CodeStatus.PASSED, program)
    return CodeJudgement(CodeStatus.FAILED, program, _detail(ran))


_TIME_LIMITS = frozenset({KillReason.WALL_TIMEOUT, KillReason.CPU_LIMIT})


def _detail(ran: SandboxResult) -> str:
    reason = f"stopped by {ran.killed_by.value}" if ran.killed_by else f"exit code {ran.exit_code}"
    tail = (ran.stderr or ran.stdout).strip()[-_DETAIL_CHARS:]
    return f"{reason}\n{tail}" if tail else reason


def judge_code(
    item: HumanEvalItem | MbppItem,
    answer_text: str | None,
    structured: Mapping[str, Any] | None = None,
    *,
    limits: SandboxLimits | None = None,
) -> CodeJudgement:
    """Extract the code from a reply and run the item's tests on it.

    Returns a judgement whose ``code`` is the extracted code (not the whole test program).
    """
    code = extract_code(answer_text, structured, entry_point=entry_point_of(item))
    if code is None:
        return CodeJudgement(CodeStatus.NO_CODE)
    if isinstance(item, HumanEvalItem):
        program = humaneval_program(item, code)
    else:
        program = mbpp_program(item, code)
    ran = run_program(program, limits)
    return CodeJudgement(ran.status, code, ran.detail)
