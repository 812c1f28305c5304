"""Sandbox bootstrap: isolate and limit, then exec the real command.

Run as ``python -I -S _child.py CONFIG_JSON -- ARGV...`` (standard library only, never
imported by the package at run time). Doing this in a fresh single-threaded interpreter,
instead of in a ``preexec_fn``, keeps the parent safe to call from threads (``preexec_fn``
may deadlock a child forked from a multi-threaded parent).

Every process here asks to be SIGKILLed when its parent dies (``PR_SET_PDEATHSIG``), so a
crashed or SIGKILLed supervisor leaves nothing running. With ``"isolate"`` set, three
processes make up a run:

1. this bootstrap joins the pids cgroup, ``unshare``\\ s new namespaces (``_namespaces``) and
   forks; it then only relays the command's exit status (or signal) to the supervisor;
2. the first process of the new PID namespace (its init) builds the read-only mount tree,
   brings up its own loopback, drops every capability and forks the command; it reaps
   orphans and exits as soon as the command does, and the kernel then SIGKILLs everything
   left in the namespace, ``setsid`` and double-forked daemons included;
3. the command: rlimits, ``no_new_privs``, empty capability sets, then ``exec``.

Without ``"isolate"`` (a machine without namespaces) only the limits and the capability drop
apply. Any failure exits 126 before the command runs (fail closed).
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import struct
import sys
from types import ModuleType

_SETUP_FAILED = 126
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_MAX_CAP = 63


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


def _die_with_parent(prctl: object | None, parent_alive: object) -> None:
    """SIGKILL this process if its parent dies; exit now if it already has."""
    if callable(prctl):
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if callable(parent_alive) and not parent_alive():
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


def _limit(config: dict[str, object], nproc: int | None) -> None:
    cpu = int(str(config["cpu_seconds"]))
    _set(resource.RLIMIT_CPU, cpu, cpu + 1)
    _set(resource.RLIMIT_AS, int(str(config["memory_bytes"])))
    _set(resource.RLIMIT_FSIZE, int(str(config["file_size_bytes"])))
    _set(resource.RLIMIT_CORE, 0)
    if nproc is not None:  # the kernel never applies it to root
        _set(resource.RLIMIT_NPROC, nproc)


def _exec(argv: list[str]) -> None:
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; the command must not
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"sandbox could not start {argv[0]}: {exc}\n")
        sys.stderr.flush()
        os._exit(127)


def _fail(exc: BaseException) -> None:
    sys.stderr.write(f"sandbox setup failed: {exc}\n")
    sys.stderr.flush()
    os._exit(_SETUP_FAILED)


def _nproc_limit(config: dict[str, object], extra: int) -> int | None:
    running = _user_process_count()
    if os.geteuid() == 0 or running is None:
        return None
    return running + int(str(config["max_processes"])) + extra


def _isolated(config: dict[str, object], argv: list[str], prctl: object | None) -> None:
    """The three-process layout of the module docstring; never returns."""
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # after the stdlib, on purpose
    import _namespaces as ns

    nproc = _nproc_limit(config, 2)
    flags = ns.CLONE_NEWNS | ns.CLONE_NEWPID | ns.CLONE_NEWIPC | ns.CLONE_NEWUTS
    flags |= ns.CLONE_NEWCGROUP if config.get("cgroup_procs") else 0
    flags |= 0 if config.get("network") else ns.CLONE_NEWNET
    flags |= ns.CLONE_NEWUSER if os.geteuid() != 0 else 0
    ns.unshare(flags)
    lifeline_r, lifeline_w = os.pipe()
    status_r, status_w = os.pipe()
    init = os.fork()
    if init == 0:
        os.close(lifeline_w)
        os.close(status_r)
        try:
            _init(config, argv, prctl, ns, lifeline_r, status_w, nproc)
        except BaseException as exc:  # any setup failure: report it, fail closed
            _fail(exc)
    os.close(lifeline_r)
    os.close(status_w)
    _relay(init, status_r)


def _init(
    config: dict[str, object],
    argv: list[str],
    prctl: object | None,
    ns: ModuleType,
    lifeline: int,
    status_w: int,
    nproc: int | None,
) -> None:
    """PID 1 of the new namespace: build the sandbox, run the command, reap, report."""

    def parent_alive() -> bool:
        return not select.select([lifeline], [], [], 0)[0]  # readable only at EOF

    _die_with_parent(prctl, parent_alive)
    os.close(lifeline)
    writable = [str(p) for p in config["writable"]]  # type: ignore[attr-defined]
    readable = [str(p) for p in config["readable"]]  # type: ignore[attr-defined]
    ns.build_filesystem(writable, readable, int(str(config["tmpfs_mb"])))
    if not config.get("network"):
        ns.loopback_up()
    os.chdir(str(config["cwd"]))
    _drop_privileges(prctl)
    ns.clear_capabilities()
    if callable(prctl):
        prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # the command may not ptrace its init
    command = os.fork()
    if command == 0:
        os.close(status_w)
        try:
            _limit(config, nproc)
        except (OSError, ValueError) as exc:
            _fail(exc)
        _exec(argv)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(_SETUP_FAILED)
        if pid == command:
            os.write(status_w, struct.pack("i", status))
            os._exit(0)  # PID 1 exits: the kernel kills whatever is left in the namespace


def _relay(init: int, status_r: int) -> None:
    """Wait for the namespace's init, then end the way the command ended."""
    _, init_status = os.waitpid(init, 0)
    data = os.read(status_r, 4)
    status = struct.unpack("i", data)[0] if len(data) == 4 else init_status
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else _SETUP_FAILED)


def main() -> None:
    config = json.loads(sys.argv[1])
    argv = sys.argv[3:]
    prctl = _prctl()
    parent = int(config["parent_pid"])
    try:
        _die_with_parent(prctl, lambda: os.getppid() == parent)
        if config.get("cgroup_procs"):
            with open(config["cgroup_procs"], "w", encoding="ascii") as fh:
                fh.write(str(os.getpid()))
        if config.get("isolate"):
            _isolated(config, argv, prctl)
            return
        _limit(config, _nproc_limit(config, 0))
        _drop_privileges(prctl)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        _fail(exc)
    _exec(argv)


if __name__ == "__main__":
    main()
