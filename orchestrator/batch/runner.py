"""The batch runner: hand task rows to workers, get result rows back as they finish.

Example:
    >>> from orchestrator.batch import run_batch
    >>> for item in run_batch("pipeline.yaml", ["What is 2+2?", "And 3+3?"], workers=2):
    ...     print(item.id, item.result.status, item.result.answer)  # doctest: +SKIP

Rows lost with a worker that died run again on another one (up to ``max_attempts`` times:
a task that keeps killing its worker ends ``failed``), and each id comes back once.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.batch.backend import Backend, Finished
from orchestrator.batch.executor import BatchConfig, failed_row
from orchestrator.batch.progress import Tally
from orchestrator.batch.tasks import TaskRow, task_rows, thread_for
from orchestrator.result import RunResult

__all__ = ["Batch", "BatchItem", "run_batch"]

_POLL_S = 0.5


@dataclass(frozen=True)
class BatchItem:
    """One finished task: its id and its result."""

    id: str | int
    result: RunResult


class Batch:
    """A batch being run; iterate it for :class:`BatchItem`\\ s (or :meth:`rows` for dicts).

    Build it with :func:`run_batch`. The workers start on the first ``next()`` and stop when
    the iteration ends or is closed.
    """

    def __init__(
        self,
        backend: Backend,
        rows: Iterable[TaskRow],
        *,
        pipeline: str,
        total: int | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.backend = backend
        self.pipeline = pipeline
        self.max_attempts = max_attempts
        self.tally = Tally(total=total or 0)
        self._rows = rows

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (processes or Ray actors)."""
        return self.backend.worker_pids()

    def __iter__(self) -> Iterator[BatchItem]:
        for row in self.rows():
            data = {k: v for k, v in row.items() if k != "id"}
            yield BatchItem(id=row["id"], result=RunResult.model_validate(data))

    def rows(self) -> Iterator[dict[str, Any]]:
        """Result rows (the ``RunResult`` JSON with the id) in the order they finish."""
        if isinstance(self._rows, list) and not self._rows:
            return  # nothing left to run: no workers to start
        source = iter(self._rows)
        pending: deque[dict[str, Any]] = deque()
        in_flight: dict[str, dict[str, Any]] = {}
        attempts: dict[str, int] = {}
        exhausted = False
        try:
            self.backend.start()
            while True:
                while self.backend.free_slots() > 0:
                    if pending:
                        data = pending.popleft()
                    else:
                        row = next(source, None) if not exhausted else None
                        if row is None:
                            exhausted = True
                            break
                        data = row.to_dict()
                    key = str(data["id"])
                    in_flight[key] = data
                    self.backend.submit(key, data)
                self.tally.in_flight = len(in_flight)
                if exhausted and not pending and not in_flight:
                    return
                for event in self.backend.poll(_POLL_S):
                    if isinstance(event, Finished):
                        if in_flight.pop(event.key, None) is None:
                            continue  # already answered: never twice
                        self.tally.add(event.row)
                        self.tally.in_flight = len(in_flight)
                        yield event.row
                        continue
                    for data in event.rows:
                        key = str(data["id"])
                        in_flight.pop(key, None)
                        attempts[key] = attempts.get(key, 1) + 1
                        if attempts[key] <= self.max_attempts:
                            pending.appendleft(data)
                            continue
                        task = TaskRow.from_dict({k: v for k, v in data.items() if v})
                        lost = failed_row(
                            task,
                            thread_for(self.pipeline, task),
                            f"its worker died {self.max_attempts} times running it",
                        )
                        self.tally.add(lost)
                        yield lost
        finally:
            self.backend.close()


def run_batch(
    pipeline: str | Path,
    tasks: Iterable[TaskRow | Mapping[str, Any] | str],
    *,
    workers: int | None = None,
    concurrency: int = 4,
    ray: str | None = None,
    ray_temp_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    checkpoint: str = "memory",
    skip_ids: Iterable[str] = (),
    max_attempts: int = 3,
) -> Batch:
    """Run tasks across worker processes (or Ray actors); iterate the result as they finish.

    Args:
        pipeline: the pipeline YAML file each worker builds.
        tasks: rows (:class:`TaskRow`, dicts with ``id`` and ``task``, or bare strings whose
            id is their index); consumed lazily.
        workers: processes (or actors); default the number of CPU cores.
        concurrency: runs in flight per worker.
        ray: ``None`` for local processes; ``"auto"``, ``"host:port"`` or ``"ray://..."``
            to join a Ray cluster; ``"local"`` to start one on loopback.
        ray_temp_dir: Ray's temporary files for a local cluster.
        overrides: ``dotted.key=value`` items applied to the pipeline file.
        checkpoint: checkpoint URL; a shared PostgreSQL one lets a rerun resume each run.
        skip_ids: ids (as strings) not to run (already done).
        max_attempts: runs of one task on workers that died before it is reported failed.

    Raises:
        ConfigError: bad rows, duplicate ids, an unreachable Ray cluster, or a pipeline the
            workers cannot build (when iteration starts).
    """
    path = str(Path(pipeline).resolve())
    config = BatchConfig(pipeline=path, overrides=tuple(overrides), checkpoint=checkpoint)
    count = workers or os.cpu_count() or 1
    backend: Backend
    if ray is None:
        from orchestrator.batch.local import LocalBackend

        backend = LocalBackend(config, workers=count, concurrency=concurrency)
    else:
        try:
            from orchestrator.batch.ray_runner import RayBackend, connect
        except ImportError:
            from orchestrator.exceptions import ConfigError

            raise ConfigError("--ray needs the extra: pip install 'bicameral[ray]'") from None
        connect(ray, temp_dir=ray_temp_dir)
        backend = RayBackend(config, workers=count, concurrency=concurrency)
    skip = set(skip_ids)
    rows = [r for r in task_rows(tasks) if r.key not in skip]
    return Batch(backend, rows, pipeline=path, total=len(rows), max_attempts=max_attempts)
