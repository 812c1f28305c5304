"""The UI's routes: three pages (runs, run, new run) served from the package's static files,
a JSON API over the run log, server-sent events for live runs, and the approval and new-run
actions. Every model output reaches the page as JSON and is rendered as text (never HTML)."""

from __future__ import annotations

import asyncio
import html
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from orchestrator.exceptions import ConfigError
from orchestrator.runlog.store import RunLogStore, RunSummary
from orchestrator.ui.runner import RunManager
from orchestrator.ui.security import Guard

__all__ = ["UiConfig", "make_app"]

_STATIC = resources.files("orchestrator.ui") / "static"
_ACTIVE = frozenset({"running"})
_POLL_S = 0.25
_STREAM_LIMIT_S = 3600.0
_MAX_LIMIT = 1000
_MAX_BODY = 64 * 1024


@dataclass
class UiConfig:
    """What one UI server serves.

    Attributes:
        checkpoint: the checkpoint store URL (SQLite or PostgreSQL).
        guard: security settings (token, CSRF secret).
        pipelines_dir: pipeline files the page may start runs of.
    """

    checkpoint: str
    guard: Guard
    pipelines_dir: Path


STORE = web.AppKey("store", RunLogStore)
CONFIG = web.AppKey("config", UiConfig)
RUNS = web.AppKey("runs", RunManager)


def make_app(config: UiConfig) -> web.Application:
    """The aiohttp application; the store must already exist (``RunLogStore.open`` checks)."""
    app = web.Application(middlewares=[config.guard.middleware], client_max_size=_MAX_BODY)
    app[CONFIG] = config
    app[STORE] = RunLogStore.open(config.checkpoint, create=False)
    app[RUNS] = RunManager(config.checkpoint, config.pipelines_dir)
    app.router.add_get("/", _page)
    app.router.add_get("/new", _page)
    app.router.add_get("/runs/{thread}", _run_page)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/runs", _api_runs)
    app.router.add_post("/api/runs", _api_start)
    app.router.add_get("/api/runs/{thread}", _api_run)
    app.router.add_get("/api/runs/{thread}/events", _api_events)
    app.router.add_post("/api/runs/{thread}/decision", _api_decision)
    app.router.add_get("/api/pipelines", _api_pipelines)
    app.on_cleanup.append(_cleanup)
    return app


async def _cleanup(app: web.Application) -> None:
    await app[RUNS].close()
    app[STORE].close()


# -- pages ------------------------------------------------------------------------------------


def _shell(request: web.Request, status: int = 200) -> web.Response:
    text = (_STATIC / "index.html").read_text(encoding="utf-8")
    text = text.replace("{{csrf}}", request.app[CONFIG].guard.csrf)
    return web.Response(text=text, content_type="text/html", status=status)


async def _page(request: web.Request) -> web.Response:
    return _shell(request)


async def _run_page(request: web.Request) -> web.Response:
    thread = request.match_info["thread"]
    known = request.app[STORE].get_run(thread) is not None or not request.app[RUNS].idle(thread)
    if not known:
        return _not_found(f"No run with thread id {thread!r}.")
    return _shell(request)


def _not_found(message: str) -> web.Response:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Not found - Bicameral</title>"
        "<link rel='stylesheet' href='/static/app.css'></head><body><main class='notfound'>"
        f"<h1>404</h1><p>{html.escape(message)}</p><p><a href='/'>All runs</a></p></main>"
        "</body></html>"
    )
    return web.Response(text=body, content_type="text/html", status=404)


_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    suffix = Path(name).suffix
    if "/" in name or name.startswith(".") or suffix not in _TYPES:
        raise web.HTTPNotFound()
    item = _STATIC / name
    if not item.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=item.read_bytes(), content_type=_TYPES[suffix], charset="utf-8")


# -- API --------------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, default=str), content_type="application/json", status=status
    )


async def _api_runs(request: web.Request) -> web.Response:
    store = request.app[STORE]
    status = request.query.get("status") or None
    pipeline = request.query.get("pipeline") or None
    try:
        limit = max(1, min(int(request.query.get("limit", "200")), _MAX_LIMIT))
    except ValueError:
        limit = 200
    runs = store.list_runs(status=status, pipeline=pipeline, limit=limit)
    return _json(
        {
            "runs": [r.to_dict() for r in runs],
            "total": store.count_runs(status=status, pipeline=pipeline),
            "pipelines": store.pipelines(),
        }
    )


async def _api_run(request: web.Request) -> web.Response:
    store = request.app[STORE]
    thread = request.match_info["thread"]
    run = store.get_run(thread)
    if run is None and not request.app[RUNS].idle(thread):
        run = RunSummary(thread_id=thread, status="running")  # started, first row not yet written
    if run is None:
        return _json({"error": f"no run {thread!r}"}, status=404)
    events = [e.to_dict() for e in store.events(thread)]
    pending = None
    if run.status == "interrupted":
        pending = next(
            (e.get("request") for e in reversed(events) if e["kind"] == "interrupt"), None
        )
    resumable = bool(run.launch.get("pipeline"))
    return _json(
        {"run": run.to_dict(), "events": events, "pending": pending, "resumable": resumable}
    )


async def _api_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the run's stored events after ``after``, then new ones as they are
    written, until the run is no longer running."""
    store = request.app[STORE]
    thread = request.match_info["thread"]
    try:
        after = int(request.query.get("after", "-1"))
    except ValueError:
        after = -1
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STREAM_LIMIT_S
    while loop.time() < deadline:
        run = store.get_run(thread)
        for event in store.events(thread, after=after):
            after = event.seq
            payload = json.dumps(event.to_dict(), default=str)
            await response.write(f"id: {event.seq}\ndata: {payload}\n\n".encode())
        if run is not None and run.status not in _ACTIVE and request.app[RUNS].idle(thread):
            await response.write(f"event: end\ndata: {json.dumps(run.status)}\n\n".encode())
            break
        await asyncio.sleep(_POLL_S)
    return response


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected a JSON body") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return data


async def _api_start(request: web.Request) -> web.Response:
    data = await _body(request)
    try:
        thread = request.app[RUNS].start(str(data.get("pipeline", "")), str(data.get("task", "")))
    except ConfigError as exc:
        return _json({"error": str(exc)}, status=400)
    return _json({"thread_id": thread}, status=202)


async def _api_decision(request: web.Request) -> web.Response:
    store = request.app[STORE]
    thread = request.match_info["thread"]
    data = await _body(request)
    run = store.get_run(thread)
    if run is None:
        return _json({"error": f"no run {thread!r}"}, status=404)
    if run.status != "interrupted":
        return _json({"error": f"run {thread!r} is {run.status}, not awaiting approval"}, 409)
    try:
        request.app[RUNS].decide(thread, run.launch, bool(data.get("approve")))
    except ConfigError as exc:
        return _json({"error": str(exc)}, status=409)
    return _json({"thread_id": thread}, status=202)


async def _api_pipelines(request: web.Request) -> web.Response:
    return _json({"pipelines": request.app[RUNS].pipelines()})
