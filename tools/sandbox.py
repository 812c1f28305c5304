"""Run Python (or any command) in a limited, isolated subprocess.

What a sandboxed process gets:

- limits (:class:`SandboxLimits`) on CPU time, address space, file size and process count,
  applied by a bootstrap (``tools/_child.py``) that then execs the command;
- where the kernel allows namespaces (:attr:`Isolation.NAMESPACES`, probed once, see
  :func:`sandbox_isolation`): its own PID namespace, so every process of the call dies when it
  returns (``setsid`` and double-forked daemons too, and also when the supervisor is
  SIGKILLed); a read-only view of the whole filesystem, cgroup files included, where only the
  working directory, the scratch directory and the workspace are writable, with private
  ``/tmp``, ``/run`` and ``/dev``; no network (a loopback of its own) unless
  ``SandboxLimits.network`` is set; no capabilities, even as uid 0;
- otherwise (:attr:`Isolation.LIMITS_ONLY`, said once in the log and in every result) a new
  session killed at the end, a pids cgroup where one can be made, and dropped capabilities;
  that guards against accidents, not against hostile code;
- a scrubbed environment: ``PATH``, locale and ``TZ`` only, never anything named like a key,
  token, secret or password, never ``BICAMERAL_*``; ``HOME`` and ``TMPDIR`` point at the
  run's own temporary directory;
- stdout and stderr captured with bounded memory and cut to ``max_output_chars`` each.

Linux is the supported platform (``pidfd``, ``prctl``, namespaces, cgroups); elsewhere the
parts that need them are skipped and the result says so.

Example:
    >>> result = run_python("print(6 * 7)")
    >>> result.stdout, result.ok
    ('42\\n', True)
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool

from orchestrator.exceptions import ToolError
from tools._cgroup import PidsCgroup, ProcessLimit, process_limit_mode
from tools._context import ToolContext
from tools._isolation import Isolation, bootstrap_command, sandbox_isolation
from tools._limits import SandboxLimits
from tools._output import CappedBuffer
from tools._workspace import open_beneath, relative, resolve

__all__ = [
    "Isolation",
    "KillReason",
    "ProcessLimit",
    "SandboxLimits",
    "SandboxResult",
    "process_limit_mode",
    "run_python",
    "run_python_tool",
    "run_sandboxed",
    "sandbox_isolation",
]

_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_DRAIN_S = 1.0
_POLL_S = 0.05
_READ_SIZE = 65536
_NAMESPACE_PROCESSES = 2  # the bootstrap and the namespace's init count in the pids cgroup


class KillReason(StrEnum):
    """Which limit stopped the program (a ``MemoryError`` exit counts as the memory limit)."""

    WALL_TIMEOUT = "wall_timeout"
    CPU_LIMIT = "cpu_limit"
    MEMORY_LIMIT = "memory_limit"
    FILE_SIZE_LIMIT = "file_size_limit"
    SIGNAL = "signal"


@dataclass(frozen=True)
class SandboxResult:
    """What a sandboxed run did.

    Attributes:
        exit_code: the exit status; negative ``-N`` when killed by signal ``N``.
        stdout: captured standard output, cut to ``max_output_chars`` with a note.
        stderr: captured standard error, likewise.
        timed_out: the wall-clock deadline was reached and the tree killed.
        killed_by: the limit that stopped it, if any.
        duration_s: wall-clock seconds.
        cpu_time_s: CPU seconds used by the main process (and children it waited for).
        truncated: stdout or stderr was cut.
        process_limit: how the process count was enforced.
        peak_processes: most processes alive at once, when the cgroup reports it.
        isolation: how far the run was isolated from the machine.
    """

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    killed_by: KillReason | None
    duration_s: float
    cpu_time_s: float
    truncated: bool
    process_limit: ProcessLimit
    peak_processes: int | None = None
    isolation: Isolation = Isolation.LIMITS_ONLY

    @property
    def ok(self) -> bool:
        """Exited with status 0 within every limit."""
        return self.exit_code == 0 and self.killed_by is None

    def to_text(self) -> str:
        """A compact rendering for a model: status line, then the non-empty streams."""
        status = f"exit code {self.exit_code}"
        if self.killed_by is not None:
            status += f", stopped by {self.killed_by.value.replace('_', ' ')}"
        parts = [f"{status} ({self.duration_s:.1f}s)"]
        if self.stdout:
            parts.append(f"--- stdout ---\n{self.stdout.rstrip()}")
        if self.stderr:
            parts.append(f"--- stderr ---\n{self.stderr.rstrip()}")
        return "\n".join(parts)


def _scrubbed_env(
    source: Mapping[str, str] | None = None, *, scratch: Path | None = None
) -> dict[str, str]:
    """The environment a sandboxed process gets: an allow-list, then a deny-list on names."""
    source = os.environ if source is None else source
    env = {
        name: source[name] for name in _KEPT_ENV if name in source and not _SECRET_NAME.search(name)
    }
    env.setdefault("PATH", _DEFAULT_PATH)
    if scratch is not None:
        env["HOME"] = env["TMPDIR"] = str(scratch)
    return {k: v for k, v in env.items() if not k.upper().startswith("BICAMERAL_")}


def run_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: SandboxLimits,
    scratch: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    writable: Sequence[Path] = (),
) -> SandboxResult:
    """Run ``argv`` under ``limits`` with ``cwd`` as working directory; never raises for
    what the program does, only when it cannot be started.

    Args:
        argv: the command; ``argv[0]`` must be an executable path.
        cwd: working directory (writable for the command).
        limits: the limits to apply.
        scratch: ``HOME`` and ``TMPDIR`` for the child (default: ``cwd``), writable.
        extra_env: variables added after scrubbing (the caller vouches for them).
        writable: more directories the command may write (the workspace); with namespace
            isolation nothing else is writable but private ``/tmp`` and ``/dev/shm``.

    Raises:
        ToolError: the command could not be started.
    """
    env = _scrubbed_env(scratch=scratch or cwd)
    env.update(extra_env or {})
    isolation = sandbox_isolation()
    isolate = isolation is Isolation.NAMESPACES
    cgroup = PidsCgroup.create(limits.max_processes + (_NAMESPACE_PROCESSES if isolate else 0))
    mode = (
        ProcessLimit.CGROUP
        if cgroup
        else (ProcessLimit.RLIMIT if os.geteuid() != 0 else ProcessLimit.NONE)
    )
    command = bootstrap_command(
        argv,
        limits,
        cgroup_procs=str(cgroup.procs_file) if cgroup else None,
        isolate=isolate,
        cwd=cwd,
        writable=[scratch or cwd, *writable],
    )
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        if cgroup:
            cgroup.remove()
        raise ToolError(f"could not start {argv[0]}: {exc}") from exc
    try:
        out, err, timed_out, status, cpu = _supervise(
            proc, start + limits.wall_timeout_s, limits, cgroup
        )
    finally:
        peak = cgroup.peak() if cgroup else None
        if cgroup:
            cgroup.remove()
    proc.returncode = status
    stdout, cut_out = out.text()
    stderr, cut_err = err.text()
    if peak is not None and isolate:
        peak = max(peak - _NAMESPACE_PROCESSES, 1)
    return SandboxResult(
        exit_code=status,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        killed_by=_kill_reason(status, timed_out, cpu, stderr, limits),
        duration_s=time.monotonic() - start,
        cpu_time_s=cpu,
        truncated=cut_out or cut_err,
        process_limit=mode,
        peak_processes=peak,
        isolation=isolation,
    )


def _supervise(
    proc: subprocess.Popen[bytes],
    deadline: float,
    limits: SandboxLimits,
    cgroup: PidsCgroup | None,
) -> tuple[CappedBuffer, CappedBuffer, bool, int, float]:
    """Pump both pipes until the process exits or the deadline passes; kill the tree; reap.

    The process is watched through a pidfd in the same selector as the pipes, so nothing
    polls. Its group is killed while the exited leader is still an unreaped zombie, so the
    group id cannot have been reused by then.
    """
    assert proc.stdout is not None and proc.stderr is not None
    out = CappedBuffer(limits.max_output_chars)
    err = CappedBuffer(limits.max_output_chars)
    buffers = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}

    def kill_tree() -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if cgroup is not None:
            cgroup.kill_all()

    pidfd = _pidfd(proc.pid)
    timed_out = killed = False
    alive = True
    stop_at = deadline
    with selectors.DefaultSelector() as sel:
        for fd in buffers:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        if pidfd is not None:
            sel.register(pidfd, selectors.EVENT_READ)
        while sel.get_map() or (alive and pidfd is None):
            if alive and pidfd is None and _exited(proc.pid):
                alive = False
                kill_tree()
                stop_at = min(stop_at, time.monotonic() + _DRAIN_S)
            remaining = stop_at - time.monotonic()
            if remaining <= 0:
                if killed or not alive:
                    break
                timed_out = killed = True
                kill_tree()
                stop_at = time.monotonic() + _DRAIN_S
                continue
            wait = remaining if pidfd is not None else min(remaining, _POLL_S)
            for key, _ in sel.select(wait):
                if key.fd == pidfd:
                    sel.unregister(pidfd)
                    alive = False
                    kill_tree()  # stray background processes end with the program
                    stop_at = min(stop_at, time.monotonic() + _DRAIN_S)
                else:
                    chunk = _read(key.fd)
                    if chunk:
                        buffers[key.fd].feed(chunk)
                    elif chunk is not None:
                        sel.unregister(key.fd)
    kill_tree()
    if pidfd is not None:
        os.close(pidfd)
    _, wait_status, usage = os.wait4(proc.pid, 0)
    proc.stdout.close()
    proc.stderr.close()
    cpu = usage.ru_utime + usage.ru_stime
    return out, err, timed_out, os.waitstatus_to_exitcode(wait_status), cpu


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited, leaving it unreaped (the fallback without a pidfd)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _read(fd: int) -> bytes | None:
    """A chunk; ``b""`` at end of file; ``None`` when nothing was ready after all."""
    try:
        return os.read(fd, _READ_SIZE)
    except BlockingIOError:
        return None
    except OSError:
        return b""


_MEMORY_ERROR = re.compile(r"^(MemoryError|.*\[Errno 12\])", re.M)
_FILE_TOO_LARGE = re.compile(r"\[Errno 27\]|File too large")


def _kill_reason(
    status: int, timed_out: bool, cpu: float, stderr: str, limits: SandboxLimits
) -> KillReason | None:
    if timed_out:
        return KillReason.WALL_TIMEOUT
    if status == -signal.SIGXCPU or (status == -signal.SIGKILL and cpu >= limits.cpu_seconds):
        return KillReason.CPU_LIMIT
    if status == -signal.SIGXFSZ or (status != 0 and _FILE_TOO_LARGE.search(stderr)):
        return KillReason.FILE_SIZE_LIMIT
    if status != 0 and _MEMORY_ERROR.search(stderr):
        return KillReason.MEMORY_LIMIT
    if status < 0:
        return KillReason.SIGNAL
    return None


def run_python(
    code: str | None = None,
    *,
    file: str | None = None,
    workspace: Path | None = None,
    limits: SandboxLimits | None = None,
    args: Sequence[str] = (),
) -> SandboxResult:
    """Run a code string, or a ``.py`` file of the workspace, with ``sys.executable``.

    The working directory is a fresh temporary directory, removed afterwards. Code strings
    run in isolated mode (``-I``); a workspace file runs with ``-E -s -B`` so its own directory
    is importable (as with plain ``python file.py``) but no bytecode lands in the workspace.

    Raises:
        ToolError: neither or both of ``code`` and ``file``; ``file`` without a workspace.
        WorkspaceEscapeError: ``file`` leaves the workspace.
    """
    limits = limits or SandboxLimits()
    if (code is None) == (file is None):
        raise ToolError("give exactly one of 'code' or 'file'", tool="run_python")
    with tempfile.TemporaryDirectory(prefix="bicameral-run-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)
        if code is not None:
            script = scratch / "snippet.py"
            script.write_text(code, encoding="utf-8")
            argv = [sys.executable, "-I", "-B", "-X", "utf8", str(script), *args]
        else:
            if workspace is None:
                raise ToolError("'file' needs a workspace", tool="run_python")
            real = resolve(workspace, str(file), tool="run_python")
            os.close(open_beneath(workspace, real, os.O_RDONLY, display=relative(workspace, real)))
            argv = [sys.executable, "-E", "-s", "-B", "-X", "utf8", str(real), *args]
        writable = [] if workspace is None else [workspace]
        return run_sandboxed(argv, cwd=scratch, limits=limits, writable=writable)


def run_python_tool(ctx: ToolContext) -> BaseTool:
    """The ``run_python`` tool bound to ``ctx``."""

    def run_python_(code: str | None = None, file: str | None = None) -> str:
        """Run Python code in a sandbox (time, memory and process limits; fresh temporary
        working directory; no network keys in the environment) and return exit code, stdout
        and stderr. Give either code or file.

        Args:
            code: Python source to run, e.g. "print(2 ** 10)".
            file: a .py file of the workspace to run instead, relative to the workspace.
        """
        result = run_python(code, file=file, workspace=ctx.workspace, limits=ctx.limits)
        return result.to_text()

    return StructuredTool.from_function(
        run_python_,
        name="run_python",
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
