"""Shared helpers for the hostile-input tests (issue 20)."""

from __future__ import annotations

import time

import psutil


def survivors(marker: str, *, within_s: float = 10.0) -> list[int]:
    """Pids (zombies excluded) whose command line holds ``marker``, once none is left or
    ``within_s`` has passed; the kernel needs a moment to tear a killed tree down."""
    deadline = time.monotonic() + within_s
    while True:
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE:
                    continue
                if any(marker in part for part in proc.info["cmdline"] or ()):
                    found.append(proc.pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)  # polling a condition with a deadline, not timing anything
