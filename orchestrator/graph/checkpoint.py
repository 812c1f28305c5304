"""Checkpointers from a URL: ``memory``, ``sqlite:///path`` (default file for the CLI),
``postgres://...`` (extra ``postgres``).

A checkpointed run that dies (even by SIGKILL) resumes from its thread id: LangGraph saves
each finished step, and the writes of finished parallel tasks, so nothing completed repeats.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from orchestrator.exceptions import ConfigError

__all__ = [
    "DEFAULT_SQLITE_URL",
    "open_checkpointer",
    "shown_url",
    "sqlite_path",
    "sync_checkpointer",
]

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


_PG_CONNECT_TIMEOUT_S = 10


def _usable_sqlite_file(url: str) -> Path:
    """The SQLite file of ``url``, its folder created; ``ConfigError`` when it can't be one.

    A device (``/dev/null``), a directory or a FIFO is refused before SQLite opens it: SQLite
    would fail later with a bare ``disk I/O error`` (or block on the FIFO).
    """
    path = sqlite_path(url)
    try:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"checkpoint {url!r}: {str(path)!r} is not a regular file")
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"checkpoint {url!r}: {exc.strerror or exc}") from None
    return path


def shown_url(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable URL>"


def _with_connect_timeout(url: str) -> str:
    if "connect_timeout" in url:
        return url
    return url + ("&" if "?" in url else "?") + f"connect_timeout={_PG_CONNECT_TIMEOUT_S}"


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

        path = _usable_sqlite_file(url)
        async with AsyncExitStack() as stack:
            try:
                saver = await stack.enter_async_context(
                    AsyncSqliteSaver.from_conn_string(str(path))
                )
                await saver.setup()
            except (sqlite3.Error, OSError) as exc:
                raise ConfigError(f"checkpoint {url!r} cannot be opened: {exc}") from None
            yield saver
    else:
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise ConfigError(
                "postgres checkpoints need the extra: pip install 'bicameral[postgres]'"
            ) from exc
        import psycopg

        async with AsyncExitStack() as stack:
            try:
                pg_saver = await stack.enter_async_context(
                    AsyncPostgresSaver.from_conn_string(_with_connect_timeout(url))
                )
                await pg_saver.setup()
            except (psycopg.Error, OSError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                message = f"checkpoint {shown_url(url)!r} cannot be opened: {first}"
                raise ConfigError(message) from None
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

        path = _usable_sqlite_file(url)
        try:
            saver = SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
            saver.setup()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"checkpoint {url!r} cannot be opened: {exc}") from None
        return saver
    raise ConfigError("Pipeline.compile() supports memory and sqlite checkpoints; use arun()")
