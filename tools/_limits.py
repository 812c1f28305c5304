"""Resource limits for code the tools run (``run_python``, ``run_tests``, the math tools)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from orchestrator.exceptions import ConfigError

__all__ = ["SandboxLimits"]


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one sandboxed process tree.

    Attributes:
        cpu_seconds: CPU time per process (``RLIMIT_CPU``); the process gets ``SIGXCPU``,
            then ``SIGKILL`` one second later.
        memory_mb: address space per process (``RLIMIT_AS``), in MiB. Python raises
            ``MemoryError`` when an allocation would cross it.
        file_size_mb: largest file a process may write (``RLIMIT_FSIZE``), in MiB.
        max_processes: processes and threads alive at once in the tree, the first included
            (a pids cgroup where the machine allows one, else ``RLIMIT_NPROC``).
        wall_timeout_s: wall-clock limit; at the deadline the whole tree is killed.
        max_output_chars: characters kept of stdout and of stderr each; the rest is cut
            from the middle with a note saying so. File tools use it as their output cap.
        network: let sandboxed code reach the network (off: its own network namespace with
            only a private loopback, where the machine allows namespaces).

    Example:
        >>> SandboxLimits(cpu_seconds=5, wall_timeout_s=10).memory_mb
        1024
    """

    cpu_seconds: int = 10
    memory_mb: int = 1024
    file_size_mb: int = 16
    max_processes: int = 32
    wall_timeout_s: float = 30.0
    max_output_chars: int = 12_000
    network: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "network":
                if not isinstance(value, bool):
                    raise ConfigError(f"SandboxLimits.network must be true or false, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                msg = f"SandboxLimits.{f.name} must be a positive number, got {value!r}"
                raise ConfigError(msg)
        if self.max_output_chars < 100:
            raise ConfigError("SandboxLimits.max_output_chars must be at least 100")
