"""``bicameral batch`` on worker processes: a killed worker, a killed parent, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from benchmarks._common import serve_workflow
from orchestrator.batch import run_batch
from orchestrator.cli.app import app
from orchestrator.exceptions import ConfigError
from tests.integration.batch_support import (
    ROOT,
    assert_each_once,
    pipeline_file,
    result_rows,
    tasks_file,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def workflow_url() -> Iterator[str]:
    with serve_workflow(latency_ms=50) as url:
        yield url


@pytest.mark.timeout(180)
def test_killed_worker_process_loses_and_duplicates_nothing(
    tmp_path: Path, workflow_url: str
) -> None:
    pipeline = pipeline_file(tmp_path, workflow_url)
    tasks = [{"id": i, "task": f"2 + 3 ({i})"} for i in range(50)]
    batch = run_batch(pipeline, tasks, workers=2, concurrency=4)
    ids = []
    killed = None
    for item in batch:
        ids.append(item.id)
        assert item.result.status.value == "completed", item.result.error
        if len(ids) == 10:
            killed = batch.worker_pids()[0]
            os.kill(killed, signal.SIGKILL)  # with runs of its own in flight
    assert killed is not None
    assert_each_once(ids, 50)


@pytest.mark.timeout(240)
def test_parent_killed_mid_batch_then_rerun_gets_each_result_once(
    tmp_path: Path, workflow_url: str
) -> None:
    pipeline = pipeline_file(tmp_path, workflow_url)
    tasks, out = tasks_file(tmp_path, 60), tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "orchestrator.cli", "batch", str(pipeline)]
    cmd += ["--tasks", str(tasks), "--out", str(out), "--workers", "2", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 150
    while not (out.exists() and len(out.read_text().splitlines()) > 10):
        assert parent.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers = psutil.Process(parent.pid).children()
    parent.kill()
    parent.wait(10)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == [], "workers outlived their parent"
    first = len(result_rows(out))
    assert 10 <= first < 60
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, timeout=180, check=False)
    assert rerun.returncode == 0
    rows = result_rows(out)
    assert_each_once((r["id"] for r in rows), 60)
    assert all(r["status"] == "completed" for r in rows)
    before = out.read_text()
    again = subprocess.run(cmd, cwd=ROOT, env=env, timeout=60, check=False)
    assert again.returncode == 0 and out.read_text() == before  # nothing left to run


def test_malformed_line_exits_2_before_any_task_runs(tmp_path: Path) -> None:
    pipeline = pipeline_file(tmp_path, "http://127.0.0.1:8948/v1")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": 1, "task": "a"}\n{"id": 2, "task": 5}\n')
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["batch", str(pipeline), "--tasks", str(tasks), "--out", str(out)])
    assert result.exit_code == 2
    assert f'{tasks}:2: "task" must be a non-empty string' in result.output
    assert not out.exists()


def test_duplicate_ids_refused_at_load(tmp_path: Path) -> None:
    pipeline = pipeline_file(tmp_path, "http://127.0.0.1:8948/v1")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"id": 1, "task": "a"}\n{"id": 1, "task": "b"}\n')
    args = ["batch", str(pipeline), "--tasks", str(tasks), "--out", str(tmp_path / "o.jsonl")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "duplicate id 1" in result.output


def test_output_not_written_by_batch_is_refused(tmp_path: Path) -> None:
    pipeline = pipeline_file(tmp_path, "http://127.0.0.1:8948/v1")
    tasks = tasks_file(tmp_path, 2)
    out = tmp_path / "notes.jsonl"
    out.write_text(json.dumps({"mine": True}) + "\n")
    result = runner.invoke(app, ["batch", str(pipeline), "--tasks", str(tasks), "--out", str(out)])
    assert result.exit_code == 2
    assert "not written by `bicameral batch`" in result.output
    assert out.read_text() == json.dumps({"mine": True}) + "\n"


def test_unreachable_ray_address_is_one_line_exit_2(tmp_path: Path) -> None:
    pipeline = pipeline_file(tmp_path, "http://127.0.0.1:8948/v1")
    tasks = tasks_file(tmp_path, 2)
    args = ["batch", str(pipeline), "--tasks", str(tasks), "--out", str(tmp_path / "o.jsonl")]
    result = runner.invoke(app, [*args, "--ray", "127.0.0.1:8947"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Ray cluster")


@pytest.mark.timeout(180)
def test_eval_with_workers_solves_through_the_batch(tmp_path: Path) -> None:
    from tests.fake_openai_server import serve_in_subprocess

    data = tmp_path / "math500.jsonl"
    data.write_text(
        "".join(
            json.dumps({"unique_id": f"t/{i}", "problem": f"What is {i} + 5?", "answer": "5"})
            + "\n"
            for i in range(4)
        )
    )
    with serve_in_subprocess(content="So the answer is \\boxed{5}.") as url:
        pipeline = tmp_path / "solo.yaml"
        pipeline.write_text(f"models:\n  planner: {{base_url: '{url}', model: m}}\n")
        out = tmp_path / "eval"
        args = ["eval", "--dataset", "math500", "--pipeline", str(pipeline), "--path", str(data)]
        result = runner.invoke(app, [*args, "--out", str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "solo.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [f"t/{i}" for i in range(4)]
    assert {r["verdict"] for r in rows} == {"correct"}


@pytest.mark.timeout(120)
def test_pipeline_workers_cannot_build_is_a_config_error_and_workers_stop(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("models:\n  planner: {base_url: '${NOT_SET_ANYWHERE_X}', model: m}\n")
    batch = run_batch(path, [{"id": 1, "task": "a"}], workers=1)
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE_X"):
        next(iter(batch))
    assert batch.worker_pids() == []  # stopped, not left running
