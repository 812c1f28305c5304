"""Validate and run one tool call; the outcome is text for the model plus a record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from orchestrator.events import ToolCallEvent, emit
from orchestrator.exceptions import ToolError, ToolServerError
from tools.base import Toolset

__all__ = ["ToolOutcome", "run_tool_call"]

_SUMMARY_CHARS = 200


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


async def run_tool_call(toolset: Toolset, name: str, arguments: dict[str, Any]) -> ToolOutcome:
    """Validate ``arguments`` against the tool's schema, then run it.

    Invalid calls never reach the tool; both they and tool failures come back as error text
    the model can act on. Emits a ``ToolCallEvent``.
    """
    start = time.perf_counter()
    try:
        args = toolset.validate(name, arguments)
    except ToolError as err:
        outcome = ToolOutcome(name, arguments, ok=False, text=f"error: {err}", invalid=True)
    else:
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
