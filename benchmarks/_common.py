"""What the orchestration benchmarks share: the two-step workflow, timing, memory, results.

The workflow every comparison runs is the smallest one that exercises a tool round trip:
the model calls the async tool ``add(a=2, b=3)``, sees the result, and answers ``5``. It is
scripted two ways, from the same rule (a tool call until the conversation holds a tool
result, then the answer):

* in-process, as a function for ``FunctionChatModel`` (:func:`planner_reply`), and
* over HTTP, as a reply of the loopback fake vLLM server (:class:`ToolThenAnswer`), which
  decides from the request itself, so any number of concurrent runs can share one server
  (the server's reply queue is global and would interleave them).

``python -m benchmarks._common --port 0 [--latency-ms MS]`` serves that reply and prints
``READY <port>`` (see :func:`serve_workflow`), so the server's CPU is not the client's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool

from tests.fake_openai_server import ChatReply, FakeOpenAIServer, ToolCallSpec

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).parent / "results"
TASK = "What is 2 + 3? Use the add tool."
ANSWER = "5"
ADD_ARGS = {"a": 2, "b": 3}


async def add_fn(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# Async, so no framework hops to a worker thread for it (a sync tool would add the same
# thread round trip, ~0.3 ms on this machine, to every side and blur the comparison).
add = tool("add")(add_fn)


# -- the scripted model, in process -----------------------------------------------------------


def planner_reply(messages: list[BaseMessage], options: dict[str, Any]) -> AIMessage | str:
    """Call ``add`` until a tool result is in the conversation, then answer."""
    if any(isinstance(m, ToolMessage) for m in messages):
        return ANSWER
    call = {"name": "add", "args": dict(ADD_ARGS), "id": "call_add"}
    return AIMessage(content="", tool_calls=[call])


def delegating_planner_reply(
    messages: list[BaseMessage], options: dict[str, Any]
) -> AIMessage | str:
    """Delegate the sum to the reasoner, then answer."""
    if any(isinstance(m, ToolMessage) for m in messages):
        return ANSWER
    call = {"name": "delegate", "args": {"kind": "math", "task": "2 + 3"}, "id": "call_del"}
    return AIMessage(content="", tool_calls=[call])


REASONER_JSON = json.dumps({"answer": ANSWER, "steps": ["2 + 3 = 5"]})


def reasoner_reply(messages: list[BaseMessage], options: dict[str, Any]) -> str:
    """An R1-style reasoner's final JSON (valid against the default math schema)."""
    return REASONER_JSON


# -- the scripted model, over HTTP ------------------------------------------------------------


@dataclass
class ToolThenAnswer(ChatReply):
    """A fake-server reply that reads the request: a tool call, or the answer after one."""

    tool_calls: list[ToolCallSpec] = field(
        default_factory=lambda: [ToolCallSpec("add", dict(ADD_ARGS))]
    )

    def _pick(self, request: dict[str, Any]) -> ChatReply:
        if any(m.get("role") == "tool" for m in request.get("messages", [])):
            return ChatReply(ANSWER)
        return ChatReply(content=None, tool_calls=list(self.tool_calls))

    def render_json(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._pick(request).render_json(request)

    def render_events(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return self._pick(request).render_events(request)


@contextlib.contextmanager
def serve_workflow(latency_ms: float = 0.0) -> Iterator[str]:
    """The fake server answering the workflow, in its own process; yields the base URL."""
    from tests.fake_openai_server import serve_module_in_subprocess

    with serve_module_in_subprocess("benchmarks._common", ["--latency-ms", str(latency_ms)]) as url:
        yield url


# -- measuring --------------------------------------------------------------------------------


def median_ms(samples: Sequence[float]) -> float:
    """Median of samples in seconds, in milliseconds."""
    return statistics.median(samples) * 1000


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def rss_mb() -> float:
    """This process's resident memory now, in MB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")
    return float(psutil.Process().memory_info().rss) / (1024 * 1024)


def platform_info() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def write_results(name: str, report: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json``; returns the path."""
    path = RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fake vLLM server scripted for the workflow")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(
        latency_ms=args.latency_ms, default_reply=ToolThenAnswer(), port=args.port
    )
    with server:
        print(f"READY {server.port}", flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
