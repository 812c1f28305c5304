"""The finish node: settle the status and the answer."""

from __future__ import annotations

from typing import Any

from orchestrator.routing import last_ai_message
from orchestrator.state import RunState
from orchestrator.types import RunStatus

__all__ = ["finish"]


async def finish(state: RunState) -> dict[str, Any]:
    """Mark a running state completed with the planner's last reply as the answer."""
    status = state.get("status") or RunStatus.RUNNING.value
    ai = last_ai_message(state.get("messages", []))
    answer = state.get("answer")
    if ai is not None and not ai.tool_calls and isinstance(ai.content, str):
        answer = ai.content.strip() or answer
    if status == RunStatus.RUNNING.value:
        status = RunStatus.COMPLETED.value
    return {"status": status, "answer": answer}
