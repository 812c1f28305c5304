"""What every batch worker (process or Ray actor) runs: build pipelines, run rows.

Only plain data crosses to a worker (the pipeline file path, overrides, task rows) and back
(result dicts): a compiled graph and its HTTP clients stay in the worker that built them.
One pipeline is built per distinct ``workspace`` and ``vars`` and reused by every row that
shares them, so their models (and each model's ``max_in_flight`` bound) are shared too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.batch.tasks import TaskRow, thread_for
from orchestrator.exceptions import BicameralError
from orchestrator.result import ErrorInfo, RunResult
from orchestrator.types import RunStatus

if TYPE_CHECKING:
    from orchestrator.pipeline import Pipeline

__all__ = ["BatchConfig", "TaskExecutor", "failed_row"]


@dataclass(frozen=True)
class BatchConfig:
    """How workers build their pipeline: plain data, picklable.

    Attributes:
        pipeline: path of the pipeline YAML file.
        overrides: ``dotted.key=value`` items (the CLI's ``--set``).
        checkpoint: checkpoint URL; ``"memory"`` by default. A PostgreSQL (or SQLite) URL
            shared by all workers lets a rerun resume each run from its checkpoint.
    """

    pipeline: str
    overrides: Sequence[str] = ()
    checkpoint: str = "memory"


def failed_row(row: TaskRow, thread_id: str, error: BaseException | str) -> dict[str, Any]:
    """A result row for a task that could not run (its shape is a ``RunResult``'s)."""
    if isinstance(error, BaseException):
        info = ErrorInfo(type=type(error).__name__, message=str(error) or repr(error))
    else:
        info = ErrorInfo(type="WorkerLost", message=error)
    result = RunResult(status=RunStatus.FAILED, thread_id=thread_id, error=info)
    return {"id": row.id, **result.model_dump(mode="json")}


class TaskExecutor:
    """Runs task rows on pipelines built from one :class:`BatchConfig`.

    Args:
        config: the pipeline file, overrides and checkpoint URL.
    """

    def __init__(self, config: BatchConfig) -> None:
        self.config = config
        self._pipelines: dict[tuple[str | None, tuple[tuple[str, str], ...]], Pipeline] = {}

    def pipeline_for(self, workspace: str | None, variables: Mapping[str, str]) -> Pipeline:
        """The pipeline for one workspace and set of ``${VAR}`` values (built once)."""
        key = (workspace, tuple(sorted(variables.items())))
        pipeline = self._pipelines.get(key)
        if pipeline is None:
            from orchestrator.config.loading import load_spec
            from orchestrator.loader import pipeline_from_spec

            env = {**os.environ, **variables} if variables else None
            spec = load_spec(self.config.pipeline, self.config.overrides, env=env)
            pipeline = pipeline_from_spec(
                spec, workspace=workspace, checkpoint=self.config.checkpoint, notice=None
            )
            self._pipelines[key] = pipeline
        return pipeline

    def check(self) -> None:
        """Build the default pipeline now, so a broken file fails before any task runs."""
        self.pipeline_for(None, {})

    async def run(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Run one row (a :meth:`TaskRow.to_dict`); returns the result row, never raises."""
        row = TaskRow.from_dict({k: v for k, v in data.items() if v not in (None, {})})
        thread_id = thread_for(self.config.pipeline, row)
        try:
            pipeline = self.pipeline_for(row.workspace, row.vars)
            result = await pipeline.arun_or_resume(row.task, thread_id=thread_id)
        except asyncio.CancelledError:
            raise
        except (BicameralError, OSError, ValueError) as exc:
            return failed_row(row, thread_id, exc)
        return {"id": row.id, **result.model_dump(mode="json")}
