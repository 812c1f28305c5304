"""The batch tasks file (checked up front) and results file (header, resume, refusal)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.batch.results import ResultsFile
from orchestrator.batch.tasks import TaskRow, read_tasks, thread_for
from orchestrator.exceptions import ConfigError


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_rows_read_with_optional_fields(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.jsonl",
        '{"id": 1, "task": "a"}',
        "",
        '{"id": "x", "task": "b", "workspace": "/w", "vars": {"N": 3}, "thread": "t1"}',
    )
    rows, bad = read_tasks(path)
    assert bad == []
    assert rows[0] == TaskRow(id=1, task="a")
    assert rows[1].vars == {"N": "3"} and rows[1].thread == "t1" and rows[1].workspace == "/w"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": 1, "task": ', "not valid JSON"),
        ('{"id": 1}', '"task" must be a non-empty string'),
        ('{"task": "a"}', '"id" must be'),
        ('{"id": 2, "task": "a", "colour": 1}', "unknown key 'colour'"),
        ('{"id": 2, "task": "a", "vars": [1]}', '"vars" must be'),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "t.jsonl", '{"id": 1, "task": "a"}', line)
    with pytest.raises(ConfigError, match=message) as info:
        read_tasks(path)
    assert str(info.value).startswith(f"{path}:2: ")


def test_bad_lines_skipped_when_asked(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", '{"id": 1, "task": "a"}', "nope", '{"id": 3, "task": "c"}')
    rows, bad = read_tasks(path, skip_bad_lines=True)
    assert [r.id for r in rows] == [1, 3]
    assert [(b.line, b.message.split(" (")[0]) for b in bad] == [(2, "not valid JSON")]


def test_duplicate_ids_refused_even_when_skipping(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", '{"id": 1, "task": "a"}', '{"id": "1", "task": "b"}')
    with pytest.raises(ConfigError, match=r":2: duplicate id '1' \(first on line 1\)"):
        read_tasks(path, skip_bad_lines=True)


def test_thread_is_deterministic_per_pipeline_and_id(tmp_path: Path) -> None:
    row = TaskRow(id=7, task="a")
    assert thread_for(tmp_path / "p.yaml", row) == thread_for(tmp_path / "p.yaml", row)
    assert thread_for(tmp_path / "p.yaml", row) != thread_for(tmp_path / "q.yaml", row)
    assert thread_for(tmp_path / "p.yaml", TaskRow(id=7, task="a", thread="mine")) == "mine"


def test_results_header_then_rows_and_resume(tmp_path: Path) -> None:
    out, pipeline = tmp_path / "out.jsonl", tmp_path / "p.yaml"
    with ResultsFile(out, pipeline=pipeline) as results:
        results.append({"id": 1, "status": "completed"})
        results.append({"id": "b", "status": "failed"})
    header = json.loads(out.read_text().splitlines()[0])
    assert header == {"bicameral_batch": 1, "pipeline": str(pipeline.resolve())}
    with ResultsFile(out, pipeline=pipeline) as again:
        assert again.done == {"1": "completed", "b": "failed"}


def test_retry_failed_drops_failed_rows_so_each_id_stays_once(tmp_path: Path) -> None:
    out, pipeline = tmp_path / "out.jsonl", tmp_path / "p.yaml"
    with ResultsFile(out, pipeline=pipeline) as results:
        results.append({"id": 1, "status": "completed"})
        results.append({"id": 2, "status": "budget_exhausted"})
    with ResultsFile(out, pipeline=pipeline, retry_failed=True) as again:
        assert again.done == {"1": "completed"}
        again.append({"id": 2, "status": "completed"})
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()[1:]]
    assert ids == [1, 2]


def test_torn_last_line_is_dropped(tmp_path: Path) -> None:
    out, pipeline = tmp_path / "out.jsonl", tmp_path / "p.yaml"
    with ResultsFile(out, pipeline=pipeline) as results:
        results.append({"id": 1, "status": "completed"})
    with out.open("a") as f:
        f.write('{"id": 2, "stat')  # the parent was killed mid-write
    with ResultsFile(out, pipeline=pipeline) as again:
        assert again.done == {"1": "completed"}
        again.append({"id": 2, "status": "completed"})
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()[1:]] == [1, 2]


def test_file_not_written_by_batch_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "precious.jsonl"
    out.write_text('{"id": 1, "answer": "mine"}\n')
    with pytest.raises(ConfigError, match="not written by `bicameral batch`"):
        ResultsFile(out, pipeline=tmp_path / "p.yaml")
    assert out.read_text() == '{"id": 1, "answer": "mine"}\n'


def test_results_of_another_pipeline_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    ResultsFile(out, pipeline=tmp_path / "p.yaml").close()
    with pytest.raises(ConfigError, match="another pipeline"):
        ResultsFile(out, pipeline=tmp_path / "q.yaml")
