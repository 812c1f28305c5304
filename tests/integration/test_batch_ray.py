"""``bicameral batch --ray``: a local 2-CPU Ray cluster on loopback, started by this module."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from benchmarks._common import serve_workflow  # noqa: E402
from orchestrator.batch import run_batch  # noqa: E402
from tests.integration.batch_support import (  # noqa: E402
    ROOT,
    assert_each_once,
    pipeline_file,
)

GCS_PORT = 8910
_PORTS = [
    ("--port", GCS_PORT),
    ("--node-manager-port", 8911),
    ("--object-manager-port", 8912),
    ("--ray-client-server-port", 8913),
    ("--dashboard-agent-listen-port", 8914),
    ("--dashboard-agent-grpc-port", 8915),
    ("--metrics-export-port", 8916),
    ("--runtime-env-agent-port", 8917),
    ("--min-worker-port", 8920),
    ("--max-worker-port", 8949),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head with 2 CPUs on loopback, no dashboard, no usage stats; always stopped."""
    ray_bin = shutil.which("ray") or str(Path(os.sys.executable).parent / "ray")
    temp = tmp_path_factory.mktemp("r")  # short: Ray's socket paths must stay < 108 bytes
    cmd = [ray_bin, "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    for flag, port in _PORTS:
        cmd += [flag, str(port)]
    cmd += ["--num-cpus", "2", "--include-dashboard", "false", "--temp-dir", str(temp)]
    cmd += ["--disable-usage-stats", "--include-log-monitor", "false"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    head = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", GCS_PORT), timeout=1).close()
                break
            except OSError:
                assert head.poll() is None, "ray start exited"
                assert time.monotonic() < deadline, "Ray head did not start"
                time.sleep(0.2)
        yield f"127.0.0.1:{GCS_PORT}"
    finally:
        ray.shutdown()
        head.send_signal(signal.SIGTERM)  # --block: stops every process it started
        try:
            head.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)


@pytest.mark.timeout(240)
def test_fifty_tasks_over_two_actors_one_killed(tmp_path: Path, cluster: str) -> None:
    with serve_workflow(latency_ms=50) as url:
        pipeline = pipeline_file(tmp_path, url)
        tasks = [{"id": i, "task": f"2 + 3 ({i})"} for i in range(50)]
        batch = run_batch(pipeline, tasks, workers=2, concurrency=4, ray=cluster)
        ids = []
        killed = None
        for item in batch:
            ids.append(item.id)
            assert item.result.status.value == "completed", item.result.error
            if len(ids) == 10:
                pids = batch.worker_pids()
                assert len(pids) == 2
                killed = pids[0]
                os.kill(killed, signal.SIGKILL)  # the actor's process, runs in flight
    assert killed is not None
    assert_each_once(ids, 50)
