"""The output file of ``bicameral batch``: a header line, then one result row per task.

The first line, ``{"bicameral_batch": 1, "pipeline": "/abs/pipeline.yaml"}``, marks a file
this command wrote; any other file is refused and never overwritten. Rows are appended by one
writer (the parent process), a whole line at a time and flushed, so a rerun reads which ids
are done and skips them. A line cut short by a killed parent is dropped on reopen.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from orchestrator.exceptions import ConfigError
from orchestrator.types import RunStatus

__all__ = ["FAILED_STATUSES", "HEADER_KEY", "ResultsFile"]

HEADER_KEY = "bicameral_batch"
FORMAT_VERSION = 1
FAILED_STATUSES = frozenset({RunStatus.FAILED.value, RunStatus.BUDGET_EXHAUSTED.value})
"""Statuses ``--retry-failed`` runs again."""


class ResultsFile:
    """The append-only results of one batch.

    Args:
        path: the output JSONL file (created with its header when missing or empty).
        pipeline: the pipeline file the batch runs; a file written for another is refused.
        retry_failed: drop failed rows (rewriting the file atomically) so those ids run again
            and each id still appears once.

    Raises:
        ConfigError: the file exists and was not written by ``bicameral batch``, or was
            written for another pipeline.
    """

    def __init__(self, path: str | Path, *, pipeline: str | Path, retry_failed: bool = False):
        self.path = Path(path)
        self.pipeline = str(Path(pipeline).resolve())
        self.done: dict[str, str] = {}
        """Status of each id already in the file."""
        rows = self._read_existing()
        if retry_failed and any(r["status"] in FAILED_STATUSES for r in rows):
            rows = [r for r in rows if r["status"] not in FAILED_STATUSES]
            self._rewrite(rows)
        self.done = {str(r["id"]): str(r["status"]) for r in rows}
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def _header(self) -> str:
        return json.dumps({HEADER_KEY: FORMAT_VERSION, "pipeline": self.pipeline}) + "\n"

    def _read_existing(self) -> list[dict[str, Any]]:
        name = str(self.path)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(self._header(), encoding="utf-8")
            return []
        try:
            data = self.path.read_bytes()
            first, _, rest = data.partition(b"\n")
            header = json.loads(first)
        except (OSError, ValueError):
            header = None
        if not isinstance(header, dict) or header.get(HEADER_KEY) != FORMAT_VERSION:
            raise ConfigError(
                "not written by `bicameral batch` (no batch header on line 1); refusing to "
                "append to it or overwrite it: give another --out",
                path=name,
                line=1,
            )
        if header.get("pipeline") != self.pipeline:
            raise ConfigError(
                f"holds results of another pipeline ({header.get('pipeline')}); give another --out",
                path=name,
                line=1,
            )
        complete, _, torn = rest.rpartition(b"\n")
        if torn:  # the parent died mid-line: that task was not recorded, it runs again
            with self.path.open("r+b") as f:
                f.truncate(len(first) + 1 + len(complete) + (1 if complete else 0))
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=2):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append({"id": row["id"], "status": row["status"], "line": line})
            except (ValueError, KeyError, TypeError):
                raise ConfigError("not a batch result row", path=name, line=number) from None
        return rows

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(self._header())
            f.writelines(r["line"] + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def append(self, row: dict[str, Any]) -> None:
        """Write one result row (it must hold ``id`` and ``status``) as one flushed line."""
        self._file.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        self.done[str(row["id"])] = str(row["status"])

    def close(self) -> None:
        """Flush and close."""
        self._file.close()

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
