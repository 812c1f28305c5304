"""Exec a command that the kernel kills when its parent dies (Linux ``PR_SET_PDEATHSIG``).

``python -I -S ./_pdeathsig.py COMMAND [ARGS...]``: stdio MCP servers are
started through this, so that a SIGKILLed orchestrator (which gets no chance to stop its
children) leaves no server running. The setting survives ``exec``. Elsewhere than Linux the
command is simply exec'd.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Arm the parent-death signal, then replace this process with ``argv``."""
    if not argv:
        sys.exit("usage: python -m orchestrator.integrations._pdeathsig COMMAND [ARGS...]")
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            sys.exit(1)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.exit(f"cannot start {argv[0]!r}: {exc.strerror}")


if __name__ == "__main__":
    main(sys.argv[1:])
