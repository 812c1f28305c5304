"""Validate and run one tool call; the outcome is text for the model plus a record."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from orchestrator.events import ToolCallEvent, emit
from orchestrator.exceptions import ToolError, ToolServerError
from orchestrator.graph.routing import call_signature
from tools.base import Toolset

__all__ = ["INVALID_CALL_KEY", "ToolOutcome", "run_tool_call"]

_SUMMARY_CHARS = 200
INVALID_CALL_KEY = "__bicameral_invalid_call__"
"""Set (to the reason) as the only argument of a call the model made but that could not be
read, or was cut off: the call goes back to the model as an invalid call, never to the tool."""


@dataclass
class ToolOutcome:
    """What happened: ``ok`` false for invalid calls and tool failures alike."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str
    invalid: bool = False
    duration_s: float = 0.0
    changed: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "tool": self.name,
            "arguments": self.arguments,
            "ok": self.ok,
            "result": self.text[:_SUMMARY_CHARS],
        }


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
    failed_before: Collection[str] = (),
) -> ToolOutcome:
    """Validate ``arguments`` against the tool's schema, then run it.

    Invalid calls never reach the tool; both they and tool failures come back as error text
    the model can act on. A call identical to one that already failed (its
    ``call_signature`` is in ``failed_before``) is not run again: it fails as invalid, so
    repeating a failing call counts toward ``max_invalid_tool_calls`` like any invalid call.
    Emits a ``ToolCallEvent``.
    """
    start = time.perf_counter()
    unreadable = arguments.get(INVALID_CALL_KEY)
    if unreadable is not None:
        arguments = {}  # the reason goes in the text; the record shows no arguments
    try:
        if unreadable is not None:
            raise ToolError(str(unreadable), tool=name)
        args = toolset.validate(name, arguments)
    except ToolError as err:
        outcome = ToolOutcome(name, arguments, ok=False, text=f"error: {err}", invalid=True)
    else:
        outcome = await _run_valid(toolset, name, args, failed_before)
    outcome.duration_s = time.perf_counter() - start
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


async def _run_valid(
    toolset: Toolset, name: str, args: dict[str, Any], failed_before: Collection[str]
) -> ToolOutcome:
    if failed_before and call_signature(name, args) in failed_before:
        return ToolOutcome(name, args, ok=False, text=_repeated(name), invalid=True)
    try:
        text = await toolset.acall(name, args)
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
