"""The batch on a Ray cluster: one async actor per worker, each building its own pipeline.

Only task rows and plain result dicts cross the wire. Actors reserve no CPU by default
(``num_cpus=0``: they wait on model servers, not compute) and run at most ``concurrency``
rows at once (``max_concurrency``). An actor that dies has its rows reported lost and is
replaced. :func:`connect` joins a cluster (``auto`` or an address) or, only when asked
(``local``), starts one on loopback; usage statistics are off either way.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from orchestrator.batch.backend import Finished, Lost
from orchestrator.batch.executor import BatchConfig, TaskExecutor
from orchestrator.exceptions import BicameralError, ConfigError

__all__ = ["BatchActor", "RayBackend", "connect"]

_START_TIMEOUT_S = 180.0


class BatchActor:
    """One worker on the cluster (made remote by :class:`RayBackend`)."""

    def __init__(self, config: BatchConfig) -> None:
        self._executor = TaskExecutor(config)

    def ready(self) -> tuple[str, Any]:
        """Build the pipeline: ``("ready", pid)`` or ``("fatal", message)``."""
        try:
            self._executor.check()
        except BicameralError as exc:
            return ("fatal", str(exc))
        return ("ready", os.getpid())

    async def run(self, row: dict[str, Any]) -> dict[str, Any]:
        """Run one row; returns its result row."""
        return await self._executor.run(row)


def _reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} is not auto, local or host:port")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc}") from None


def connect(
    address: str, *, temp_dir: str | Path | None = None, num_cpus: int | None = None
) -> None:
    """Join the Ray cluster at ``address`` (``auto``, ``host:port``), or start a local one
    on loopback for ``local``.

    Args:
        address: ``auto`` (``RAY_ADDRESS`` or the cluster started on this machine),
            ``host:port`` of the head's GCS, ``ray://...``, or ``local``.
        temp_dir: Ray's temporary files (local cluster only; Ray's default otherwise).
        num_cpus: CPUs a local cluster offers.

    Raises:
        ConfigError: no cluster at that address.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address == "local":
        options.update(
            address="local",
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            num_cpus=num_cpus,
        )
        if temp_dir is not None:
            options["_temp_dir"] = str(Path(temp_dir).resolve())
    else:
        if address != "auto" and not address.startswith("ray://"):
            _reachable(address)
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot join the Ray cluster at {address}: {first}") from None


class RayBackend:
    """``workers`` async actors with ``concurrency`` rows in flight each.

    Args:
        config: what each actor builds.
        workers: actors to run.
        concurrency: rows in flight per actor.
        num_cpus: CPUs each actor reserves (0: none, the default).
    """

    def __init__(
        self,
        config: BatchConfig,
        *,
        workers: int,
        concurrency: int,
        num_cpus: float = 0,
        max_restarts: int | None = None,
    ) -> None:
        self.config = config
        self.concurrency = concurrency
        self._count = workers
        self._remote = ray.remote(BatchActor).options(
            num_cpus=num_cpus, max_concurrency=concurrency, max_restarts=0
        )
        self._actors: dict[Any, int] = {}  # actor -> pid
        self._in_flight: dict[Any, dict[Any, tuple[str, dict[str, Any]]]] = {}
        self._restarts_left = 2 * workers + 4 if max_restarts is None else max_restarts

    def _spawn(self) -> Any:
        actor = self._remote.remote(self.config)
        self._in_flight[actor] = {}
        return actor

    def start(self) -> None:
        actors = [self._spawn() for _ in range(self._count)]
        try:
            answers = ray.get([a.ready.remote() for a in actors], timeout=_START_TIMEOUT_S)
        except GetTimeoutError:
            raise BicameralError("Ray actors did not start in time") from None
        for actor, (kind, value) in zip(actors, answers, strict=True):
            if kind == "fatal":
                raise ConfigError(value)
            self._actors[actor] = value

    def free_slots(self) -> int:
        return sum(self.concurrency - len(self._in_flight[a]) for a in self._actors)

    def submit(self, key: str, row: dict[str, Any]) -> None:
        actor = max(self._actors, key=lambda a: self.concurrency - len(self._in_flight[a]))
        self._in_flight[actor][actor.run.remote(row)] = (key, row)

    def poll(self, timeout: float) -> list[Finished | Lost]:
        owner = {ref: a for a, refs in self._in_flight.items() for ref in refs}
        if not owner:
            return []
        ready, _ = ray.wait(list(owner), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(owner), num_returns=len(owner), timeout=0)
        events: list[Finished | Lost] = []
        dead: list[Any] = []
        for ref in ready:
            actor = owner[ref]
            if actor in dead:
                continue
            try:
                row = ray.get(ref)
            except RayActorError:
                dead.append(actor)
                continue
            except RayError as exc:  # the task itself failed: report it, the actor lives
                key, sent = self._in_flight[actor].pop(ref)
                from orchestrator.batch.executor import failed_row
                from orchestrator.batch.tasks import TaskRow, thread_for

                task = TaskRow.from_dict({k: v for k, v in sent.items() if v not in (None, {})})
                row = failed_row(task, thread_for(self.config.pipeline, task), exc)
                events.append(Finished(key, row))
                continue
            key, _ = self._in_flight[actor].pop(ref)
            events.append(Finished(key, row))
        for actor in dead:
            events.append(self._replace(actor))
        return events

    def _replace(self, actor: Any) -> Lost:
        lost = Lost([row for _, row in self._in_flight.pop(actor).values()], "actor")
        self._actors.pop(actor, None)
        ray.kill(actor, no_restart=True)
        if self._restarts_left <= 0:
            raise BicameralError("Ray actors keep dying; giving up")
        self._restarts_left -= 1
        fresh = self._spawn()
        try:
            kind, value = ray.get(fresh.ready.remote(), timeout=_START_TIMEOUT_S)
        except (RayError, GetTimeoutError) as exc:
            raise BicameralError(f"a replacement Ray actor did not start: {exc}") from None
        if kind == "fatal":
            raise ConfigError(value)
        self._actors[fresh] = value
        return lost

    def worker_pids(self) -> list[int]:
        return list(self._actors.values())

    def close(self) -> None:
        for actor in list(self._in_flight):
            with contextlib.suppress(RayError):
                ray.kill(actor, no_restart=True)
        self._actors.clear()
        self._in_flight.clear()
