"""One checkpoint URL grammar for the config and the openers; the sync opener closes."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest

from orchestrator import FakeChatModel, Pipeline
from orchestrator.config.checkpoint_url import parse_checkpoint_url
from orchestrator.config.loading import parse_spec
from orchestrator.exceptions import ConfigError
from orchestrator.graph.checkpoint import sqlite_path


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        ("memory", "memory", None),
        ("sqlite:///runs/cp.db", "sqlite", "runs/cp.db"),
        ("sqlite:////abs/cp.db", "sqlite", "/abs/cp.db"),
        ("sqlite://", "sqlite", ":memory:"),
        ("sqlite:///:memory:", "sqlite", ":memory:"),
        ("postgres://u@h/db", "postgres", None),
        ("postgresql://u@h/db", "postgres", None),
    ],
)
def test_grammar(url: str, kind: str, path: str | None) -> None:
    parsed = parse_checkpoint_url(url)
    assert (parsed.kind, parsed.path) == (kind, path)


@pytest.mark.parametrize("url", ["sqlite://relative.db", "redis://x", "memry"])
def test_the_config_and_the_opener_refuse_the_same_urls(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_spec(f"models: {{planner: {{}}}}\ncheckpoint: '{url}'\n", base_dir=tmp_path)
    with pytest.raises(ConfigError):
        sqlite_path(url)


def test_the_sync_sqlite_checkpointer_closes_its_connection(tmp_path: Path) -> None:
    pipeline = Pipeline(planner=FakeChatModel(["hi"]))
    graph = pipeline.compile(f"sqlite:///{tmp_path}/cp.db")
    conn = graph.checkpointer.conn  # type: ignore[union-attr]
    conn.execute("select 1")
    del graph
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError):  # before: left open
        conn.execute("select 1")
