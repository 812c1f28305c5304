"""Checkpointers from a URL: ``memory``, ``sqlite:///path`` (default file for the CLI),
``postgres://...`` (extra ``postgres``). The URL grammar is parsed in one place
(``orchestrator.config.checkpoint_url``); the async and the sync openers share one table of
kinds below, so they support the same URLs.

A checkpointed run that dies (even by SIGKILL) resumes from its thread id: LangGraph saves
each finished step, and the writes of finished parallel tasks, so nothing completed repeats.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from orchestrator.config.checkpoint_url import CheckpointURL, parse_checkpoint_url
from orchestrator.exceptions import ConfigError

__all__ = ["DEFAULT_SQLITE_URL", "open_checkpointer", "sqlite_path", "sync_checkpointer"]

DEFAULT_SQLITE_URL = "sqlite:///.bicameral/checkpoints.sqlite"

Saver = BaseCheckpointSaver[Any]
_POSTGRES_EXTRA = "postgres checkpoints need the extra: pip install 'bicameral[postgres]'"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    parsed = parse_checkpoint_url(url)
    if parsed.kind != "sqlite" or parsed.path is None:
        raise ConfigError(f"checkpoint URL {url!r} names no file (use sqlite:///path/to/file)")
    return Path(parsed.path)


def _sqlite_file(parsed: CheckpointURL) -> str:
    if parsed.path == ":memory:":
        return ":memory:"
    path = Path(str(parsed.path))
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


@asynccontextmanager
async def open_checkpointer(
    spec: str | Saver | None, *, memory: InMemorySaver
) -> AsyncIterator[Saver]:
    """An async checkpointer for a URL (or the given saver), open for the block's duration."""
    if isinstance(spec, BaseCheckpointSaver):
        yield spec
        return
    parsed = parse_checkpoint_url(spec or "memory")
    if parsed.kind == "memory":
        yield memory
    elif parsed.kind == "sqlite":
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        async with AsyncSqliteSaver.from_conn_string(_sqlite_file(parsed)) as saver:
            yield saver
    else:
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise ConfigError(_POSTGRES_EXTRA) from exc
        async with AsyncPostgresSaver.from_conn_string(parsed.url) as pg_saver:
            await pg_saver.setup()
            yield pg_saver


def sync_checkpointer(spec: str | Saver | None, *, memory: InMemorySaver) -> Saver:
    """A synchronous checkpointer for ``Pipeline.compile()`` (memory, sqlite or postgres).

    The graph it is compiled into keeps it; its connection is closed when the saver is
    garbage-collected.
    """
    if isinstance(spec, BaseCheckpointSaver):
        return spec
    parsed = parse_checkpoint_url(spec or "memory")
    if parsed.kind == "memory":
        return memory
    if parsed.kind == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(_sqlite_file(parsed), check_same_thread=False)
        saver: Saver = SqliteSaver(conn)
        weakref.finalize(saver, conn.close)
        return saver
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row
    except ImportError as exc:
        raise ConfigError(_POSTGRES_EXTRA) from exc
    pg_conn: Connection[Any] = Connection.connect(
        parsed.url, autocommit=True, prepare_threshold=0, row_factory=dict_row
    )
    pg_saver = PostgresSaver(pg_conn)
    pg_saver.setup()
    weakref.finalize(pg_saver, pg_conn.close)
    return pg_saver
