"""The tasks file of ``bicameral batch``: one JSON object a line, read and checked up front.

A row is ``{"id": ..., "task": ...}`` with optional ``workspace``, ``vars`` (values for
``${VAR}`` in the pipeline file) and ``thread``. Every line is checked before any task runs: a
malformed line is a :class:`~orchestrator.exceptions.ConfigError` naming ``file:line`` (or,
when asked, skipped and reported), and an id given twice is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.exceptions import ConfigError

__all__ = ["BadLine", "TaskRow", "read_tasks", "task_rows", "thread_for"]

_KEYS = {"id", "task", "workspace", "vars", "thread"}


@dataclass(frozen=True)
class TaskRow:
    """One task of a batch.

    Attributes:
        id: the caller's id (string or integer), echoed in the result row.
        task: what to do.
        workspace: directory the tools work in (default: the pipeline's).
        vars: values for ``${VAR}`` in the pipeline file, over the environment.
        thread: checkpoint thread id (default: derived from the pipeline and the id, so a
            rerun with a persistent checkpointer resumes the same thread).
    """

    id: str | int
    task: str
    workspace: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)
    thread: str | None = None

    @property
    def key(self) -> str:
        """The id as a string: what the output file and the dedup work on."""
        return str(self.id)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what crosses to worker processes and Ray actors)."""
        return {
            "id": self.id,
            "task": self.task,
            "workspace": self.workspace,
            "vars": dict(self.vars),
            "thread": self.thread,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRow:
        """Check one row; raises ``ValueError`` saying what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_KEYS))})")
        ident = data.get("id")
        if isinstance(ident, bool) or not isinstance(ident, str | int) or ident == "":
            raise ValueError('"id" must be a non-empty string or an integer')
        task = data.get("task")
        if not isinstance(task, str) or not task.strip():
            raise ValueError('"task" must be a non-empty string')
        workspace = data.get("workspace")
        if workspace is not None and not isinstance(workspace, str):
            raise ValueError('"workspace" must be a string (a directory)')
        raw_vars = data.get("vars") or {}
        if not isinstance(raw_vars, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in raw_vars.items()
        ):
            raise ValueError('"vars" must be an object of names to strings')
        thread = data.get("thread")
        if thread is not None and (not isinstance(thread, str) or not thread):
            raise ValueError('"thread" must be a non-empty string')
        return cls(
            id=ident,
            task=task,
            workspace=workspace,
            vars={k: str(v) for k, v in raw_vars.items()},
            thread=thread,
        )


@dataclass(frozen=True)
class BadLine:
    """A line of the tasks file that was skipped, and why."""

    line: int
    message: str


def read_tasks(
    path: str | Path, *, skip_bad_lines: bool = False
) -> tuple[list[TaskRow], list[BadLine]]:
    """Read and check the whole tasks file before anything runs.

    Args:
        path: the JSONL file (blank lines are ignored).
        skip_bad_lines: skip malformed lines and return them instead of failing.

    Returns:
        The rows in file order and the skipped lines.

    Raises:
        ConfigError: ``file:line: what is wrong`` for a malformed line (unless skipped), an
            id given twice (never skipped), or a file that cannot be read.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("no such tasks file", path=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the tasks file: {exc}", path=name) from None
    rows: list[TaskRow] = []
    bad: list[BadLine] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = TaskRow.from_dict(json.loads(line))
        except json.JSONDecodeError as exc:
            message = f"not valid JSON ({exc.msg} at column {exc.colno})"
        except ValueError as exc:
            message = str(exc)
        else:
            if row.key in seen:
                raise ConfigError(
                    f"duplicate id {row.id!r} (first on line {seen[row.key]})",
                    path=name,
                    line=number,
                )
            seen[row.key] = number
            rows.append(row)
            continue
        if not skip_bad_lines:
            raise ConfigError(message, path=name, line=number)
        bad.append(BadLine(number, message))
    return rows, bad


def task_rows(tasks: Iterable[TaskRow | Mapping[str, Any] | str]) -> Iterator[TaskRow]:
    """Rows from what the Python API accepts: rows, dicts, or bare task strings (id = index)."""
    seen: set[str] = set()
    for index, item in enumerate(tasks):
        if isinstance(item, TaskRow):
            row = item
        elif isinstance(item, str):
            row = TaskRow(id=index, task=item)
        else:
            try:
                row = TaskRow.from_dict(item)
            except ValueError as exc:
                raise ConfigError(f"task {index}: {exc}") from None
        if row.key in seen:
            raise ConfigError(f"duplicate task id {row.id!r}")
        seen.add(row.key)
        yield row


def thread_for(pipeline: str | Path, row: TaskRow) -> str:
    """The row's thread id: its own, else one derived from the pipeline file and the id."""
    if row.thread:
        return row.thread
    digest = hashlib.sha256(f"{Path(pipeline).resolve()}\0{row.key}".encode()).hexdigest()
    return f"batch-{digest[:24]}"
