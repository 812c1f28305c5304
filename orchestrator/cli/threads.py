"""Where the CLI remembers how a thread was started, so ``bicameral resume THREAD`` can
rebuild the same pipeline (file, overrides, workspace, checkpoint). Never stores secrets:
API keys stay in the environment."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orchestrator.exceptions import ConfigError

__all__ = ["ThreadRecord", "load_thread", "save_thread"]

_DIR = Path(".bicameral") / "threads"


@dataclass(frozen=True)
class ThreadRecord:
    thread_id: str
    pipeline: str
    overrides: list[str] = field(default_factory=list)
    workspace: str | None = None
    checkpoint: str | None = None


def save_thread(record: ThreadRecord, root: Path | None = None) -> Path:
    """Write the record under ``.bicameral/threads/`` (of ``root`` or the cwd)."""
    folder = (root or Path.cwd()) / _DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.thread_id}.json"
    path.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
    return path


def load_thread(thread_id: str, root: Path | None = None) -> ThreadRecord:
    """The record of ``thread_id``; ``ConfigError`` when this directory never started it."""
    path = (root or Path.cwd()) / _DIR / f"{thread_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"unknown thread {thread_id!r}: no {path} (run resume from the directory the run "
            "started in, or pass --pipeline FILE)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{path}: corrupt thread record: {exc}") from None
    return ThreadRecord(**data)
