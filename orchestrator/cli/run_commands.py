"""``bicameral run`` and ``bicameral resume``: drive a pipeline with live progress."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.exit_codes import EXIT_INTERRUPTED, EXIT_OK, OUTSIDE_FILES_OPTION, fail
from orchestrator.cli.threads import ThreadRecord, check_thread_id, load_thread, save_thread
from orchestrator.exceptions import BicameralError, ConfigError
from orchestrator.types import RunStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.pipeline import Pipeline
    from orchestrator.redact import Redactor
    from orchestrator.result import RunResult

__all__ = ["register_run"]

OtlpOpt = Annotated[
    str | None,
    typer.Option(
        "--otlp-endpoint",
        help="send an OpenTelemetry trace of the run here (OTLP/HTTP, e.g. http://127.0.0.1:4318)",
    ),
]


def _drive(
    pipeline: Pipeline,
    *,
    task: str | None,
    thread_id: str,
    approve: bool | None,
    quiet: bool,
) -> RunResult:
    from orchestrator.cli.progress import ProgressRenderer
    from orchestrator.events import FinalEvent

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


def _report(result: RunResult, *, as_json: bool, quiet: bool, redact: Redactor) -> None:
    from orchestrator.cli.progress import format_result

    if as_json:
        typer.echo(redact(result.to_json()))
    elif quiet:  # no progress, but the outcome itself is what the user asked for
        answer = result.answer if result.ok and result.answer is not None else _brief(result)
        typer.echo(redact(answer))
    else:
        typer.echo(redact(format_result(result)))
    if result.status is RunStatus.TRUNCATED:
        typer.echo(
            "the answer was cut off by the token limit (finish_reason: length); raise the "
            "planner's max_tokens, e.g. --set models.planner.max_tokens=1024",
            err=True,
        )
    if result.status is RunStatus.INTERRUPTED:
        typer.echo(
            f"approval needed; continue with: bicameral resume {result.thread_id} "
            "--approve (or --deny)",
            err=True,
        )


def _brief(result: RunResult) -> str:
    error = f": {result.error.type}: {result.error.message}" if result.error else ""
    return f"{result.status.value}{error}"


def _exit_code(result: RunResult) -> int:
    return EXIT_OK if result.status in (RunStatus.COMPLETED, RunStatus.INTERRUPTED) else 1


def _warn_reduced_isolation() -> None:
    """Say at start-up, in one line, when this machine cannot isolate sandboxed code."""
    from tools.sandbox import Isolation, sandbox_isolation

    isolation = sandbox_isolation()
    if isolation is not Isolation.NAMESPACES:
        typer.echo(f"warning: {isolation.describe()}", err=True)


def _execute(
    record: ThreadRecord,
    *,
    task: str | None,
    approve: bool | None,
    as_json: bool,
    quiet: bool,
    origins: dict[str, str] | None = None,
    otlp_endpoint: str | None = None,
    after: Callable[[RunResult], None] | None = None,
) -> None:
    from orchestrator.loader import load_pipeline
    from orchestrator.redact import Redactor

    secrets = Redactor()
    try:
        pipeline = load_pipeline(
            record.pipeline,
            overrides=record.overrides,
            workspace=record.workspace,
            checkpoint=record.checkpoint,
            allow_outside_files=record.allow_outside_files,
            secrets=secrets,
            notice=None if (quiet or as_json) else lambda line: typer.echo(line, err=True),
            origins=origins,
            otlp_endpoint=otlp_endpoint,
        )
        if task is not None:
            save_thread(record)
        if not (quiet or as_json):
            _warn_reduced_isolation()
        result = _drive(
            pipeline,
            task=task,
            thread_id=record.thread_id,
            approve=approve,
            quiet=quiet or as_json,
        )
        if pipeline.tracing is not None:
            pipeline.tracing.flush()
    except KeyboardInterrupt:
        typer.echo(
            f"\ninterrupted; the checkpoint is kept. Resume with: bicameral resume "
            f"{record.thread_id}",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BicameralError as exc:
        raise fail(secrets(str(exc))) from None
    _report(result, as_json=as_json, quiet=quiet, redact=secrets)
    if after is not None:
        after(result)
    raise typer.Exit(_exit_code(result))


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
    as_json: Annotated[
        bool, typer.Option("--json", help="print the RunResult JSON", metavar="")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="no progress; print only the answer", metavar=""),
    ] = False,
    allow_outside_files: Annotated[bool, OUTSIDE_FILES_OPTION] = False,
    otlp_endpoint: OtlpOpt = None,
    apply_to_branch: Annotated[
        str | None,
        typer.Option(
            help="run on a copy of --workspace (a git repository) and commit the changes on "
            "this new branch; the current branch, index and files are left alone"
        ),
    ] = None,
) -> None:
    """Run a pipeline on a task."""
    from orchestrator.cli.model_flags import ModelFlags
    from orchestrator.graph.checkpoint import DEFAULT_SQLITE_URL

    if thread is not None:
        try:
            check_thread_id(thread)
        except ConfigError as exc:
            raise fail(str(exc)) from None
    flags = ModelFlags(planner_url, planner_model, reasoner_url, reasoner_model).resolve()
    if not (quiet or as_json):
        for line in flags.notices:
            typer.echo(line, err=True)
    overrides = flags.overrides + list(set_ or [])
    record = ThreadRecord(
        thread_id=thread or uuid.uuid4().hex,
        pipeline=str(file.resolve()),
        overrides=overrides,
        workspace=str(workspace.resolve()) if workspace else None,
        checkpoint=checkpoint or DEFAULT_SQLITE_URL,
        allow_outside_files=allow_outside_files,
    )
    if apply_to_branch is None:
        _execute(
            record,
            task=task,
            approve=None,
            as_json=as_json,
            quiet=quiet,
            origins=flags.origins,
            otlp_endpoint=otlp_endpoint,
        )
        return
    _run_on_branch(record, task, apply_to_branch, workspace, as_json=as_json, quiet=quiet)


def _run_on_branch(
    record: ThreadRecord,
    task: str,
    branch: str,
    workspace: Path | None,
    *,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run on a copy of the workspace, then commit what changed on the new ``branch``."""
    import shutil
    import tempfile

    from tools.git_tools import branch_problem, commit_to_branch

    if workspace is None:
        raise fail("--apply-to-branch needs --workspace (a git repository)")
    repo = workspace.resolve()
    problem = branch_problem(repo, branch)
    if problem is not None:
        raise fail(problem)
    with tempfile.TemporaryDirectory(prefix="bicameral-branch-") as tmp:
        copy = Path(tmp) / repo.name
        shutil.copytree(repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))

        def commit(result: RunResult) -> None:
            if not result.changed_files:
                typer.echo(f"no changes: branch {branch!r} not created", err=True)
                return
            try:
                sha = commit_to_branch(repo, copy, branch, f"bicameral: {task}"[:200])
            except BicameralError as exc:
                raise fail(str(exc)) from None
            typer.echo(
                f"committed {sha[:12]} on new branch {branch!r} "
                "(the current branch and files are unchanged)",
                err=True,
            )

        copied = dataclasses.replace(record, workspace=str(copy))
        _execute(copied, task=task, approve=None, as_json=as_json, quiet=quiet, after=commit)


def resume(
    thread: Annotated[str, typer.Argument(help="thread id printed by `run`")],
    approve: Annotated[
        bool, typer.Option("--approve", help="approve the pending call", metavar="")
    ] = False,
    deny: Annotated[bool, typer.Option("--deny", help="deny the pending call", metavar="")] = False,
    pipeline: Annotated[Path | None, typer.Option(help="pipeline file, if not recorded")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="checkpoint URL")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="limits.KEY=VALUE, e.g. limits.max_wall_time_s=600"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the RunResult JSON", metavar="")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="no progress; print only the answer", metavar=""),
    ] = False,
    otlp_endpoint: OtlpOpt = None,
) -> None:
    """Continue a stopped, failed or interrupted run from its checkpoint.

    The wall-time limit counts time spent running, not the pause. ``--set`` changes limits
    for the rest of the run (and later resumes of it).
    """
    from orchestrator.graph.checkpoint import DEFAULT_SQLITE_URL

    if approve and deny:
        raise fail("give --approve or --deny, not both")
    try:
        check_thread_id(thread)
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
        raise fail(str(exc)) from None
    sets = list(set_ or [])
    other = [s for s in sets if not s.startswith("limits.")]
    if other:
        raise fail(f"resume --set takes limits only (limits.KEY=VALUE), not {other[0]!r}")
    if sets:
        record = dataclasses.replace(record, overrides=[*record.overrides, *sets])
        save_thread(record)
    decision = True if approve else (False if deny else None)
    _execute(
        record,
        task=None,
        approve=decision,
        as_json=as_json,
        quiet=quiet,
        otlp_endpoint=otlp_endpoint,
    )


def register_run(app: typer.Typer) -> None:
    """Add these commands to the CLI."""
    app.command()(run)
    app.command()(resume)
