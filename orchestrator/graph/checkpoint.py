"""Checkpointers from a URL: ``memory``, ``sqlite:///path`` (default file for the CLI),
``postgres://...`` (extra ``postgres``). The URL grammar is parsed in one place
(``orchestrator.config.checkpoint_url``); the async and the sync openers share one table of
kinds below, so they support the same URLs.

A checkpointed run that dies (even by SIGKILL) resumes from its thread id: LangGraph saves
each finished step, and the writes of finished parallel tasks, so nothing completed repeats.
"""

from __future__ import annotations

import sqlite3
import stat
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from orchestrator.config.checkpoint_url import CheckpointURL, parse_checkpoint_url
from orchestrator.exceptions import ConfigError

__all__ = [
    "DEFAULT_SQLITE_URL",
    "cannot_open",
    "open_checkpointer",
    "shown_url",
    "sqlite_path",
    "sync_checkpointer",
    "usable_sqlite_path",
]

DEFAULT_SQLITE_URL = "sqlite:///.bicameral/checkpoints.sqlite"

Saver = BaseCheckpointSaver[Any]
_POSTGRES_EXTRA = "postgres checkpoints need the extra: pip install 'bicameral[postgres]'"


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    parsed = parse_checkpoint_url(url)
    if parsed.kind != "sqlite" or parsed.path is None:
        raise ConfigError(f"checkpoint URL {url!r} names no file (use sqlite:///path/to/file)")
    return Path(parsed.path)


_PG_CONNECT_TIMEOUT_S = 10


def _sqlite_file(parsed: CheckpointURL) -> str:
    """The SQLite file of ``parsed``, its folder created; ``ConfigError`` when it can't be one.

    A device (``/dev/null``), a directory or a FIFO is refused before SQLite opens it: SQLite
    would fail later with a bare ``disk I/O error`` (or block on the FIFO).
    """
    if parsed.path == ":memory:":
        return ":memory:"
    path = Path(str(parsed.path))
    try:
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"checkpoint {parsed.url!r}: {str(path)!r} is not a regular file")
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"checkpoint {parsed.url!r}: {exc.strerror or exc}") from None
    return str(path)


def usable_sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL, checked and its folder created, as the checkpointer
    opens it (the run log opens the same file first).

    Raises:
        ConfigError: not a regular file, or its folder cannot be created.
    """
    return Path(_sqlite_file(parse_checkpoint_url(url)))


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


def cannot_open(url: str, exc: BaseException) -> ConfigError:
    """The one-line error for a checkpoint store that ``exc`` kept from opening."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ConfigError(f"checkpoint {shown_url(url)!r} cannot be opened: {first}")


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

        async with AsyncExitStack() as stack:
            try:
                saver = await stack.enter_async_context(
                    AsyncSqliteSaver.from_conn_string(_sqlite_file(parsed))
                )
                await saver.setup()
            except (sqlite3.Error, OSError) as exc:
                raise cannot_open(parsed.url, exc) from None
            yield saver
    else:
        try:
            import psycopg
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise ConfigError(_POSTGRES_EXTRA) from exc
        async with AsyncExitStack() as stack:
            try:
                pg_saver = await stack.enter_async_context(
                    AsyncPostgresSaver.from_conn_string(_with_connect_timeout(parsed.url))
                )
                await pg_saver.setup()
            except (psycopg.Error, OSError) as exc:
                raise cannot_open(parsed.url, exc) from None
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

        try:
            conn = sqlite3.connect(_sqlite_file(parsed), check_same_thread=False)
            sqlite_saver = SqliteSaver(conn)
            sqlite_saver.setup()
        except (sqlite3.Error, OSError) as exc:
            raise cannot_open(parsed.url, exc) from None
        weakref.finalize(sqlite_saver, conn.close)
        return sqlite_saver
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg import Error as PgError
        from psycopg.rows import dict_row
    except ImportError as exc:
        raise ConfigError(_POSTGRES_EXTRA) from exc
    try:
        pg_conn: Connection[Any] = Connection.connect(
            _with_connect_timeout(parsed.url),
            autocommit=True,
            prepare_threshold=0,
            row_factory=dict_row,
        )
        pg_saver = PostgresSaver(pg_conn)
        pg_saver.setup()
    except (PgError, OSError) as exc:
        raise cannot_open(parsed.url, exc) from None
    weakref.finalize(pg_saver, pg_conn.close)
    return pg_saver
