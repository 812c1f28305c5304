"""``bicameral runs`` (list runs) and ``bicameral runs show THREAD`` (one run's timeline),
read from the run log beside the checkpoints."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.exit_codes import fail
from orchestrator.exceptions import ConfigError

if TYPE_CHECKING:
    from orchestrator.runlog.store import RunEvent, RunLogStore, RunSummary

__all__ = ["format_event", "register_runs"]

runs_app = typer.Typer(
    help="Runs recorded in the checkpoint store: list them, or show one's timeline.",
    invoke_without_command=True,
    no_args_is_help=False,
)

CheckpointOpt = Annotated[
    str | None,
    typer.Option("--checkpoint", help="checkpoint URL (default: the CLI's SQLite file)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _open(url: str | None) -> RunLogStore:
    from orchestrator.graph.checkpoint import DEFAULT_SQLITE_URL
    from orchestrator.runlog.store import RunLogStore

    try:
        return RunLogStore.open(url or DEFAULT_SQLITE_URL, create=False)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@runs_app.callback()
def list_runs(
    ctx: typer.Context,
    checkpoint: CheckpointOpt = None,
    status: Annotated[str | None, typer.Option(help="only runs with this status")] = None,
    pipeline: Annotated[str | None, typer.Option(help="only runs of this pipeline")] = None,
    limit: Annotated[int, typer.Option(help="at most this many (newest first)")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first: status, pipeline, task, tokens per role, cost, duration."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = checkpoint
        return
    with _open(checkpoint) as store:
        runs = store.list_runs(status=status, pipeline=pipeline, limit=limit)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in runs], indent=2))
        return
    if not runs:
        typer.echo("no runs recorded")
        return
    for run in runs:
        typer.echo(_run_line(run))


def _run_line(run: RunSummary) -> str:
    tokens = " ".join(f"{role}={n}" for role, n in sorted(run.tokens_by_role().items())) or "-"
    task = run.task.replace("\n", " ")
    task = task if len(task) <= 48 else task[:47] + "…"
    return (
        f"{run.thread_id}  {run.status:<16} {run.pipeline:<18} {_when(run.started_at)}  "
        f"{_secs(run.duration_s):>7}  ${run.cost_usd:.4f}  {tokens}  {task}"
    )


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


@runs_app.command()
def show(
    ctx: typer.Context,
    thread: Annotated[str, typer.Argument(help="thread id")],
    checkpoint: CheckpointOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one run's timeline (every recorded event)."""
    with _open(checkpoint or ctx.obj) as store:
        run = store.get_run(thread)
        if run is None:
            raise fail(f"no run {thread!r} in the run log")
        events = store.events(thread)
    if as_json:
        payload = {**run.to_dict(), "events": [e.to_dict() for e in events]}
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    typer.echo(_run_line(run))
    start = events[0].ts if events else 0.0
    for event in events:
        typer.echo(f"{event.ts - start:8.3f}s  {format_event(event)}")


def format_event(event: RunEvent) -> str:
    """One line for a stored event (unknown kinds from other versions shown as they are)."""
    d: dict[str, Any] = event.data
    kind = event.kind
    if kind == "node_start":
        return f"node {d.get('node')} started (step {d.get('step', 0)})"
    if kind == "node_end":
        return f"node {d.get('node')} ended after {float(d.get('duration_s', 0)):.3f}s"
    if kind == "model_call" and d.get("error"):
        return (
            f"{d.get('role')} model call failed after {float(d.get('latency_s', 0)):.3f}s: "
            f"{d.get('error')}"
        )
    if kind == "model_call":
        return (
            f"{d.get('role')} model call: {d.get('prompt_tokens', 0)} prompt + "
            f"{d.get('completion_tokens', 0)} completion tokens "
            f"({d.get('reasoning_tokens', 0)} reasoning) in {float(d.get('latency_s', 0)):.3f}s"
        )
    if kind == "tool_call":
        state = "ok" if d.get("ok", True) else "error"
        return (
            f"tool {d.get('tool')}({json.dumps(d.get('arguments', {}))[:120]}) {state} "
            f"in {float(d.get('duration_s', 0)):.3f}s: {str(d.get('summary', ''))[:120]!r}"
        )
    if kind == "enforcement":
        line = (
            f"schema {d.get('schema_name')} ({d.get('role')}): {d.get('outcome')} after "
            f"{d.get('attempts')} attempt(s)"
        )
        for rej in d.get("rejections") or []:
            line += f"\n            attempt {rej.get('attempt')}: " + "; ".join(
                str(e) for e in rej.get("errors", [])
            )
        return line
    if kind == "text":
        label = "thinking" if d.get("reasoning") else "text"
        return f"{d.get('role')} {label}: {str(d.get('text', ''))[:200]!r}"
    if kind == "interrupt":
        return f"approval needed: {json.dumps(d.get('request', {}))[:200]}"
    if kind == "final":
        result = d.get("result") or {}
        return f"finished: {result.get('status')}; answer: {str(result.get('answer'))[:200]!r}"
    return f"{kind}: {json.dumps(d, default=str)[:200]}"


def register_runs(app: typer.Typer) -> None:
    """Add ``runs`` to the CLI."""
    app.add_typer(runs_app, name="runs")
