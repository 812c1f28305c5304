"""Bounding the number of processes of a sandboxed tree, and killing all of it.

``RLIMIT_NPROC`` counts every process of the user and the kernel never enforces it for root
(the ``INIT_USER`` exemption in ``copy_process``), so where the machine lets us we put the
tree in a fresh pids cgroup instead (v1 ``pids`` hierarchy, or v2 where ``pids`` is
delegated): ``pids.max`` is exact, covers threads, and ``cgroup.procs`` names every member,
including processes that left the process group with ``setsid``. When no cgroup is writable,
non-root users still get ``RLIMIT_NPROC``; root gets nothing (:attr:`ProcessLimit.NONE`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from enum import StrEnum
from pathlib import Path

__all__ = ["PidsCgroup", "ProcessLimit", "process_limit_mode"]

_KILL_ROUNDS_S = 2.0


class ProcessLimit(StrEnum):
    """How ``SandboxLimits.max_processes`` is enforced on this machine."""

    CGROUP = "cgroup"
    RLIMIT = "rlimit"
    NONE = "none"


def _pids_parent() -> Path | None:
    """The pids cgroup directory this process is in, when its hierarchy is mounted."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    v1_path = v2_path = None
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            v1_path = path
        elif controllers == "":
            v2_path = path
    for line in mountinfo:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        mount_root, mount_point, fstype = fields[3], fields[4], rfields[0]
        if fstype == "cgroup" and v1_path and "pids" in rfields[2].split(","):
            return _join(mount_point, mount_root, v1_path)
        if fstype == "cgroup2" and v2_path is not None:
            candidate = _join(mount_point, mount_root, v2_path)
            with contextlib.suppress(OSError):
                if "pids" in (candidate / "cgroup.subtree_control").read_text().split():
                    return candidate
    return None


def _join(mount_point: str, mount_root: str, path: str) -> Path:
    rel = os.path.relpath(path, mount_root) if mount_root != "/" else path.lstrip("/")
    return Path(mount_point) / ("" if rel == "." else rel)


class PidsCgroup:
    """A throwaway pids cgroup: create, let the child join, kill everything, remove.

    The sandbox bootstrap writes its own pid to :attr:`procs_file` before it applies the
    other limits and execs, so nothing it starts is ever outside.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A new cgroup allowing ``max_pids`` tasks, or ``None`` when none can be made."""
        parent = _pids_parent()
        if parent is None:
            return None
        _remove_stale(parent)
        path = parent / f"bicameral-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            (path / "pids.max").write_text(str(max_pids))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    @property
    def procs_file(self) -> Path:
        """The file a process writes its pid to in order to join."""
        return self.path / "cgroup.procs"

    def members(self) -> list[int]:
        """Pids in the cgroup now."""
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except (OSError, ValueError):
            return []

    def peak(self) -> int | None:
        """Most tasks alive at once (``pids.peak``; ``None`` on kernels without it)."""
        try:
            return int((self.path / "pids.peak").read_text())
        except (OSError, ValueError):
            return None

    def kill_all(self) -> None:
        """SIGKILL every member once (zombies may linger until reaped; see :meth:`remove`)."""
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Kill members until none is left, then remove the directory (best effort, bounded)."""
        deadline = time.monotonic() + _KILL_ROUNDS_S
        while True:
            self.kill_all()
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.005)  # let the kernel reap the killed before the next round


def _remove_stale(parent: Path) -> None:
    """Remove cgroups left by supervisors that died (their pid is in the name)."""
    try:
        entries = list(parent.glob("bicameral-*-*"))
    except OSError:
        return
    for entry in entries:
        owner = entry.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            PidsCgroup(entry).remove()


def process_limit_mode() -> ProcessLimit:
    """How ``max_processes`` will be enforced here: probe by making (and removing) a cgroup."""
    probe = PidsCgroup.create(1)
    if probe is not None:
        probe.remove()
        return ProcessLimit.CGROUP
    return ProcessLimit.RLIMIT if os.geteuid() != 0 else ProcessLimit.NONE
