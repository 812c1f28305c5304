"""What a built-in tool is bound to: the run's workspace and the sandbox limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.exceptions import ConfigError
from tools._limits import SandboxLimits

__all__ = ["ToolContext"]


@dataclass(frozen=True)
class ToolContext:
    """The workspace the file tools are confined to, the limits code runs under, and the
    command that runs the workspace's tests (detected when None).

    ``workspace`` is stored as its real path (symbolic links resolved), so every check
    compares real paths. It must be an existing directory.

    Example:
        >>> ctx = ToolContext(Path("."))
        >>> ctx.workspace.is_absolute()
        True
    """

    workspace: Path
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    test_command: str | tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        raw = os.fspath(self.workspace)
        if "\x00" in raw:
            raise ConfigError("workspace path contains a NUL byte")
        real = Path(os.path.realpath(raw))
        if not real.is_dir():
            raise ConfigError(f"workspace {raw!r} is not a directory")
        object.__setattr__(self, "workspace", real)
