"""Serve Bicameral pipelines on LangGraph Server (``langgraph dev`` / LangGraph Platform).

``langgraph.json`` at the repository root points its graph at :func:`make_graph`, a graph
factory: the server calls it with each run's config, and it returns the compiled graph of
the pipeline named by ``configurable.pipeline`` (a path to a pipeline file), or else by the
``BICAMERAL_PIPELINE`` environment variable. The server's own checkpointer replaces
Bicameral's, so threads, runs, streaming, interrupts for approval and resume all go
through the LangGraph HTTP API.

The graph's input is only ``{"task": "..."}``: an ``intake`` step turns it into the run's
starting state, then the pipeline's own graph runs as a subgraph (its node events are on
the ``custom`` stream mode with ``stream_subgraphs``).
"""

from __future__ import annotations

import asyncio
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from orchestrator.exceptions import ConfigError
from orchestrator.graph.state import RunState
from orchestrator.pipeline import Pipeline

__all__ = ["PIPELINE_ENV", "TaskInput", "graph_for", "make_graph", "server_graph"]

PIPELINE_ENV = "BICAMERAL_PIPELINE"


class TaskInput(TypedDict):
    """What a LangGraph Server run takes: the task."""

    task: str


async def make_graph(config: RunnableConfig | None = None) -> Any:
    """The compiled graph of the pipeline named in ``config`` (LangGraph Server's factory).

    The server calls it on its event loop for every run, so the file is read (and the
    pipeline built, once per file version) in a worker thread.

    Raises:
        ConfigError: no pipeline named, or the file does not load (its one-line error).
    """
    return await asyncio.to_thread(graph_for, config)


def graph_for(config: RunnableConfig | None = None) -> Any:
    """The synchronous body of :func:`make_graph`."""
    configurable = (config or {}).get("configurable") or {}
    path = configurable.get("pipeline") or os.environ.get(PIPELINE_ENV)
    if not path:
        raise ConfigError(
            "no pipeline to serve: pass configurable.pipeline (a pipeline file path) in the "
            f"run's config or set {PIPELINE_ENV}"
        )
    resolved = Path(str(path)).expanduser().resolve()
    if not resolved.is_file():
        raise ConfigError(f"pipeline file {str(path)!r} not found (looked for {resolved})")
    return _compiled(str(resolved), resolved.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _compiled(path: str, mtime_ns: int) -> Any:
    from orchestrator.loader import load_pipeline

    del mtime_ns  # part of the cache key: an edited file is loaded again
    return server_graph(load_pipeline(path, notice=None)).compile()


def server_graph(pipeline: Pipeline) -> StateGraph[Any, Any, Any, Any]:
    """``intake -> pipeline`` with ``{"task"}`` as input; compile it with any checkpointer."""
    inner = pipeline.build().compile()

    def intake(state: TaskInput) -> dict[str, Any]:
        start = pipeline.initial_input(state["task"])
        start.pop("task")
        return start

    graph: StateGraph[Any, Any, Any, Any] = StateGraph(RunState, input_schema=TaskInput)
    graph.add_node("intake", intake)
    graph.add_node("pipeline", inner)
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "pipeline")
    graph.add_edge("pipeline", END)
    return graph
