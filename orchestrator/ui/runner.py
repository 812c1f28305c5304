"""Start and resume runs from the page. Runs go through ``Pipeline`` with the UI's checkpoint
store, so their events reach the run log, which the page streams from."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.exceptions import BicameralError, ConfigError

if TYPE_CHECKING:
    from orchestrator.pipeline import Pipeline

__all__ = ["RunManager"]

_PATTERNS = ("*.yaml", "*.yml", "*/*.yaml", "*/*.yml", "*/*/*.yaml", "*/*/*.yml")
_MAX_PIPELINES = 200


@dataclass
class RunManager:
    """Runs started by the UI, in the server's event loop.

    Args:
        checkpoint: the store URL runs are checkpointed (and logged) to.
        pipelines_dir: the directory whose pipeline files the page may start (nothing else
            can be named from the browser).
    """

    checkpoint: str
    pipelines_dir: Path
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    threads: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def pipelines(self) -> list[str]:
        """Pipeline files under ``pipelines_dir`` (relative paths), those that load as specs."""
        from orchestrator.config.loading import load_spec

        found: list[str] = []
        root = self.pipelines_dir.resolve()
        for pattern in _PATTERNS:
            for path in sorted(root.glob(pattern)):
                rel = path.relative_to(root).as_posix()
                if rel in found or any(part.startswith(".") for part in path.parts):
                    continue
                try:
                    load_spec(path)
                except (ConfigError, OSError):
                    continue
                found.append(rel)
                if len(found) >= _MAX_PIPELINES:
                    return found
        return found

    def start(self, pipeline: str, task: str) -> str:
        """Start ``task`` on a listed pipeline file; returns the new thread id.

        Raises:
            ConfigError: the file is not listed, the task is empty, or the file does not load.
        """
        if pipeline not in self.pipelines():
            raise ConfigError(f"unknown pipeline {pipeline!r}")
        if not task.strip():
            raise ConfigError("the task is empty")
        thread_id = uuid.uuid4().hex
        loaded = self._load({"pipeline": str((self.pipelines_dir / pipeline).resolve())})
        self._spawn(thread_id, loaded.astream(task, thread_id=thread_id))
        return thread_id

    def decide(self, thread_id: str, launch: dict[str, Any], approve: bool) -> None:
        """Resume a paused run with the user's decision."""
        if not launch.get("pipeline"):
            raise ConfigError(
                "this run was not started from a pipeline file; resume it where it was started"
            )
        loaded = self._load(launch)
        self._spawn(thread_id, loaded.astream_resume(thread_id, approve=approve))

    def _load(self, launch: dict[str, Any]) -> Pipeline:
        from orchestrator.loader import load_pipeline

        return load_pipeline(
            launch["pipeline"],
            overrides=[str(o) for o in launch.get("overrides") or []],
            workspace=launch.get("workspace"),
            checkpoint=self.checkpoint,
            notice=None,
        )

    def _spawn(self, thread_id: str, events: AsyncIterator[Any]) -> None:
        task = asyncio.get_running_loop().create_task(_consume(thread_id, events))
        self.tasks.add(task)
        self.threads[thread_id] = task
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: self.threads.pop(thread_id, None))

    def idle(self, thread_id: str) -> bool:
        """Whether no run of ``thread_id`` started here is still going (or about to)."""
        return thread_id not in self.threads

    async def close(self) -> None:
        """Cancel runs still going (their checkpoints stay resumable)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _consume(thread_id: str, events: AsyncIterator[Any]) -> None:
    try:
        async for _ in events:
            pass  # the pipeline's run log records every event
    except (BicameralError, OSError) as exc:
        print(f"ui: run {thread_id} stopped: {exc}", file=sys.stderr)
