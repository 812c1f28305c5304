"""Resuming a thread: the approval answer, and the wall-time clock moved past the pause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

__all__ = ["ResumeCommand", "epoch_seconds"]


class ResumeCommand:
    """A resume: the approval (if any), and the wall-time clock moved past the pause."""

    def __init__(self, approve: bool | None) -> None:
        self.approve = approve

    async def command(self, app: Any, config: RunnableConfig, wall_now: float) -> Any:
        """The graph input that resumes the thread.

        ``max_wall_time_s`` counts time spent running, not time spent stopped: the run's
        ``started_at`` moves forward by the pause, measured in wall-clock seconds from the
        thread's last checkpoint (written when the run stopped) to ``wall_now``.
        """
        snapshot = await app.aget_state(config)
        update: dict[str, Any] = {}
        started = snapshot.values.get("started_at") if snapshot.values else None
        stopped = epoch_seconds(snapshot.created_at)
        if isinstance(started, int | float) and stopped is not None and wall_now > stopped:
            update["started_at"] = float(started) + (wall_now - stopped)
        resume = None if self.approve is None else {"approve": self.approve}
        if not update and resume is None:
            return None
        return Command(resume=resume, update=update or None)


def epoch_seconds(timestamp: str | None) -> float | None:
    """An ISO timestamp (a checkpoint's ``created_at``) in epoch seconds, or None."""
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return None
