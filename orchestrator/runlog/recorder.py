"""Turn a run's event stream into run-log rows: streamed text is joined, secrets removed,
rows written in small batches (at node ends, interrupts and the end of the run)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from orchestrator.events import (
    Event,
    FinalEvent,
    InterruptEvent,
    NodeEnd,
    TokenEvent,
)
from orchestrator.runlog.redact import Redactor
from orchestrator.runlog.store import RunLogStore

__all__ = ["RunRecorder", "open_recorder"]

_BATCH = 64


class RunRecorder:
    """Records one run (or one resumption) of a thread into a :class:`RunLogStore`."""

    def __init__(
        self,
        store: RunLogStore,
        thread_id: str,
        *,
        pipeline: str,
        task: str | None,
        launch: dict[str, Any] | None = None,
        redactor: Redactor | None = None,
        clock: Any = time.time,
    ) -> None:
        self._store = store
        self._thread = thread_id
        self._redact = redactor or Redactor()
        self._clock = clock
        self._started = clock()
        self._seq = store.start_run(
            thread_id,
            pipeline=pipeline,
            task=None if task is None else self._redact.text(task),
            started_at=self._started,
            launch=self._redact.data(launch or {}),
        )
        self._rows: list[tuple[int, float, str, str]] = []
        self._text: list[str] = []
        self._text_key: tuple[str, bool] | None = None
        self._final: FinalEvent | None = None
        self._writing = threading.Lock()

    def record(self, event: Event) -> None:
        """Take one event (``FinalEvent`` finishes the run); writes happen here, blocking."""
        if self._buffer(event):
            self._write_pending()

    async def arecord(self, event: Event) -> None:
        """:meth:`record` for code on an event loop: the writes run in a worker thread.

        A blocking SQLite write on the loop can deadlock with the checkpointer's own
        connection to the same file: aiosqlite holds its write lock across an ``await``
        that needs the very loop the blocked write is holding.
        """
        if self._buffer(event):
            await asyncio.to_thread(self._write_pending)

    async def aclose(self) -> None:
        """:meth:`close` in a worker thread (see :meth:`arecord`)."""
        await asyncio.to_thread(self.close)

    def _buffer(self, event: Event) -> bool:
        """Buffer ``event``; whether the buffered rows should be written now."""
        if isinstance(event, TokenEvent):
            key = (event.role, event.reasoning)
            if key != self._text_key:
                self._flush_text()
                self._text_key = key
            self._text.append(event.text)
            return False
        self._flush_text()
        if isinstance(event, FinalEvent):
            self._add("final", {"result": event.result.model_dump(mode="json")})
            self._final = event
            return True
        self._add(event.kind.value, event.to_dict())
        return isinstance(event, NodeEnd | InterruptEvent) or len(self._rows) >= _BATCH

    def _write_pending(self) -> None:
        # One writer at a time: a cancelled ``arecord`` leaves its thread running, and the
        # close that follows must not use the connection at the same time.
        with self._writing:
            self.flush()
            final, self._final = self._final, None
            if final is not None:
                self._finish(final)

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        data.pop("kind", None)
        body = json.dumps(self._redact.data(data), default=str)
        self._rows.append((self._seq, self._clock(), kind, body))
        self._seq += 1

    def _flush_text(self) -> None:
        if self._text_key is None:
            return
        role, reasoning = self._text_key
        self._add("text", {"role": role, "reasoning": reasoning, "text": "".join(self._text)})
        self._text, self._text_key = [], None

    def flush(self) -> None:
        """Write what is buffered."""
        if self._rows:
            self._store.add_events(self._thread, self._rows)
            self._rows = []

    def _finish(self, final: FinalEvent) -> None:
        result = final.result
        ended = self._clock()
        self._store.finish_run(
            self._thread,
            status=result.status.value,
            ended_at=ended,
            duration_s=ended - self._started,
            usage={role: u.model_dump() for role, u in result.usage.items()},
            cost_usd=result.cost_usd,
            answer=None if result.answer is None else self._redact.text(result.answer),
        )

    def close(self) -> None:
        """Write the rest and close the store."""
        with self._writing:
            try:
                self._flush_text()
                self.flush()
            finally:
                self._store.close()


def open_recorder(
    checkpointer: Any,
    thread_id: str,
    *,
    pipeline: str,
    task: str | None,
    launch: dict[str, Any] | None = None,
) -> RunRecorder | None:
    """A recorder for runs checkpointed at a SQLite or PostgreSQL URL; ``None`` otherwise
    (in-memory runs and checkpointer objects keep no log)."""
    if not isinstance(checkpointer, str) or not checkpointer.startswith(
        ("sqlite:", "postgres://", "postgresql://")
    ):
        return None
    store = RunLogStore.open(checkpointer)
    return RunRecorder(store, thread_id, pipeline=pipeline, task=task, launch=launch)
