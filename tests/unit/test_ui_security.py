"""The UI's guards over real HTTP on loopback: a token off loopback, cross-site writes
refused, foreign Host headers refused, unknown threads a 404 page, HTML escaped; and
`bicameral ui` on a bad store is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from orchestrator import FakeChatModel, Pipeline
from orchestrator.cli.app import app as cli
from orchestrator.ui.security import Guard, is_loopback
from orchestrator.ui.server import UiConfig, make_app


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cp.sqlite'}"
    Pipeline(planner=FakeChatModel(["<b>bold</b>"]), checkpointer=url).run("x", thread_id="t1")
    return url


async def _client(tmp_path: Path, guard: Guard) -> TestClient:
    app = make_app(UiConfig(_store(tmp_path), guard, tmp_path))
    client = TestClient(TestServer(app, host="127.0.0.1", port=8841))
    await client.start_server()
    return client


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


async def test_off_loopback_every_request_needs_the_token(tmp_path: Path) -> None:
    guard = Guard.for_address("0.0.0.0", 8841)
    assert guard.token
    client = await _client(tmp_path, guard)
    try:
        assert (await client.get("/api/runs")).status == 401
        ok = await client.get(f"/?token={guard.token}")
        assert ok.status == 200
        assert (await client.get("/api/runs")).status == 200  # the cookie from the first visit
    finally:
        await client.close()


async def test_writes_need_our_page_and_our_origin(tmp_path: Path) -> None:
    guard = Guard.for_address("127.0.0.1", 8841)
    client = await _client(tmp_path, guard)
    try:
        body = {"approve": True}
        assert (await client.post("/api/runs/t1/decision", json=body)).status == 403
        foreign = {"X-Bicameral-CSRF": guard.csrf, "Origin": "http://evil.example"}
        assert (
            await client.post("/api/runs/t1/decision", json=body, headers=foreign)
        ).status == 403
        ours = {"X-Bicameral-CSRF": guard.csrf}
        # allowed through the guard; refused because the run is not paused
        assert (await client.post("/api/runs/t1/decision", json=body, headers=ours)).status == 409
        rebinding = await client.get("/api/runs", headers={"Host": "evil.example:8841"})
        assert rebinding.status == 403
        page = await client.get("/")
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    finally:
        await client.close()


async def test_unknown_thread_is_a_404_page_with_escaped_text(tmp_path: Path) -> None:
    client = await _client(tmp_path, Guard.for_address("127.0.0.1", 8841))
    try:
        response = await client.get("/runs/%3Cscript%3Ex%3C%2Fscript%3E")
        text = await response.text()
        assert response.status == 404 and "<script>x" not in text and "&lt;script&gt;" in text
        assert (await client.get("/api/runs/nope")).status == 404
        run = await (await client.get("/api/runs/t1")).json()
        assert run["run"]["answer"] == "<b>bold</b>"  # data as JSON; the page renders text
    finally:
        await client.close()


@pytest.mark.parametrize("name", ["missing.sqlite", "garbage.sqlite"])
def test_ui_on_a_bad_store_is_one_line_exit_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "garbage.sqlite":
        path.write_text("not sqlite " * 100)
    result = CliRunner().invoke(cli, ["ui", "--checkpoint", f"sqlite:///{path}", "--port", "8842"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
