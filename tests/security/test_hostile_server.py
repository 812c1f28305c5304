"""A hostile model server: huge bodies, endless streams, slowloris, gzip bombs, echoed keys.

The server (``_hostile_server.py``) runs on loopback in this process; the client runs in a
child process under an address-space cap (RLIMIT_AS) with a timeout, so a regression fails
(``MemoryError``, a traceback, a timeout) instead of eating the machine. The child reports
what the call raised, how long it took and how much its peak RSS grew.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.security._bounded import run_bounded
from tests.security._hostile_server import HostileServer

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

KEY = "sk-hostile-0123456789abcdef"
CAP = 16 * 1024 * 1024  # max_response_bytes given to the client
DEADLINE_S = 3.0

CHILD = """
import asyncio, json, os, resource, time
from orchestrator.exceptions import BicameralError
from orchestrator.models.openai_compat import OpenAICompatChatModel

os.environ["HOSTILE_KEY"] = {key!r}
options = dict(model="m", api_key_env="HOSTILE_KEY", max_retries=0, timeout=1.0,
               deadline={deadline!r}, max_response_bytes={cap!r})
model = OpenAICompatChatModel(base_urls=[{url!r}], **options)
warm = OpenAICompatChatModel(base_urls=["http://127.0.0.1:9/v1"], **options)

async def collect(m):
    return "".join([str(c.content) async for c in m.astream("hi")])

def call(m, mode):
    if mode == "invoke":
        return str(m.invoke("hi").content)
    if mode == "ainvoke":
        return str(asyncio.run(m.ainvoke("hi")).content)
    if mode == "stream":
        return "".join(str(c.content) for c in m.stream("hi"))
    return asyncio.run(collect(m))

try:  # load every module the call path needs before measuring
    call(warm, {mode!r})
except BicameralError:
    pass
vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
limit = vm + 3 * {cap!r} + (512 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
started = time.monotonic()
try:
    outcome = {{"ok": True, "text": call(model, {mode!r})[:300]}}
except BicameralError as exc:
    outcome = {{"ok": False, "type": type(exc).__name__, "text": str(exc)[:500]}}
outcome["seconds"] = time.monotonic() - started
outcome["rss_growth"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print("RESULT " + json.dumps(outcome))
"""


def attack(behaviour: str, mode: str) -> dict[str, Any]:
    with HostileServer(behaviour) as server:
        code = CHILD.format(key=KEY, deadline=DEADLINE_S, cap=CAP, url=server.base_url, mode=mode)
        done = run_bounded(code, limit_mb=4096, timeout_s=60)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    outcome: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    assert KEY not in json.dumps(outcome)
    assert outcome["rss_growth"] <= 2 * CAP, outcome
    return outcome


PLAIN = ["invoke", "ainvoke"]
STREAM = ["stream", "astream"]


@pytest.mark.parametrize("mode", PLAIN)
def test_a_1gb_body_is_cut_at_the_cap(mode: str) -> None:
    outcome = attack("huge_body", mode)
    assert not outcome["ok"] and outcome["type"] == "ModelResponseError"
    assert "larger than" in outcome["text"]


@pytest.mark.parametrize("mode", STREAM)
def test_an_endless_stream_of_valid_chunks_ends(mode: str) -> None:
    outcome = attack("endless_stream", mode)  # attack() asserts the memory bound
    assert not outcome["ok"]
    assert "larger than" in outcome["text"] or "deadline" in outcome["text"]


@pytest.mark.parametrize("mode", PLAIN + STREAM)
def test_a_1gb_error_body_is_read_only_in_part(mode: str) -> None:
    outcome = attack("huge_error", mode)
    assert not outcome["ok"] and outcome["type"] == "ModelHTTPError"
    assert "HTTP 500" in outcome["text"]


@pytest.mark.parametrize("mode", STREAM)
def test_an_endless_sse_line_is_cut_at_the_cap(mode: str) -> None:
    outcome = attack("endless_sse_line", mode)
    assert not outcome["ok"] and "larger than" in outcome["text"]


@pytest.mark.parametrize("mode", STREAM)
def test_endless_keepalive_comments_end(mode: str) -> None:
    outcome = attack("keepalive_comments", mode)
    assert not outcome["ok"] and outcome["type"] in ("ModelResponseError", "ModelConnectionError")


@pytest.mark.parametrize(
    ("behaviour", "mode"),
    [
        ("slowloris_body", "invoke"),
        ("slowloris_body", "ainvoke"),
        ("slowloris_headers", "ainvoke"),
        ("slowloris_headers", "astream"),
        ("slowloris_stream", "stream"),
        ("slowloris_stream", "astream"),
    ],
)
def test_slowloris_is_cut_at_the_deadline(behaviour: str, mode: str) -> None:
    outcome = attack(behaviour, mode)
    assert not outcome["ok"] and outcome["type"] == "ModelConnectionError"
    assert "deadline" in outcome["text"]
    assert outcome["seconds"] < DEADLINE_S + 2.0


@pytest.mark.parametrize("mode", PLAIN)
def test_a_gzip_bomb_is_cut_at_the_cap(mode: str) -> None:
    outcome = attack("gzip_bomb", mode)
    assert not outcome["ok"] and "larger than" in outcome["text"]


@pytest.mark.parametrize(
    ("behaviour", "mode"),
    [
        ("echo_auth_error", "invoke"),
        ("echo_auth_error", "ainvoke"),
        ("echo_auth_error", "astream"),
        ("echo_auth_reply", "invoke"),
        ("echo_auth_reply", "ainvoke"),
        ("echo_auth_stream", "stream"),
        ("echo_auth_stream", "astream"),
    ],
)
def test_an_echoed_api_key_never_comes_back(behaviour: str, mode: str) -> None:
    outcome = attack(behaviour, mode)  # attack() asserts the key is nowhere in the outcome
    assert "***" in outcome["text"]


@pytest.mark.parametrize("mode", PLAIN)
def test_a_deeply_nested_body_is_a_response_error(mode: str) -> None:
    outcome = attack("deep_json", mode)
    assert not outcome["ok"] and outcome["type"] == "ModelResponseError"
    assert "nested too deeply" in outcome["text"]


@pytest.mark.parametrize("mode", PLAIN)
def test_deeply_nested_tool_arguments_do_not_crash_the_client(mode: str) -> None:
    outcome = attack("deep_arguments", mode)
    assert outcome["ok"], outcome
