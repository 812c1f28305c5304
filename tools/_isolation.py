"""How far the sandbox can isolate code on this machine, and the bootstrap's command line.

:func:`sandbox_isolation` probes once per process by running a tiny program through the
namespace bootstrap (``tools/_child.py``); the answer is logged once (a warning where only
limits apply) and named in every ``SandboxResult`` and ``RunResult``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from tools._limits import SandboxLimits

__all__ = ["Isolation", "bootstrap_command", "sandbox_isolation"]

_BOOTSTRAP = str(Path(__file__).with_name("_child.py"))
_PROBE_TIMEOUT_S = 20.0
_log = logging.getLogger("tools.sandbox")


class Isolation(StrEnum):
    """How far sandboxed code is isolated from the machine (see the module docstring)."""

    NAMESPACES = "namespaces"
    LIMITS_ONLY = "limits-only"

    def describe(self) -> str:
        """One line for start-up logs and results."""
        if self is Isolation.NAMESPACES:
            return (
                "sandbox: namespaces (own PID, mount and network namespaces; read-only "
                "filesystem except the workspace and scratch; no network unless allowed)"
            )
        return (
            "sandbox: limits only (this machine refuses namespaces): sandboxed code can read "
            "and write what this user can, reach the network, and may outlive the call"
        )


def bootstrap_command(
    argv: Sequence[str],
    limits: SandboxLimits,
    *,
    cgroup_procs: str | None,
    isolate: bool,
    cwd: Path,
    writable: Sequence[Path] = (),
) -> list[str]:
    """The command that runs ``argv`` under ``limits`` through the bootstrap.

    Args:
        argv: the command.
        limits: the limits.
        cgroup_procs: the ``cgroup.procs`` file the bootstrap joins, if any.
        isolate: build the namespaces (only where :func:`sandbox_isolation` says they work).
        cwd: the working directory (writable).
        writable: more writable directories.
    """
    dirs = dict.fromkeys(os.path.realpath(p) for p in (cwd, *writable))
    config = {
        "cgroup_procs": cgroup_procs,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "file_size_bytes": limits.file_size_mb * 1024 * 1024,
        "max_processes": limits.max_processes,
        "parent_pid": os.getpid(),
        "isolate": isolate,
        "network": limits.network,
        "cwd": os.path.realpath(cwd),
        "writable": list(dirs),
        "readable": _readable(argv),
        "tmpfs_mb": max(64, limits.file_size_mb * 4),
    }
    return [sys.executable, "-I", "-S", _BOOTSTRAP, json.dumps(config), "--", *argv]


def _readable(argv: Sequence[str]) -> list[str]:
    """Paths the command needs to see even where a private ``/tmp`` or ``/run`` hides them:
    the interpreter's installation, every existing absolute path among the arguments, and the
    folder of each script among them (a worker imports its sibling modules: a checkout under
    ``/tmp`` would otherwise vanish behind the private ``/tmp``)."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix]
    found += [a.split("=", 1)[-1] for a in argv if "/" in a]
    real = [os.path.realpath(p) for p in found if os.path.isabs(p) and os.path.exists(p)]
    real += [os.path.dirname(p) for p in real if p.endswith(".py") and os.path.isfile(p)]
    return list(dict.fromkeys(real))


@functools.cache
def sandbox_isolation() -> Isolation:
    """The isolation this machine gives sandboxed code, probed once (tens of milliseconds)
    by running a tiny program in the namespaces; logged once, and named in every result."""
    isolation = _probe()
    (_log.info if isolation is Isolation.NAMESPACES else _log.warning)(isolation.describe())
    return isolation


def _probe() -> Isolation:
    if not sys.platform.startswith("linux"):
        return Isolation.LIMITS_ONLY
    with tempfile.TemporaryDirectory(prefix="bicameral-probe-", ignore_cleanup_errors=True) as tmp:
        where = Path(tmp)
        argv = [sys.executable, "-I", "-S", "-c", "open('probe', 'w').write('ok')"]
        command = bootstrap_command(
            argv, SandboxLimits(), cgroup_procs=None, isolate=True, cwd=where
        )
        try:
            done = subprocess.run(
                command,
                cwd=where,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_PROBE_TIMEOUT_S,
                check=False,
            )
            wrote = (where / "probe").read_text(encoding="utf-8")
        except (OSError, subprocess.SubprocessError):
            return Isolation.LIMITS_ONLY
        ok = done.returncode == 0 and wrote == "ok"
        if not ok:
            _log.debug("namespace probe failed: %s", done.stderr.decode(errors="replace"))
        return Isolation.NAMESPACES if ok else Isolation.LIMITS_ONLY
