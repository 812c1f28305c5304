"""What each hostile-server attack costs the client: outcome, seconds, peak RSS growth.

Runs every attack of ``tests/security/_hostile_server.py`` once per client mode, the client
in a child process under ``RLIMIT_AS`` (as ``tests/security/test_hostile_server.py`` does),
and prints one line each; nothing is asserted. The target: peak RSS growth at most twice
the response cap, every call ended by the cap or the deadline.

Run: ``python -m benchmarks.hostile_server``
"""

from __future__ import annotations

import json

from tests.security._bounded import run_bounded
from tests.security._hostile_server import BEHAVIOURS, HostileServer
from tests.security.test_hostile_server import CAP, CHILD, DEADLINE_S, KEY

STREAMING = {
    "endless_sse_line",
    "endless_stream",
    "keepalive_comments",
    "slowloris_stream",
    "echo_auth_stream",
}


def main() -> None:
    print(f"cap {CAP >> 20} MiB, deadline {DEADLINE_S:g} s")
    worst = 0
    for behaviour in BEHAVIOURS:
        modes = ["stream", "astream"] if behaviour in STREAMING else ["invoke", "ainvoke"]
        for mode in modes:
            with HostileServer(behaviour) as server:
                code = CHILD.format(
                    key=KEY, deadline=DEADLINE_S, cap=CAP, url=server.base_url, mode=mode
                )
                done = run_bounded(code, limit_mb=4096, timeout_s=90)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{behaviour:20} {mode:8} CRASHED rc={done.returncode}")
                continue
            out = json.loads(line.removeprefix("RESULT "))
            worst = max(worst, out["rss_growth"])
            what = "ok" if out["ok"] else out["type"]
            print(
                f"{behaviour:20} {mode:8} {what:22} {out['seconds']:6.2f} s  "
                f"rss +{out['rss_growth'] / 2**20:6.1f} MiB"
            )
    print(f"worst peak RSS growth: {worst / 2**20:.1f} MiB ({worst / CAP:.2f}x the cap)")


if __name__ == "__main__":
    main()
