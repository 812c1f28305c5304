"""A batch of runs across processes and Ray actors, against the stand-in server's capacity.

1,000 tasks, each the two-call workflow of ``benchmarks._common`` (the planner calls ``add``,
then answers) against the loopback stand-in server answering every request after 200 ms (in
its own process). The same number of runs is in flight in every mode (``--in-flight``):

* ``1 process``: ``TaskExecutor`` on one event loop in this process (no workers);
* ``--workers 2``: :func:`orchestrator.batch.run_batch` on two worker processes;
* ``ray 2 actors``: the same on a local 2-CPU Ray cluster on loopback (``ray start``);
* ``ideal``: what the stand-in server allows: in-flight / (2 x 200 ms), and ``raw aiohttp``,
  the same two POSTs per run with no framework at all (the server's capacity on this machine).

Runs/s is over the batch itself, after workers are up (their start-up is reported apart);
CPU per run counts this process and the workers (for Ray: the actor processes), not the
server. The second table: 100 concurrent runs on one model with ``max_in_flight: 8``; the
stand-in server records the most requests it saw at once.

Usage: ``python -m benchmarks.batch [--tasks 1000] [--in-flight 64]`` from the repo root
(about 2 min; needs the ``ray`` extra for the Ray row). Writes ``benchmarks/results/batch.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import ROOT, TASK, ToolThenAnswer, platform_info, serve_workflow
from benchmarks._common import write_results as save
from orchestrator.batch import run_batch
from orchestrator.batch.executor import BatchConfig, TaskExecutor
from tests.fake_openai_server import FakeOpenAIServer

LATENCY_MS = 200.0


def _pipeline(directory: Path, url: str, extra: str = "") -> Path:
    path = directory / "pipeline.yaml"
    path.write_text(
        "models:\n"
        f"  planner: {{base_url: '{url}', model: m, max_retries: 0{extra}}}\n"
        "agents:\n  planner: {tools: ['benchmarks._common:add']}\n"
        "tools: {modules: [benchmarks._common]}\n"
    )
    return path


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def one_process(pipeline: Path, tasks: int, in_flight: int) -> dict[str, Any]:
    executor = TaskExecutor(BatchConfig(pipeline=str(pipeline)))
    executor.check()

    async def main() -> int:
        queue = list(range(tasks))
        ok = 0

        async def lane() -> None:
            nonlocal ok
            while queue:
                i = queue.pop()
                row = await executor.run({"id": i, "task": TASK})
                ok += row["status"] == "completed"

        await asyncio.gather(*(lane() for _ in range(in_flight)))
        return ok

    cpu, start = _cpu_self(), time.perf_counter()
    ok = asyncio.run(main())
    wall = time.perf_counter() - start
    return {"wall_s": wall, "cpu_s": _cpu_self() - cpu, "ok": ok, "startup_s": 0.0}


def batched(pipeline: Path, tasks: int, in_flight: int, ray: str | None) -> dict[str, Any]:
    rows = [{"id": i, "task": TASK} for i in range(tasks)]
    startup = time.perf_counter()
    batch = run_batch(pipeline, rows, workers=2, concurrency=in_flight // 2, ray=ray)
    items = iter(batch.rows())
    first = next(items)  # workers are up once the first result is back
    start = time.perf_counter()
    startup_s = start - startup
    workers = [psutil.Process(pid) for pid in batch.worker_pids()]
    cpu_self, worker_cpu = _cpu_self(), -sum(_cpu_of(p) for p in workers)
    ok = int(first["status"] == "completed")
    for row in items:
        ok += row["status"] == "completed"
        if ok == tasks - 1:  # before the workers stop
            worker_cpu += sum(_cpu_of(p) for p in workers)
    wall = time.perf_counter() - start
    cpu = _cpu_self() - cpu_self + worker_cpu
    return {"wall_s": wall, "cpu_s": cpu, "ok": ok, "startup_s": startup_s, "runs": tasks - 1}


def raw_capacity(url: str, tasks: int, in_flight: int) -> dict[str, Any]:
    import aiohttp

    first = json.dumps({"model": "m", "messages": [{"role": "user", "content": TASK}]})
    second = json.dumps(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": TASK},
                {"role": "tool", "content": "5", "tool_call_id": "c1"},
            ],
        }
    )

    async def main() -> None:
        queue = list(range(tasks))
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def lane() -> None:
                while queue:
                    queue.pop()
                    for body in (first, second):
                        async with session.post(
                            f"{url}/chat/completions",
                            data=body,
                            headers={"content-type": "application/json"},
                        ) as response:
                            await response.read()

            await asyncio.gather(*(lane() for _ in range(in_flight)))

    cpu, start = _cpu_self(), time.perf_counter()
    asyncio.run(main())
    return {"wall_s": time.perf_counter() - start, "cpu_s": _cpu_self() - cpu, "ok": tasks}


def _ray_head(temp: Path, port: int) -> subprocess.Popen[bytes]:
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    cmd = [ray_bin, "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    cmd += ["--port", str(port), "--num-cpus", "2", "--include-dashboard", "false"]
    cmd += ["--min-worker-port", str(port + 10), "--max-worker-port", str(port + 39)]
    for i, flag in enumerate(
        ["--node-manager-port", "--object-manager-port", "--ray-client-server-port",
         "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
         "--metrics-export-port", "--runtime-env-agent-port"],
        start=1,
    ):  # fmt: skip
        cmd += [flag, str(port + i)]
    cmd += ["--temp-dir", str(temp), "--disable-usage-stats", "--include-log-monitor", "false"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}
    head = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return head
        except OSError:
            if time.monotonic() > deadline or head.poll() is not None:
                raise RuntimeError("ray head did not start") from None
            time.sleep(0.2)


def max_in_flight_check(directory: Path) -> dict[str, Any]:
    from orchestrator.loader import load_pipeline

    with FakeOpenAIServer(latency_ms=50, default_reply=ToolThenAnswer()) as server:
        path = _pipeline(directory, server.base_url, ", max_in_flight: 8")
        pipeline = load_pipeline(path, checkpoint="memory", notice=None)

        async def main() -> list[Any]:
            return await asyncio.gather(*(pipeline.arun(TASK) for _ in range(100)))

        results = asyncio.run(main())
        return {
            "runs": 100,
            "completed": sum(r.ok for r in results),
            "requests": len(server.chat_requests),
            "server_max_in_flight": server.max_in_flight,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--ray-port", type=int, default=8900)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args(argv)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bb") as tmp, serve_workflow(LATENCY_MS) as url:
        directory = Path(tmp)
        pipeline = _pipeline(directory, url)
        rows["raw aiohttp"] = raw_capacity(url, args.tasks, args.in_flight)
        rows["1 process"] = one_process(pipeline, args.tasks, args.in_flight)
        rows["--workers 2"] = batched(pipeline, args.tasks, args.in_flight, None)
        if not args.no_ray:
            head = _ray_head(directory / "r", args.ray_port)
            try:
                address = f"127.0.0.1:{args.ray_port}"
                rows["ray 2 actors"] = batched(pipeline, args.tasks, args.in_flight, address)
            finally:
                import ray

                ray.shutdown()
                head.send_signal(signal.SIGTERM)
                head.wait(60)
        limit = max_in_flight_check(directory)
    ideal = args.in_flight / (2 * LATENCY_MS / 1000)
    print(f"{args.tasks} tasks x 2 calls at {LATENCY_MS:.0f} ms, {args.in_flight} runs in flight")
    print(f"{'mode':<14}{'runs/s':>9}{'vs ideal':>10}{'cpu ms/run':>12}{'startup s':>11}{'ok':>7}")
    print(f"{'ideal':<14}{ideal:>9.1f}{'1.00':>10}")
    report: dict[str, Any] = {"platform": platform_info(), "ideal_runs_per_s": ideal}
    for name, r in rows.items():
        runs = r.get("runs", args.tasks)
        rate = runs / r["wall_s"]
        cpu_ms = 1000 * r["cpu_s"] / runs
        r.update(runs_per_s=rate, cpu_ms_per_run=cpu_ms)
        startup = f"{r['startup_s']:.1f}" if "startup_s" in r else "-"
        print(
            f"{name:<14}{rate:>9.1f}{rate / ideal:>10.2f}{cpu_ms:>12.2f}{startup:>11}{r['ok']:>7}"
        )
    print(
        f"max_in_flight 8, {limit['runs']} concurrent runs: the server saw at most "
        f"{limit['server_max_in_flight']} at once ({limit['requests']} requests, "
        f"{limit['completed']} completed)"
    )
    report.update(modes=rows, max_in_flight=limit, tasks=args.tasks, in_flight=args.in_flight)
    print(f"written to {save('batch', report)}")


if __name__ == "__main__":
    main()
