"""Where run logs live: two tables beside LangGraph's checkpoint tables, in SQLite or
PostgreSQL. Reading tolerates logs written by older versions (missing columns, unknown event
kinds): they are shown as they are."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from orchestrator.exceptions import ConfigError

__all__ = ["LOG_VERSION", "RunEvent", "RunLogStore", "RunSummary"]

LOG_VERSION = 1
_RUN_COLUMNS = {
    "thread_id": "TEXT PRIMARY KEY",
    "pipeline": "TEXT",
    "task": "TEXT",
    "status": "TEXT",
    "started_at": "DOUBLE PRECISION",
    "ended_at": "DOUBLE PRECISION",
    "duration_s": "DOUBLE PRECISION",
    "usage": "TEXT",
    "cost_usd": "DOUBLE PRECISION",
    "answer": "TEXT",
    "launch": "TEXT",
    "version": "INTEGER",
}
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS bicameral_runs ("
    + ", ".join(f"{k} {v}" for k, v in _RUN_COLUMNS.items())
    + ")",
    "CREATE INDEX IF NOT EXISTS bicameral_runs_started ON bicameral_runs (started_at)",
    "CREATE TABLE IF NOT EXISTS bicameral_run_events (thread_id TEXT NOT NULL, "
    "seq INTEGER NOT NULL, ts DOUBLE PRECISION, kind TEXT, data TEXT, "
    "PRIMARY KEY (thread_id, seq))",
]


@dataclass(frozen=True)
class RunSummary:
    """One row of ``bicameral runs``."""

    thread_id: str
    pipeline: str = ""
    task: str = ""
    status: str = "unknown"
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    cost_usd: float = 0.0
    answer: str | None = None
    launch: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def tokens_by_role(self) -> dict[str, int]:
        """Prompt plus completion tokens per role."""
        return {
            role: int(u.get("prompt_tokens", 0) or 0) + int(u.get("completion_tokens", 0) or 0)
            for role, u in self.usage.items()
            if isinstance(u, dict)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "pipeline": self.pipeline,
            "task": self.task,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s,
            "tokens": self.tokens_by_role(),
            "usage": self.usage,
            "cost_usd": self.cost_usd,
            "answer": self.answer,
            "version": self.version,
        }


@dataclass(frozen=True)
class RunEvent:
    """One stored event: its order in the run, wall time, kind and JSON data."""

    seq: int
    ts: float
    kind: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, **self.data}


class RunLogStore:
    """Run logs in a checkpoint database. Open with :meth:`open`; use as a context manager.

    Args:
        conn: a DB-API connection (``sqlite3`` or ``psycopg``).
        postgres: whether ``conn`` is PostgreSQL (placeholders differ).
    """

    def __init__(self, conn: Any, *, postgres: bool = False) -> None:
        self._conn = conn
        self._pg = postgres
        self._columns: set[str] | None = None

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> RunLogStore:
        """The store of a checkpoint URL (``sqlite:///file`` or ``postgres://...``).

        With ``create=False`` (readers: ``bicameral runs``, ``bicameral ui``) a missing file or
        a database that holds neither checkpoints nor run logs is a ``ConfigError``.
        """
        if url.startswith(("postgres://", "postgresql://")):
            return cls._open_postgres(url, create=create)
        if not url.startswith("sqlite:"):
            raise ConfigError(f"run logs need a sqlite:/// or postgres:// checkpoint URL: {url!r}")
        from orchestrator.graph.checkpoint import cannot_open, sqlite_path, usable_sqlite_path

        path = sqlite_path(url)
        if not create and not path.is_file():
            raise ConfigError(
                f"no checkpoint store at {path} (run something first, or pass "
                "--checkpoint sqlite:///path/to/checkpoints.sqlite)"
            )
        if create:
            path = usable_sqlite_path(url)  # refuses devices, folders and FIFOs in one line
        try:
            conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False)
        except sqlite3.Error as exc:
            raise cannot_open(url, exc) from None
        store = cls(conn)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            store._setup(create=create, where=str(path))
        except sqlite3.DatabaseError as exc:
            conn.close()
            message = f"{path} is not a Bicameral checkpoint store ({exc})"
            raise cannot_open(url, RuntimeError(message)) from None
        return store

    @classmethod
    def _open_postgres(cls, url: str, *, create: bool) -> RunLogStore:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "postgres run logs need the extra: pip install 'bicameral[postgres]'"
            ) from None
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigError(f"checkpoint {_safe_url(url)!r} cannot be opened: {first}") from None
        store = cls(conn, postgres=True)
        store._setup(create=create, where=_safe_url(url))
        return store

    def _setup(self, *, create: bool, where: str) -> None:
        tables = self._tables()
        if not create and not ({"checkpoints", "bicameral_runs"} & tables):
            raise ConfigError(f"{where} is not a Bicameral checkpoint store (no checkpoints)")
        if create or "bicameral_runs" not in tables:
            for statement in _SCHEMA:
                self._execute(statement)
            # Logs written by an older version gain the columns added since.
            for name, kind in _RUN_COLUMNS.items():
                if name not in self._run_columns():
                    self._execute(f"ALTER TABLE bicameral_runs ADD COLUMN {name} {kind}")
                    self._columns = None
            self._commit()

    def _tables(self) -> set[str]:
        if self._pg:
            rows = self._query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema()"
            )
        else:
            rows = self._query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(r[0]) for r in rows}

    def _run_columns(self) -> set[str]:
        if self._columns is None:
            if self._pg:
                rows = self._query(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'bicameral_runs'"
                )
                self._columns = {str(r[0]) for r in rows}
            else:
                rows = self._query("PRAGMA table_info(bicameral_runs)")
                self._columns = {str(r[1]) for r in rows}
        return self._columns

    # -- low level ----------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pg else sql

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), params)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self._pg:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self._conn.executemany(sql, rows)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self._conn.execute(self._sql(sql), params).fetchall())

    def _commit(self) -> None:
        if not self._pg:
            self._conn.commit()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> RunLogStore:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def start_run(
        self,
        thread_id: str,
        *,
        pipeline: str,
        task: str | None,
        started_at: float,
        launch: dict[str, Any],
    ) -> int:
        """Register a run (or a resumption of one); returns the next event sequence number."""
        if task is not None:
            self._execute(
                "INSERT INTO bicameral_runs (thread_id, pipeline, task, status, started_at, "
                "usage, cost_usd, launch, version) VALUES (?, ?, ?, 'running', ?, '{}', 0, ?, ?) "
                "ON CONFLICT (thread_id) DO UPDATE SET status = 'running'",
                (thread_id, pipeline, task, started_at, json.dumps(launch), LOG_VERSION),
            )
        else:
            self._execute(
                "INSERT INTO bicameral_runs (thread_id, pipeline, task, status, started_at, "
                "usage, cost_usd, launch, version) VALUES (?, ?, '', 'running', ?, '{}', 0, ?, ?) "
                "ON CONFLICT (thread_id) DO UPDATE SET status = 'running'",
                (thread_id, pipeline, started_at, json.dumps(launch), LOG_VERSION),
            )
        self._commit()
        rows = self._query(
            "SELECT MAX(seq) FROM bicameral_run_events WHERE thread_id = ?", (thread_id,)
        )
        last = rows[0][0] if rows else None
        return 0 if last is None else int(last) + 1

    def add_events(self, thread_id: str, events: Sequence[tuple[int, float, str, str]]) -> None:
        """Append ``(seq, ts, kind, json)`` rows."""
        self._executemany(
            "INSERT INTO bicameral_run_events (thread_id, seq, ts, kind, data) "
            "VALUES (?, ?, ?, ?, ?)",
            [(thread_id, *row) for row in events],
        )
        self._commit()

    def finish_run(
        self,
        thread_id: str,
        *,
        status: str,
        ended_at: float,
        duration_s: float,
        usage: dict[str, Any],
        cost_usd: float,
        answer: str | None,
    ) -> None:
        """Record how the run (so far) ended."""
        self._execute(
            "UPDATE bicameral_runs SET status = ?, ended_at = ?, duration_s = "
            "COALESCE(duration_s, 0) + ?, usage = ?, cost_usd = ?, answer = ? "
            "WHERE thread_id = ?",
            (status, ended_at, duration_s, json.dumps(usage), cost_usd, answer, thread_id),
        )
        self._commit()

    # -- reading ------------------------------------------------------------------------------

    def list_runs(
        self, *, status: str | None = None, pipeline: str | None = None, limit: int = 200
    ) -> list[RunSummary]:
        """Runs, newest first, optionally filtered."""
        if "bicameral_runs" not in self._tables():
            return []
        cols = sorted(self._run_columns() & set(_RUN_COLUMNS))
        where, params = _filters(status, pipeline)
        order = "started_at DESC" if "started_at" in cols else "thread_id"
        rows = self._query(
            f"SELECT {', '.join(cols)} FROM bicameral_runs{where} ORDER BY {order} LIMIT ?",
            (*params, limit),
        )
        return [_summary(dict(zip(cols, row, strict=True))) for row in rows]

    def count_runs(self, *, status: str | None = None, pipeline: str | None = None) -> int:
        """How many runs match the filters."""
        if "bicameral_runs" not in self._tables():
            return 0
        where, params = _filters(status, pipeline)
        return int(self._query(f"SELECT COUNT(*) FROM bicameral_runs{where}", params)[0][0])

    def pipelines(self) -> list[str]:
        """Distinct pipeline names (for filters)."""
        if "bicameral_runs" not in self._tables():
            return []
        rows = self._query("SELECT DISTINCT pipeline FROM bicameral_runs ORDER BY pipeline")
        return [str(r[0]) for r in rows if r[0]]

    def get_run(self, thread_id: str) -> RunSummary | None:
        """One run's summary; ``None`` when the thread has no log."""
        if "bicameral_runs" not in self._tables():
            return None
        cols = sorted(self._run_columns() & set(_RUN_COLUMNS))
        rows = self._query(
            f"SELECT {', '.join(cols)} FROM bicameral_runs WHERE thread_id = ?", (thread_id,)
        )
        return _summary(dict(zip(cols, rows[0], strict=True))) if rows else None

    def events(self, thread_id: str, *, after: int = -1) -> list[RunEvent]:
        """A run's events in order (those with ``seq > after``)."""
        rows = self._query(
            "SELECT seq, ts, kind, data FROM bicameral_run_events WHERE thread_id = ? "
            "AND seq > ? ORDER BY seq",
            (thread_id, after),
        )
        return [RunEvent(int(s), float(t or 0), str(k), _json_dict(d)) for s, t, k, d in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes (bulk loading in benchmarks)."""
        yield
        self._commit()


def _filters(status: str | None, pipeline: str | None) -> tuple[str, tuple[Any, ...]]:
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if pipeline:
        clauses.append("pipeline = ?")
        params.append(pipeline)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def _json_dict(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else text
    except ValueError:
        return {"raw": str(text)}
    return value if isinstance(value, dict) else {"value": value}


def _summary(row: dict[str, Any]) -> RunSummary:
    return RunSummary(
        thread_id=str(row.get("thread_id")),
        pipeline=str(row.get("pipeline") or ""),
        task=str(row.get("task") or ""),
        status=str(row.get("status") or "unknown"),
        started_at=row.get("started_at"),
        ended_at=row.get("ended_at"),
        duration_s=row.get("duration_s"),
        usage=_json_dict(row.get("usage") or "{}"),
        cost_usd=float(row.get("cost_usd") or 0.0),
        answer=row.get("answer"),
        launch=_json_dict(row.get("launch") or "{}"),
        version=int(row.get("version") or 0),
    )


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
