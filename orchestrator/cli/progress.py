"""Render run events for people: a live panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.events import (
    EnforcementAttempt,
    Event,
    FinalEvent,
    InterruptEvent,
    ModelCallEvent,
    NodeStart,
    TokenEvent,
    ToolCallEvent,
)
from orchestrator.result import RunResult

__all__ = ["ProgressRenderer", "format_result"]

_TAIL_CHARS = 600


class ProgressRenderer:
    """Consumes events; shows live progress (TTY), log lines (no TTY), or nothing (quiet).

    Use as a context manager around the event loop and call :meth:`handle` for each event.
    """

    def __init__(
        self, *, stream: IO[str] | None = None, quiet: bool = False, live: bool | None = None
    ) -> None:
        self._stream = stream or sys.stderr
        self._console = Console(file=self._stream, highlight=False)
        self._quiet = quiet
        self._live_enabled = (self._console.is_terminal if live is None else live) and not quiet
        self._live: Live | None = None
        self._start = time.perf_counter()
        self._node = "-"
        self._steps = 0
        self._tokens: dict[str, int] = {}
        self._tail = ""
        self._last_tool = ""

    def __enter__(self) -> ProgressRenderer:
        if self._live_enabled:
            self._live = Live(
                self._render(), console=self._console, refresh_per_second=8, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def _log(self, text: str) -> None:
        if self._quiet:
            return
        if self._live is not None:
            self._live.console.print(Text(text, style="dim"))
        else:
            print(
                f"[{time.perf_counter() - self._start:7.2f}s] {text}", file=self._stream, flush=True
            )

    def _render(self) -> Group:
        table = Table.grid(padding=(0, 2))
        table.add_row(
            "node",
            self._node,
            "steps",
            str(self._steps),
            "elapsed",
            f"{time.perf_counter() - self._start:.1f}s",
        )
        tokens = "  ".join(f"{role}: {n}" for role, n in sorted(self._tokens.items())) or "-"
        table.add_row("tokens", tokens, "last tool", self._last_tool or "-", "", "")
        return Group(table, Text(self._tail[-_TAIL_CHARS:], style="dim"))

    def handle(self, event: Event) -> None:
        """Take one event into the display."""
        if isinstance(event, NodeStart):
            self._node = event.node
            self._log(f"node {event.node}")
        elif isinstance(event, ModelCallEvent) and event.error:
            self._log(f"{event.role} call failed after {event.latency_s:.2f}s: {event.error}")
        elif isinstance(event, ModelCallEvent):
            self._steps += 1
            used = event.prompt_tokens + event.completion_tokens
            self._tokens[event.role] = self._tokens.get(event.role, 0) + used
            self._log(
                f"{event.role} call: {event.prompt_tokens} prompt + "
                f"{event.completion_tokens} completion tokens in {event.latency_s:.2f}s"
            )
        elif isinstance(event, ToolCallEvent):
            self._last_tool = f"{event.tool} ({'ok' if event.ok else 'error'})"
            self._log(
                f"tool {event.tool} {'ok' if event.ok else 'error'} "
                f"in {event.duration_s:.2f}s: {event.summary[:120]!r}"
            )
        elif isinstance(event, EnforcementAttempt):
            self._log(
                f"schema {event.schema_name} ({event.role}): {event.outcome} "
                f"after {event.attempts} attempt(s)"
            )
        elif isinstance(event, TokenEvent):
            self._tail = (self._tail + event.text)[-_TAIL_CHARS:]
        elif isinstance(event, InterruptEvent):
            self._log(f"approval needed: {event.request}")
        elif isinstance(event, FinalEvent):
            self._log(f"finished: {event.result.status.value}")
        if self._live is not None:
            self._live.update(self._render())


def format_result(result: RunResult) -> str:
    """A short human summary of a result (what the CLI prints at the end)."""
    lines = [f"status: {result.status.value}"]
    if result.finish_reason == "length":
        lines[0] += " (the answer was cut off by the token limit: finish_reason length)"
    if result.answer:
        lines.append(f"answer: {result.answer}")
    if result.error:
        lines.append(f"error: {result.error.type}: {result.error.message}")
    if result.changed_files:
        lines.append("changed files: " + ", ".join(result.changed_files))
    usage = ", ".join(
        f"{role} {u.prompt_tokens}+{u.completion_tokens} tokens in {u.calls} calls"
        + (f" ({u.estimated_calls} estimated)" if u.estimated_calls else "")
        for role, u in result.usage.items()
    )
    lines.append(
        f"steps: {result.steps}; {usage or 'no model calls'}; "
        f"time {result.elapsed_s:.1f}s; cost ${result.cost_usd:.4f}"
    )
    lines.append(f"thread: {result.thread_id}")
    return "\n".join(lines)
