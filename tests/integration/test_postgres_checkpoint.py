"""``postgres://`` checkpoints on a real, throwaway PostgreSQL server (started here, on
loopback, in a temp directory). Skipped, with the reason, where no PostgreSQL server
binaries are installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from orchestrator import FakeChatModel, ModelConnectionError, Pipeline, RunStatus
from tools.base import tool_from_function

pytest.importorskip("langgraph.checkpoint.postgres.aio", reason="needs the 'postgres' extra")


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # PostgreSQL refuses to run as root: run it as the 'postgres' user when we are root.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser")
    data = Path(tempfile.mkdtemp(prefix="bicameral-pg-"))
    if prefix:
        shutil.chown(data, user="postgres")
    port = _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*prefix, *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    try:
        run(initdb, "-D", str(data / "db"), "-U", "bicameral", "--auth=trust")
        run(
            pg_ctl,
            "-D",
            str(data / "db"),
            "-l",
            str(data / "log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(data, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL: {exc}")
    try:
        yield f"postgres://bicameral@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(data, ignore_errors=True)


def test_postgres_checkpoint_survives_a_new_pipeline(postgres_url: str) -> None:
    ran: list[int] = []

    def step(n: int) -> str:
        """Record a step.

        Args:
            n: the step number.
        """
        ran.append(n)
        return f"step {n}"

    planner = FakeChatModel(
        [
            AIMessage("", tool_calls=[{"name": "step", "args": {"n": 1}, "id": "s1"}]),
            ModelConnectionError("server went away"),
            "done",
        ]
    )

    def make() -> Pipeline:
        return Pipeline(
            planner=planner,
            tools=[tool_from_function(step)],
            checkpointer=postgres_url,
        )

    failed = make().run("steps", thread_id="pg-thread")
    assert failed.status is RunStatus.FAILED and ran == [1]
    resumed = make().resume("pg-thread")  # a new Pipeline: the state comes from PostgreSQL
    assert resumed.status is RunStatus.COMPLETED and resumed.answer == "done"
    assert ran == [1]


def test_run_log_lives_in_the_same_postgres_database(postgres_url: str) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.app import app
    from orchestrator.runlog.store import RunLogStore

    result = Pipeline(planner=FakeChatModel(["42"]), checkpointer=postgres_url, name="pg").run(
        "six times seven", thread_id="pg-log"
    )
    assert result.status is RunStatus.COMPLETED
    with RunLogStore.open(postgres_url, create=False) as store:
        [run] = [r for r in store.list_runs() if r.thread_id == "pg-log"]
        kinds = [e.kind for e in store.events("pg-log")]
    assert (run.status, run.pipeline, run.task, run.answer) == (
        "completed",
        "pg",
        "six times seven",
        "42",
    )
    assert kinds[0] == "node_start" and "model_call" in kinds and kinds[-1] == "final"
    listed = CliRunner().invoke(app, ["runs", "--checkpoint", postgres_url, "--json"])
    assert listed.exit_code == 0, listed.output
    assert "pg-log" in listed.stdout
