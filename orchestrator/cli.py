"""The ``bicameral`` command line: run, resume, validate, graph, schema, serve, eval.

User mistakes print one line (``file:line:col: message``) and exit 2; a run exits 0 when
completed, 1 when failed or out of budget, 130 when interrupted by Ctrl-C (the checkpoint is
kept and the resume command printed).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.capacity.command import register_plan
from orchestrator.checkpoint import DEFAULT_SQLITE_URL
from orchestrator.cli_eval import register_eval
from orchestrator.events import FinalEvent
from orchestrator.exceptions import BicameralError, ConfigError
from orchestrator.loader import flag_overrides, load_pipeline
from orchestrator.pipeline import Pipeline
from orchestrator.progress import ProgressRenderer, format_result
from orchestrator.result import RunResult
from orchestrator.threads import ThreadRecord, load_thread, save_thread
from orchestrator.types import RunStatus

__all__ = ["app", "main"]

app = typer.Typer(
    name="bicameral",
    help="Two-model agent pipelines: a tool-calling planner and a reasoning model.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _drive(
    pipeline: Pipeline,
    *,
    task: str | None,
    thread_id: str,
    approve: bool | None,
    quiet: bool,
) -> RunResult:
    async def consume() -> RunResult:
        result: RunResult | None = None
        events = (
            pipeline.astream(task, thread_id=thread_id)
            if task is not None
            else pipeline.astream_resume(thread_id, approve=approve)
        )
        with ProgressRenderer(quiet=quiet) as progress:
            async for event in events:
                progress.handle(event)
                if isinstance(event, FinalEvent):
                    result = event.result
        assert result is not None
        return result

    return asyncio.run(consume())


def _report(result: RunResult, *, as_json: bool, quiet: bool) -> None:
    if as_json:
        typer.echo(result.to_json())
    elif not quiet:
        typer.echo(format_result(result))
    if result.status is RunStatus.INTERRUPTED:
        typer.echo(
            f"approval needed; continue with: bicameral resume {result.thread_id} "
            "--approve (or --deny)",
            err=True,
        )


def _exit_code(result: RunResult) -> int:
    return EXIT_OK if result.status in (RunStatus.COMPLETED, RunStatus.INTERRUPTED) else 1


def _execute(
    record: ThreadRecord, *, task: str | None, approve: bool | None, as_json: bool, quiet: bool
) -> None:
    try:
        pipeline = load_pipeline(
            record.pipeline,
            overrides=record.overrides,
            workspace=record.workspace,
            checkpoint=record.checkpoint,
            notice=None if (quiet or as_json) else lambda line: typer.echo(line, err=True),
        )
        if task is not None:
            save_thread(record)
        result = _drive(
            pipeline,
            task=task,
            thread_id=record.thread_id,
            approve=approve,
            quiet=quiet or as_json,
        )
    except KeyboardInterrupt:
        typer.echo(
            f"\ninterrupted; the checkpoint is kept. Resume with: bicameral resume "
            f"{record.thread_id}",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BicameralError as exc:
        raise _fail(str(exc)) from None
    _report(result, as_json=as_json, quiet=quiet)
    raise typer.Exit(_exit_code(result))


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="pipeline YAML file")],
    task: Annotated[str, typer.Option("--task", "-t", help="what to do")],
    planner_url: Annotated[str | None, typer.Option(help="planner server base URL")] = None,
    reasoner_url: Annotated[str | None, typer.Option(help="reasoner server base URL")] = None,
    planner_model: Annotated[str | None, typer.Option(help="planner model name")] = None,
    reasoner_model: Annotated[str | None, typer.Option(help="reasoner model name")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
    workspace: Annotated[Path | None, typer.Option(help="directory the tools work in")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="checkpoint URL")] = None,
    thread: Annotated[str | None, typer.Option(help="thread id (default: new)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the RunResult JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")] = False,
) -> None:
    """Run a pipeline on a task."""
    overrides = flag_overrides(
        planner_url=planner_url,
        reasoner_url=reasoner_url,
        planner_model=planner_model,
        reasoner_model=reasoner_model,
    ) + list(set_ or [])
    record = ThreadRecord(
        thread_id=thread or uuid.uuid4().hex,
        pipeline=str(file.resolve()),
        overrides=overrides,
        workspace=str(workspace.resolve()) if workspace else None,
        checkpoint=checkpoint or DEFAULT_SQLITE_URL,
    )
    _execute(record, task=task, approve=None, as_json=as_json, quiet=quiet)


@app.command()
def resume(
    thread: Annotated[str, typer.Argument(help="thread id printed by `run`")],
    approve: Annotated[bool, typer.Option("--approve", help="approve the pending call")] = False,
    deny: Annotated[bool, typer.Option("--deny", help="deny the pending call")] = False,
    pipeline: Annotated[Path | None, typer.Option(help="pipeline file, if not recorded")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="checkpoint URL")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Continue a stopped, failed or interrupted run from its checkpoint."""
    if approve and deny:
        raise _fail("give --approve or --deny, not both")
    try:
        record = (
            load_thread(thread)
            if pipeline is None
            else ThreadRecord(
                thread_id=thread,
                pipeline=str(pipeline.resolve()),
                checkpoint=checkpoint or DEFAULT_SQLITE_URL,
            )
        )
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    decision = True if approve else (False if deny else None)
    _execute(record, task=None, approve=decision, as_json=as_json, quiet=quiet)


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="pipeline files")]) -> None:
    """Check pipeline files; one line per file."""
    from orchestrator.config import load_spec

    bad = 0
    for file in files:
        try:
            load_spec(file)
        except ConfigError as exc:
            bad += 1
            typer.echo(str(exc), err=True)
        else:
            typer.echo(f"{file}: ok")
    raise typer.Exit(EXIT_USAGE if bad else EXIT_OK)


@app.command()
def graph(file: Annotated[Path, typer.Argument(help="pipeline file")]) -> None:
    """Print the pipeline's graph as a Mermaid diagram."""
    try:
        pipeline = load_pipeline(file, notice=None)
        typer.echo(pipeline.compile(checkpointer="memory").get_graph().draw_mermaid())
    except BicameralError as exc:
        raise _fail(str(exc)) from None


@app.command()
def schema() -> None:
    """Print the JSON Schema of pipeline files (for editor validation and completion)."""
    from orchestrator.pipeline_schema import pipeline_json_schema_text

    typer.echo(pipeline_json_schema_text())


@app.command()
def serve(
    file: Annotated[Path, typer.Argument(help="pipeline file")],
    role: Annotated[str, typer.Option(help="planner, reasoner or all")] = "all",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the commands only")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for health")] = 1800.0,
) -> None:
    """Launch (or print) the `vllm serve` commands for the pipeline's models."""
    from orchestrator.config import load_spec
    from orchestrator.serve import launch, serve_commands

    try:
        spec = load_spec(file)
        roles = None if role == "all" else [role]
        commands = serve_commands(spec, roles)
    except BicameralError as exc:
        raise _fail(str(exc)) from None
    if dry_run:
        for cmd in commands:
            typer.echo(cmd.shell())
        raise typer.Exit(EXIT_OK)
    try:
        servers = launch(commands, timeout_s=timeout)
    except BicameralError as exc:
        raise _fail(str(exc), EXIT_RUN_FAILED) from None
    for server in servers:
        typer.echo(f"{server.command.role}: healthy at {server.command.base_url}")
    typer.echo("servers running; Ctrl-C stops them", err=True)
    try:
        for server in servers:
            server.process.wait()
    except KeyboardInterrupt:
        for server in servers:
            server.stop()
        raise typer.Exit(EXIT_INTERRUPTED) from None


register_eval(app)
register_plan(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
