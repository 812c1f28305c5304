"""Check and run one tool call; the outcome is text for the model plus a record.

Every tool call of every workflow, native or action mode, goes through :func:`run_tool_call`:
the argument policy (``Toolset.check``: the schema layer's validation with lossless
coercion) is applied once, and its verdict is counted in the enforcement statistics under
``tools::<name>``.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from orchestrator import telemetry
from orchestrator.events import ToolCallEvent, emit
from orchestrator.exceptions import ToolArgumentError, ToolError, ToolServerError
from orchestrator.graph.routing import call_signature
from orchestrator.schema import EnforceOutcome
from tools.base import Toolset

__all__ = ["INVALID_CALL_KEY", "ToolOutcome", "run_tool_call", "tool_stats"]

_SUMMARY_CHARS = 200
INVALID_CALL_KEY = "__bicameral_invalid_call__"
"""Set (to the reason) as the only argument of a call the model made but that could not be
read, or was cut off: the call goes back to the model as an invalid call, never to the tool."""
TOOL_STATS_MODEL = "tools"


@dataclass
class ToolOutcome:
    """What happened: ``ok`` false for invalid calls and tool failures alike.

    ``check`` is the argument policy's verdict (``first_pass``, ``coerced`` or ``failed``),
    ``None`` when the arguments were checked before (an action the schema layer enforced).
    """

    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str
    invalid: bool = False
    duration_s: float = 0.0
    changed: list[str] = field(default_factory=list)
    check: EnforceOutcome | None = None

    def record(self) -> dict[str, Any]:
        return {
            "tool": self.name,
            "arguments": self.arguments,
            "ok": self.ok,
            "result": self.text[:_SUMMARY_CHARS],
        }


def tool_stats(outcomes: list[ToolOutcome]) -> dict[str, dict[str, int]]:
    """The enforcement-statistics update for ``outcomes`` (``tools::<name>`` keys)."""
    out: dict[str, dict[str, int]] = {}
    for o in outcomes:
        if o.check is None:
            continue
        slot = out.setdefault(f"{TOOL_STATS_MODEL}::{o.name}", dict.fromkeys(EnforceOutcome, 0))
        slot[o.check.value] = slot.get(o.check.value, 0) + 1
    return {k: {str(name): n for name, n in v.items()} for k, v in out.items()}


def _repeated(name: str) -> str:
    return (
        f"error: {name} already failed with exactly these arguments; calling it again will "
        "fail again. Change the arguments, use another tool, or give the final answer."
    )


async def run_tool_call(
    toolset: Toolset,
    name: str,
    arguments: dict[str, Any],
    *,
    checked: bool = False,
    failed_before: Collection[str] = (),
    call_id: str | None = None,
) -> ToolOutcome:
    """Check ``arguments`` with the argument policy (unless ``checked``), then run the tool.

    Invalid calls never reach the tool; both they and tool failures come back as error text
    the model can act on. A call identical to one that already failed (its
    ``call_signature`` is in ``failed_before``) is not run again: it fails as invalid, so
    repeating a failing call counts toward ``max_invalid_tool_calls`` like any invalid call.
    Emits a ``ToolCallEvent``.

    Args:
        toolset: the agent's tools.
        name: the tool to call.
        arguments: its arguments, as the model gave them.
        checked: the arguments already passed the same schema (an action-mode reply that the
            schema layer enforced): they are not checked again.
        failed_before: signatures of the earlier calls that failed.
        call_id: the model's id for this call (native tool calling), for the trace.
    """
    start = time.perf_counter()
    verdict: EnforceOutcome | None = None
    unreadable = arguments.get(INVALID_CALL_KEY)
    if unreadable is not None:
        arguments = {}  # the reason goes in the text; the record shows no arguments
    try:
        if unreadable is not None:
            raise ToolArgumentError(str(unreadable), tool=name)
        if checked and name in toolset:
            args = dict(arguments)
        else:
            args, coerced = toolset.check(name, arguments)
            verdict = EnforceOutcome.COERCED if coerced else EnforceOutcome.FIRST_PASS
    except ToolError as err:
        if isinstance(err, ToolArgumentError):
            verdict = EnforceOutcome.FAILED
        outcome = ToolOutcome(name, arguments, ok=False, text=f"error: {err}", invalid=True)
    else:
        outcome = await _run_checked(toolset, name, args, failed_before)
    outcome.check = verdict
    outcome.duration_s = time.perf_counter() - start
    telemetry.tool_call(
        name, outcome.arguments, outcome.ok, outcome.text, outcome.duration_s, call_id=call_id
    )
    emit(
        ToolCallEvent(
            tool=name,
            arguments=outcome.arguments,
            duration_s=outcome.duration_s,
            ok=outcome.ok,
            summary=outcome.text[:_SUMMARY_CHARS],
        )
    )
    return outcome


async def _run_checked(
    toolset: Toolset, name: str, args: dict[str, Any], failed_before: Collection[str]
) -> ToolOutcome:
    if failed_before and call_signature(name, args) in failed_before:
        return ToolOutcome(name, args, ok=False, text=_repeated(name), invalid=True)
    try:
        text = await toolset.arun(name, args)
        outcome = ToolOutcome(name, args, ok=True, text=text)
    except ToolError as err:
        outcome = ToolOutcome(name, args, ok=False, text=f"error: {err}")
    except ToolServerError:
        raise  # the server is gone: the run fails, it is not the model's to handle
    except Exception as err:  # a tool crash is the model's problem to handle, not the run's
        outcome = ToolOutcome(name, args, ok=False, text=f"error: {type(err).__name__}: {err}")
    if outcome.ok and toolset.changes_files(name) and isinstance(args.get("path"), str):
        outcome.changed.append(args["path"])
    return outcome
