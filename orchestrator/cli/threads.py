"""Where the CLI remembers how a thread was started, so ``bicameral resume THREAD`` can
rebuild the same pipeline (file, overrides, workspace, checkpoint). Never stores secrets:
API keys stay in the environment."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator.exceptions import ConfigError

__all__ = ["ThreadRecord", "check_thread_id", "load_thread", "save_thread"]

_DIR = Path(".bicameral") / "threads"
_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def check_thread_id(thread_id: str) -> str:
    """``thread_id`` if it is safe as a file name, else ``ConfigError``.

    A thread id names a file under ``.bicameral/threads``: letters, digits, ``_``, ``-`` and
    ``.`` only, starting with a letter or digit, at most 128 characters, so that no id can
    reach outside that folder (``../../x``) or name a hidden or special file.
    """
    if not _THREAD_ID.fullmatch(thread_id) or ".." in thread_id:
        shown = thread_id if len(thread_id) <= 40 else thread_id[:37] + "..."
        raise ConfigError(
            f"invalid thread id {shown!r}: use letters, digits, '_', '-' and '.' "
            "(at most 128, starting with a letter or digit)"
        )
    return thread_id


@dataclass(frozen=True)
class ThreadRecord:
    thread_id: str
    pipeline: str
    overrides: list[str] = field(default_factory=list)
    workspace: str | None = None
    checkpoint: str | None = None
    allow_outside_files: bool = False


def save_thread(record: ThreadRecord, root: Path | None = None) -> Path:
    """Write the record under ``.bicameral/threads/`` (of ``root`` or the cwd)."""
    check_thread_id(record.thread_id)
    folder = (root or Path.cwd()) / _DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.thread_id}.json"
    path.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    return path


def load_thread(thread_id: str, root: Path | None = None) -> ThreadRecord:
    """The record of ``thread_id``; ``ConfigError`` when this directory never started it."""
    path = (root or Path.cwd()) / _DIR / f"{check_thread_id(thread_id)}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"unknown thread {thread_id!r}: no {path} (run resume from the directory the run "
            "started in, or pass --pipeline FILE)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: corrupt thread record: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read thread record: {exc.strerror or exc}") from None
    fields = {"thread_id", "pipeline", "overrides", "workspace", "checkpoint"}
    fields.add("allow_outside_files")
    if not isinstance(data, dict) or not fields.issuperset(data) or "pipeline" not in data:
        raise ConfigError(f"{path}: corrupt thread record: not a thread record")
    return ThreadRecord(**data)
