"""Human approval: a flagged tool pauses the run; resume approves or denies."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage, ToolMessage

from orchestrator import FakeChatModel, Pipeline, RunStatus
from tools.base import tool_from_function

ran: list[str] = []


def delete_branch(name: str) -> str:
    """Delete a git branch.

    Args:
        name: the branch.
    """
    ran.append(name)
    return f"deleted {name}"


def _planner() -> FakeChatModel:
    return FakeChatModel(
        [
            AIMessage(
                content="",
                tool_calls=[{"name": "delete_branch", "args": {"name": "old"}, "id": "c1"}],
            ),
            "done",
        ]
    )


def _pipeline(planner: FakeChatModel, checkpoint: str | None = None) -> Pipeline:
    tool = tool_from_function(delete_branch, requires_approval=True)
    return Pipeline(planner=planner, tools=[tool], checkpointer=checkpoint)


def test_approval_pauses_then_approve_runs_the_tool() -> None:
    ran.clear()
    planner = _planner()
    pipeline = _pipeline(planner)
    paused = pipeline.run("clean up")
    assert paused.status is RunStatus.INTERRUPTED
    assert paused.pending_approval == {
        "tool": "delete_branch",
        "arguments": {"name": "old"},
        "call_id": "c1",
    }
    assert ran == []
    done = pipeline.resume(paused.thread_id, approve=True)
    assert done.status is RunStatus.COMPLETED and ran == ["old"]


def test_deny_reaches_the_planner_as_a_tool_error(tmp_path: Path) -> None:
    ran.clear()
    planner = _planner()
    url = f"sqlite:///{tmp_path / 'ck.sqlite'}"
    paused = _pipeline(planner, url).run("clean up")
    assert paused.status is RunStatus.INTERRUPTED
    # a fresh Pipeline object, as after a process restart: state comes from the SQLite file
    done = _pipeline(planner, url).resume(paused.thread_id, approve=False)
    assert done.status is RunStatus.COMPLETED and ran == []
    messages, _ = planner.requests[-1]
    [tm] = [m for m in messages if isinstance(m, ToolMessage)]
    assert tm.status == "error" and "denied" in str(tm.content)
