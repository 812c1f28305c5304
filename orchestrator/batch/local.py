"""Worker processes on this machine, each with its own event loop and runs in flight.

Workers are started with the ``spawn`` method (a fresh interpreter: no fork of a process
holding threads and event loops). Each talks to the parent over its own pipe: rows in,
result rows out, so the parent is the only writer of the output file. A worker that dies
(its process sentinel fires) has its unfinished rows reported lost and is replaced; a worker
whose parent died sees the pipe close and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from orchestrator.batch.backend import Finished, Lost
from orchestrator.batch.executor import BatchConfig, TaskExecutor
from orchestrator.exceptions import BicameralError, ConfigError

__all__ = ["LocalBackend"]

_START_TIMEOUT_S = 180.0


class _Worker:
    def __init__(self, ctx: Any, config: BatchConfig, name: str) -> None:
        self.conn, child = multiprocessing.Pipe(duplex=True)
        self.name = name
        self.process: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, config), name=name, daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False
        self.in_flight: dict[str, dict[str, Any]] = {}


class LocalBackend:
    """``workers`` processes with ``concurrency`` runs in flight each.

    Args:
        config: what each worker builds.
        workers: processes to run.
        concurrency: rows in flight per process.
        max_restarts: replacements allowed before the batch gives up (default: 2 per worker
            plus 4).
    """

    def __init__(
        self,
        config: BatchConfig,
        *,
        workers: int,
        concurrency: int,
        max_restarts: int | None = None,
    ) -> None:
        self.config = config
        self.concurrency = concurrency
        self._count = workers
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._restarts_left = 2 * workers + 4 if max_restarts is None else max_restarts
        self._serial = 0

    def _spawn(self) -> _Worker:
        self._serial += 1
        worker = _Worker(self._ctx, self.config, f"bicameral-batch-{self._serial}")
        self._workers.append(worker)
        return worker

    def start(self) -> None:
        for _ in range(self._count):
            self._spawn()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not all(w.ready for w in self._workers):
            if time.monotonic() > deadline:
                raise BicameralError("batch workers did not start in time")
            self.poll(1.0)

    def free_slots(self) -> int:
        return sum(self.concurrency - len(w.in_flight) for w in self._workers if w.ready)

    def submit(self, key: str, row: dict[str, Any]) -> None:
        worker = max(
            (w for w in self._workers if w.ready),
            key=lambda w: self.concurrency - len(w.in_flight),
        )
        worker.in_flight[key] = row
        worker.conn.send(("task", key, row))

    def poll(self, timeout: float) -> list[Finished | Lost]:
        events: list[Finished | Lost] = []
        by_handle: dict[Any, _Worker] = {}
        for w in self._workers:
            by_handle[w.conn] = w
            by_handle[w.process.sentinel] = w
        ready = wait(list(by_handle), timeout)
        dead: list[_Worker] = []
        for handle in ready:
            worker = by_handle[handle]
            if handle is worker.conn:
                if not self._drain(worker, events):
                    dead.append(worker)
            elif worker not in dead:
                self._drain(worker, events)  # results it sent before dying still count
                dead.append(worker)
        for worker in dict.fromkeys(dead):
            events.append(self._replace(worker))
        return events

    def _drain(self, worker: _Worker, events: list[Finished | Lost]) -> bool:
        """Read every message waiting on the worker's pipe; ``False`` when the pipe closed."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                kind = message[0]
                if kind == "result":
                    key, row = message[1], message[2]
                    if worker.in_flight.pop(key, None) is not None:
                        events.append(Finished(key, row))
                elif kind == "ready":
                    worker.ready = True
                elif kind == "fatal":
                    raise ConfigError(message[1])
        except (EOFError, OSError):
            return False
        return True

    def _replace(self, worker: _Worker) -> Lost:
        worker.process.join(5)
        worker.conn.close()
        self._workers.remove(worker)
        lost = Lost(list(worker.in_flight.values()), worker.name)
        if self._restarts_left <= 0:
            raise BicameralError(
                f"batch workers keep dying (last: {worker.name}, exit code "
                f"{worker.process.exitcode}); giving up"
            )
        self._restarts_left -= 1
        self._spawn()
        return lost

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.ready and w.process.pid is not None]

    def close(self) -> None:
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(("stop",))
        for w in self._workers:
            w.process.join(10)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(5)
            w.conn.close()
        self._workers.clear()


# -- in the worker process ------------------------------------------------------------------


def _worker_main(conn: Connection, config: BatchConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    executor = TaskExecutor(config)
    try:
        executor.check()
    except BicameralError as exc:
        conn.send(("fatal", str(exc)))
        return
    conn.send(("ready", os.getpid()))
    asyncio.run(_serve(conn, executor))


async def _serve(conn: Connection, executor: TaskExecutor) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    def read() -> None:
        try:
            while True:
                message = conn.recv()
                loop.call_soon_threadsafe(inbox.put_nowait, message)
                if message[0] == "stop":
                    return
        except (EOFError, OSError):  # the parent is gone: stop now
            loop.call_soon_threadsafe(inbox.put_nowait, ("gone",))

    threading.Thread(target=read, name="batch-inbox", daemon=True).start()
    running: set[asyncio.Task[None]] = set()

    async def one(key: str, row: dict[str, Any]) -> None:
        result = await executor.run(row)
        with contextlib.suppress(OSError):
            conn.send(("result", key, result))

    while True:
        message = await inbox.get()
        if message[0] == "task":
            task = asyncio.create_task(one(message[1], message[2]))
            running.add(task)
            task.add_done_callback(running.discard)
            continue
        if message[0] == "gone":
            for task in running:
                task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        return
