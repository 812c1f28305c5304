"""Checkpointers from a URL: ``memory``, ``sqlite:///path`` (default file for the CLI),
``postgres://...`` (extra ``postgres``).

A checkpointed run that dies (even by SIGKILL) resumes from its thread id: LangGraph saves
each finished step, and the writes of finished parallel tasks, so nothing completed repeats.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from orchestrator.exceptions import ConfigError

__all__ = ["DEFAULT_SQLITE_URL", "open_checkpointer", "sqlite_path", "sync_checkpointer"]

DEFAULT_SQLITE_URL = "sqlite:///.bicameral/checkpoints.sqlite"

Saver = BaseCheckpointSaver[Any]


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    rest = url.removeprefix("sqlite:")
    rest = rest[2:] if rest.startswith("//") else rest
    if (rest.startswith("/") and not rest.startswith("//")) or rest.startswith("//"):
        rest = rest[1:]
    if not rest:
        raise ConfigError(f"checkpoint URL {url!r} names no file (use sqlite:///path/to/file)")
    return Path(rest)


def _kind(url: str) -> str:
    for prefix in ("memory", "sqlite", "postgres", "postgresql"):
        if url == prefix or url.startswith(prefix + ":"):
            return "postgres" if prefix == "postgresql" else prefix
    raise ConfigError(
        f"unknown checkpoint URL {url!r}: use 'memory', 'sqlite:///path' or 'postgres://...'"
    )


@asynccontextmanager
async def open_checkpointer(
    spec: str | Saver | None, *, memory: InMemorySaver
) -> AsyncIterator[Saver]:
    """An async checkpointer for a URL (or the given saver), open for the block's duration."""
    if isinstance(spec, BaseCheckpointSaver):
        yield spec
        return
    url = spec or "memory"
    kind = _kind(url)
    if kind == "memory":
        yield memory
    elif kind == "sqlite":
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            yield saver
    else:
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise ConfigError(
                "postgres checkpoints need the extra: pip install 'bicameral[postgres]'"
            ) from exc
        async with AsyncPostgresSaver.from_conn_string(url) as pg_saver:
            await pg_saver.setup()
            yield pg_saver


def sync_checkpointer(spec: str | Saver | None, *, memory: InMemorySaver) -> Saver:
    """A synchronous checkpointer for ``Pipeline.compile()`` (sqlite or memory)."""
    if isinstance(spec, BaseCheckpointSaver):
        return spec
    url = spec or "memory"
    kind = _kind(url)
    if kind == "memory":
        return memory
    if kind == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
    raise ConfigError("Pipeline.compile() supports memory and sqlite checkpoints; use arun()")
