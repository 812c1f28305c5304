"""Sandbox bootstrap: limit this process, then exec the real command.

Run as ``python -I -S _child.py CONFIG_JSON -- ARGV...`` (standard library only, never
imported by the package at run time). Doing this in a fresh single-threaded interpreter,
instead of in a ``preexec_fn``, keeps the parent safe to call from threads (``preexec_fn``
may deadlock a child forked from a multi-threaded parent).

The bootstrap also asks to be SIGKILLed if its supervisor dies (``PR_SET_PDEATHSIG``), so a
crashed parent leaves no program running without its wall-clock limit. Order matters: join
the pids cgroup first, so nothing escapes it; then the rlimits; then drop
every capability from the bounding set and set ``no_new_privs``, so that after ``exec`` even
a root process cannot raise its hard limits, gain privileges through setuid binaries, or
override file permissions. Any failure exits 126 before the command runs (fail closed).
"""

from __future__ import annotations

import json
import os
import resource
import sys

_SETUP_FAILED = 126
_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_MAX_CAP = 63
_SIGKILL = 9


def _set(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _user_process_count() -> int | None:
    """Processes of this user now (Linux ``/proc``); None where that cannot be read."""
    uid = str(os.getuid())
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        count += line.split()[1] == uid
                        break
        except OSError:
            continue
    return count


def _prctl() -> object | None:
    try:
        import ctypes

        return getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    except (ImportError, OSError):
        return None


def _die_with_parent(prctl: object | None, parent: int) -> None:
    """SIGKILL this process if the supervisor dies; exit now if it already has."""
    if callable(prctl):
        prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(_SETUP_FAILED)


def _drop_privileges(prctl: object | None) -> None:
    """no_new_privs, then empty the capability bounding set (Linux; no-op elsewhere)."""
    if not callable(prctl):
        return
    prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for cap in range(_MAX_CAP + 1):
        if prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            # EINVAL: past the last capability this kernel knows; EPERM: not privileged.
            break


def main() -> None:
    config = json.loads(sys.argv[1])
    argv = sys.argv[3:]
    prctl = _prctl()
    try:
        _die_with_parent(prctl, int(config["parent_pid"]))
        if config.get("cgroup_procs"):
            with open(config["cgroup_procs"], "w", encoding="ascii") as fh:
                fh.write(str(os.getpid()))
        cpu = int(config["cpu_seconds"])
        _set(resource.RLIMIT_CPU, cpu, cpu + 1)
        _set(resource.RLIMIT_AS, int(config["memory_bytes"]))
        _set(resource.RLIMIT_FSIZE, int(config["file_size_bytes"]))
        _set(resource.RLIMIT_CORE, 0)
        running = _user_process_count()
        if os.geteuid() != 0 and running is not None:  # the kernel never applies it to root
            _set(resource.RLIMIT_NPROC, running + int(config["max_processes"]))
        _drop_privileges(prctl)
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"sandbox setup failed: {exc}\n")
        sys.stderr.flush()
        os._exit(_SETUP_FAILED)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"sandbox could not start {argv[0]}: {exc}\n")
        sys.stderr.flush()
        os._exit(127)


if __name__ == "__main__":
    main()
