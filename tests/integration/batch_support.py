"""What the batch tests share: a pipeline file for the workflow server and a tasks file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def pipeline_file(directory: Path, base_url: str, extra: str = "") -> Path:
    """A one-model pipeline whose planner calls ``add`` then answers (benchmarks._common)."""
    path = directory / "pipeline.yaml"
    path.write_text(
        "models:\n"
        f"  planner: {{base_url: '{base_url}', model: m, max_retries: 0{extra}}}\n"
        "agents:\n  planner: {tools: ['benchmarks._common:add']}\n"
        "tools: {modules: [benchmarks._common]}\n"
    )
    return path


def tasks_file(directory: Path, count: int) -> Path:
    path = directory / "tasks.jsonl"
    path.write_text(
        "".join(json.dumps({"id": i, "task": f"2 + 3 ({i})"}) + "\n" for i in range(count))
    )
    return path


def result_rows(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["bicameral_batch"] == 1
    return [json.loads(line) for line in lines[1:]]


def assert_each_once(ids: Iterable[Any], count: int) -> None:
    seen = list(ids)
    assert len(seen) == len(set(seen)), "an id came back twice"
    assert sorted(seen) == list(range(count))
