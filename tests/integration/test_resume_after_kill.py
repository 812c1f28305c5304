"""A run killed with SIGKILL mid-step resumes from its SQLite checkpoint without repeating
completed model or tool calls (real HTTP to the loopback fake server, a real subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from orchestrator import OpenAICompatChatModel, Pipeline, RunStatus
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec
from tools.base import tool_from_function

CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from orchestrator import OpenAICompatChatModel, Pipeline
    from tools.base import tool_from_function

    url, db, log, marker = sys.argv[1:5]

    def step(n: int) -> str:
        '''Record a step.

        Args:
            n: the step number.
        '''
        with open(log, "a") as f:
            f.write(f"{n}\\n")
        if n == 2:
            Path(marker).write_text("in step 2")
            threading.Event().wait()  # block until the parent kills this process
        return f"step {n} done"

    planner = OpenAICompatChatModel(base_urls=[url], model="fake", max_retries=0)
    pipeline = Pipeline(planner=planner, tools=[tool_from_function(step)],
                        checkpointer=f"sqlite:///{db}")
    pipeline.run("do two steps", thread_id="killed-thread")
    """
)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("child never reached step 2")
        time.sleep(0.05)  # polling for a file the child writes, not timing a result


def test_sigkill_then_resume_repeats_nothing_completed(tmp_path: Path) -> None:
    db, log, marker = tmp_path / "ck.sqlite", tmp_path / "steps.log", tmp_path / "marker"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with FakeOpenAIServer() as server:
        server.enqueue(
            ChatReply(tool_calls=[ToolCallSpec("step", {"n": 1}, id="s1")]),
            ChatReply(tool_calls=[ToolCallSpec("step", {"n": 2}, id="s2")]),
            ChatReply("both steps done"),
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.Popen(
            [sys.executable, str(script), server.base_url, str(db), str(log), str(marker)],
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            _wait_for(marker, proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert len(server.chat_requests) == 2

        def step(n: int) -> str:
            """Record a step.

            Args:
                n: the step number.
            """
            with log.open("a") as f:
                f.write(f"{n}\n")
            return f"step {n} done"

        planner = OpenAICompatChatModel(base_urls=[server.base_url], model="fake")
        pipeline = Pipeline(
            planner=planner, tools=[tool_from_function(step)], checkpointer=f"sqlite:///{db}"
        )
        result = pipeline.resume("killed-thread")
        assert result.status is RunStatus.COMPLETED
        assert result.answer == "both steps done"
        # step 1 ran once; step 2 was cut off and ran again; the model was asked once more
        assert log.read_text().split() == ["1", "2", "2"]
        assert len(server.chat_requests) == 3
