"""File tools confined to the run's workspace: read, write, list, and edit by search/replace.

Each operation is a plain function taking the workspace first (what the coding assistant and
tests call) and a factory building the langchain tool bound to a :class:`ToolContext` (what
a pipeline offers the model). Paths go through :mod:`tools._workspace`: anything that leaves
the workspace raises :class:`WorkspaceEscapeError`; devices, FIFOs, NUL bytes and writes
inside ``.git`` raise :class:`ToolError`.

Example:
    >>> changed = apply_edits(ws, [{"path": "calc.py", "search": "a - b", "replace": "a + b"}])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import Field

from orchestrator.exceptions import ToolError
from tools._context import ToolContext
from tools._edit import replace_once
from tools._reading import MAX_SCAN_BYTES, read_lines
from tools._workspace import (
    glob_regex,
    open_beneath,
    refuse_git_metadata,
    relative,
    resolve,
)
from tools.listing import repo_files

NonEmpty = Annotated[str, Field(min_length=1)]
"""A path or search text: the schema (and so the decoding grammar) excludes ""."""

__all__ = [
    "apply_edit",
    "apply_edit_tool",
    "apply_edits",
    "list_files",
    "list_files_tool",
    "read_file",
    "read_file_tool",
    "write_file",
    "write_file_tool",
]

_MAX_LINE_CHARS = 2_000
_MAX_EDIT_BYTES = 16 * 1024 * 1024
_MAX_LIST = 500
_GLOB_CHARS = frozenset("*?[")


def read_file(
    workspace: Path,
    path: str,
    start_line: int | None = None,
    end_line: int | None = None,
    *,
    max_chars: int = 12_000,
    max_line_chars: int = _MAX_LINE_CHARS,
) -> str:
    """A text file's lines ``start_line..end_line`` (1-based, inclusive), numbered.

    The output starts with a header (``path (lines a-b of n)``); each line is
    ``<number>\\t<text>``. Output beyond ``max_chars`` stops at a line boundary with a note; a
    line longer than ``max_line_chars`` is cut with a note giving its length. Memory stays
    bounded whatever the file holds (see :mod:`tools._reading`).

    Raises:
        ToolError: a bad range, a binary file, or anything :func:`open_beneath` refuses.
        WorkspaceEscapeError: the path leaves the workspace.
    """
    tool = "read_file"
    for name, value in (("start_line", start_line), ("end_line", end_line)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ToolError(f"{name} must be a whole number from 1, got {value!r}", tool=tool)
    if start_line is not None and end_line is not None and end_line < start_line:
        raise ToolError(f"end_line {end_line} is before start_line {start_line}", tool=tool)
    real = resolve(workspace, path, tool=tool)
    display = relative(workspace, real)
    first = start_line or 1
    fd = open_beneath(workspace, real, os.O_RDONLY, display=display, tool=tool)
    try:
        found = read_lines(
            fd, first, end_line, display=display, max_chars=max_chars,
            max_line_chars=max_line_chars, tool=tool,
        )  # fmt: skip
    finally:
        os.close(fd)
    total = found.total
    of = f"{total}" if found.complete else f"at least {total}"
    if total and first > total:
        return f"{display} has {of} lines; start_line {first} is past the end"
    last = first + len(found.lines) - 1
    header = f"{display} (lines {first}-{last} of {of})" if total else f"{display} (empty)"
    body = "\n".join([header, *found.lines])
    if found.cut_at is not None:
        body += (
            f"\n[output truncated at {max_chars} characters: lines {found.cut_at}-"
            f"{min(end_line or total, total)} not shown; read them with start_line={found.cut_at}]"
        )
    if not found.complete:
        body += (
            f"\n[{display} is {found.size} bytes; lines were counted in the first "
            f"{MAX_SCAN_BYTES // (1024 * 1024)} MiB only]"
        )
    return body


def write_file(workspace: Path, path: str, content: str, *, max_bytes: int | None = None) -> str:
    """Create or overwrite a file in the workspace (parent directories are created).

    Returns a one-line confirmation. Writing inside ``.git`` is refused.
    """
    return _write(workspace, path, content, max_bytes=max_bytes, tool="write_file")[1]


def list_files(
    workspace: Path, pattern: str = "**/*", *, max_entries: int = _MAX_LIST
) -> list[str]:
    """Workspace files matching a glob, as sorted relative paths (at most ``max_entries``).

    ``**`` spans directories and ``*`` does not. A pattern without ``/`` matches file names
    at any depth (``*.py`` finds every Python file); a plain directory name lists the files
    under it. What git would ignore (``.gitignore`` files, ``.git/info/exclude``) is left
    out, and so are ``.git``, ``.venv``, ``__pycache__`` and tool caches.
    """
    tool = "list_files"
    pattern = (pattern or "**/*").strip()
    if "\x00" in pattern:
        raise ToolError("pattern contains a NUL byte", tool=tool)
    root = Path(os.path.realpath(workspace))
    if os.path.isabs(pattern) or ".." in Path(pattern).parts:
        resolved = resolve(workspace, pattern, tool=tool)  # raises when it leaves
        pattern = relative(workspace, resolved)
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if pattern in ("", "."):
        pattern = "**/*"
    if not _GLOB_CHARS & set(pattern) and resolve(workspace, pattern, tool=tool).is_dir():
        pattern = pattern.rstrip("/") + "/**/*"
    regex = glob_regex(pattern)
    by_name = "/" not in pattern
    found: list[str] = []
    for rel in repo_files(root):
        if regex.match(rel.rsplit("/", 1)[-1] if by_name else rel):
            found.append(rel)
            if len(found) > max_entries:
                break
    return found


def apply_edit(
    workspace: Path, path: str, search: str, replace: str, *, max_bytes: int = _MAX_EDIT_BYTES
) -> str:
    """Replace the one occurrence of ``search`` in a workspace file with ``replace``.

    Files over ``max_bytes`` (and results over it) are refused.

    Raises:
        ToolError: no match (the message shows the closest passages with line numbers) or
            several matches (the message gives their count and lines).
    """
    tool = "apply_edit"
    real = resolve(workspace, path, tool=tool)
    display = relative(workspace, real)
    text = _read_text(workspace, real, display, tool, max_bytes)
    try:
        done = replace_once(text, search, replace, display=display)
    except ToolError as err:
        err.tool = tool
        raise
    _write(workspace, path, done.text, max_bytes=max_bytes, tool=tool)
    end = done.first_line + done.old_lines - 1
    return (
        f"edited {display}: replaced lines {done.first_line}-{end} "
        f"({done.old_lines} lines) with {done.new_lines} lines"
    )


def apply_edits(
    workspace: Path | str, edits: Iterable[Mapping[str, Any]], *, max_bytes: int = _MAX_EDIT_BYTES
) -> list[str]:
    """Apply a batch of edits all-or-nothing; return the workspace paths whose content changed.

    Each edit is ``{"path", "content"}`` (the whole file) or ``{"path", "search", "replace"}``
    (one search/replace that must match exactly once). Edits apply in order, so several may
    touch one file. Every edit is checked first; if any fails, nothing is written.

    Raises:
        ToolError: ``edit N (path): ...`` for the first edit that is malformed or fails.
    """
    ws = Path(workspace)
    originals: dict[Path, str | None] = {}
    texts: dict[Path, str] = {}
    displays: dict[Path, str] = {}
    for index, edit in enumerate(edits):
        where = f"edit {index}"
        try:
            path = _edit_field(edit, "path")
            real = resolve(ws, path, tool="apply_edits")
            display = relative(ws, real)
            where = f"edit {index} ({display})"
            refuse_git_metadata(ws, real, display, tool="apply_edits")
            if real not in texts:
                exists = os.path.lexists(real)
                read = _read_text(ws, real, display, "apply_edits", max_bytes) if exists else None
                originals[real] = read
                displays[real] = display
            if "content" in edit:
                texts[real] = _edit_field(edit, "content")
            elif real in texts or originals[real] is not None:
                current = texts.get(real, originals[real]) or ""
                search, replace = _edit_field(edit, "search"), _edit_field(edit, "replace")
                texts[real] = replace_once(current, search, replace, display=display).text
            else:
                raise ToolError(f"no such file: {display}; give 'content' to create it")
        except ToolError as err:
            # Same class (a WorkspaceEscapeError stays one), message prefixed with the edit.
            raise type(err)(f"{where}: {err}", tool="apply_edits", details=err.details) from err
    changed = [real for real, text in texts.items() if text != originals[real]]
    for real in changed:
        _write(ws, displays[real], texts[real], max_bytes=max_bytes, tool="apply_edits")
    return [displays[real] for real in changed]


def _edit_field(edit: Mapping[str, Any], key: str) -> str:
    if not isinstance(edit, Mapping):
        raise ToolError("an edit must be an object with 'path' and 'content' or 'search'/'replace'")
    value = edit.get(key)
    if not isinstance(value, str):
        raise ToolError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _read_text(workspace: Path, real: Path, display: str, tool: str, max_bytes: int) -> str:
    fd = open_beneath(workspace, real, os.O_RDONLY, display=display, tool=tool)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise ToolError(f"{display} is {size} bytes; the limit is {max_bytes}", tool=tool)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ToolError(f"{display} is over {max_bytes} bytes", tool=tool)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{display} is not UTF-8 text", tool=tool) from None


def _write(
    workspace: Path, path: str, content: str, *, max_bytes: int | None = None, tool: str
) -> tuple[Path, str]:
    if not isinstance(content, str):
        raise ToolError("content must be a string", tool=tool)
    real = resolve(workspace, path, tool=tool)
    display = relative(workspace, real)
    refuse_git_metadata(workspace, real, display, tool=tool)
    data = content.encode("utf-8")
    if max_bytes is not None and len(data) > max_bytes:
        raise ToolError(f"content is {len(data)} bytes; the limit is {max_bytes}", tool=tool)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = open_beneath(workspace, real, flags, display=display, tool=tool, make_dirs=True)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
    return real, f"wrote {display} ({lines} lines, {len(data)} bytes)"


def read_file_tool(ctx: ToolContext) -> BaseTool:
    """The ``read_file`` tool bound to ``ctx``."""

    def read_file_(
        path: NonEmpty,
        start_line: Annotated[int | None, Field(ge=1)] = None,
        end_line: Annotated[int | None, Field(ge=1)] = None,
    ) -> str:
        """Read a text file of the workspace; each output line starts with its line number.
        Long output and very long lines are cut, with a note saying so.

        Args:
            path: file path relative to the workspace root.
            start_line: first line to show (1-based); omit to start at the top.
            end_line: last line to show (inclusive); omit to read to the end.
        """
        limit = ctx.limits.max_output_chars
        return read_file(ctx.workspace, path, start_line, end_line, max_chars=limit)

    return _tool(read_file_, "read_file")


def write_file_tool(ctx: ToolContext) -> BaseTool:
    """The ``write_file`` tool bound to ``ctx``."""

    def write_file_(path: NonEmpty, content: str) -> str:
        """Create or overwrite a file in the workspace with the given content.

        Args:
            path: file path relative to the workspace root; missing directories are created.
            content: the complete new content of the file.
        """
        max_bytes = ctx.limits.file_size_mb * 1024 * 1024
        return write_file(ctx.workspace, path, content, max_bytes=max_bytes)

    return _tool(write_file_, "write_file", changes_files=True)


def list_files_tool(ctx: ToolContext) -> BaseTool:
    """The ``list_files`` tool bound to ``ctx``."""

    def list_files_(pattern: str = "**/*") -> str:
        """List workspace files matching a glob pattern (git-ignored files are skipped).

        Args:
            pattern: glob such as "**/*.py" or "src/*"; "*.py" matches at any depth; a
                directory name lists the files under it.
        """
        found = list_files(ctx.workspace, pattern)
        if not found:
            return f"no files match {pattern!r}"
        if len(found) > _MAX_LIST:
            return "\n".join([*found[:_MAX_LIST], f"[more than {_MAX_LIST} files; narrow it]"])
        return "\n".join(found)

    return _tool(list_files_, "list_files")


def apply_edit_tool(ctx: ToolContext) -> BaseTool:
    """The ``apply_edit`` tool bound to ``ctx``."""

    def apply_edit_(path: NonEmpty, search: NonEmpty, replace: str) -> str:
        """Replace one exact passage of a workspace file. The search text must occur exactly
        once, with the same indentation and without line numbers.

        Args:
            path: file path relative to the workspace root.
            search: the exact text to find (copy it from read_file, without line numbers).
            replace: the text to put in its place.
        """
        max_bytes = ctx.limits.file_size_mb * 1024 * 1024
        return apply_edit(ctx.workspace, path, search, replace, max_bytes=max_bytes)

    return _tool(apply_edit_, "apply_edit", changes_files=True)


def _tool(fn: Any, name: str, *, changes_files: bool = False) -> BaseTool:
    return StructuredTool.from_function(
        fn,
        name=name,
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": changes_files},
    )
