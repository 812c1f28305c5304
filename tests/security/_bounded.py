"""Run attack code in a child Python with an address-space cap and a timeout, so a regression
fails the test (MemoryError, non-zero exit, timeout) instead of swapping or hanging."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "run_bounded"]

ROOT = Path(__file__).resolve().parents[2]


def run_bounded(
    code: str, *, limit_mb: int = 768, timeout_s: float = 60.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` under ``RLIMIT_AS = limit_mb``; a timeout is reported as rc -9."""

    def limit() -> None:
        cap = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=cwd or ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            preexec_fn=limit,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        err = exc.stderr if isinstance(exc.stderr, str) else ""
        return subprocess.CompletedProcess(exc.cmd, -9, out, err + "\n(timed out)")
