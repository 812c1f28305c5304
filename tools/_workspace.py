"""Path confinement: every path a file tool touches resolves to a real path inside the workspace.

The checks, in order: no NUL byte; the path, taken lexically (``..`` folded, relative paths
joined to the workspace), stays inside; its real path (every symbolic link followed, dangling
ones too) stays inside. Files are then opened by that real path with ``O_NOFOLLOW`` and
checked with ``fstat`` to be regular files, so a device, FIFO or socket is refused without
blocking on it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from orchestrator.exceptions import ToolError, WorkspaceEscapeError

__all__ = [
    "IGNORED_DIRS",
    "glob_regex",
    "open_regular",
    "relative",
    "resolve",
    "walk_files",
]

IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve(workspace: Path, path: str, *, tool: str | None = None) -> Path:
    """The real path of ``path`` (relative to ``workspace`` or absolute inside it).

    Raises:
        ToolError: ``path`` is empty or holds a NUL byte.
        WorkspaceEscapeError: ``path`` leaves the workspace, lexically or through a link.
    """
    if not isinstance(path, str) or not path.strip():
        raise ToolError("path must be a non-empty string", tool=tool, details={"path": path})
    if "\x00" in path:
        raise ToolError("path contains a NUL byte", tool=tool, details={"path": path})
    root = os.path.realpath(workspace)
    given_root = os.path.abspath(workspace)
    joined = path if os.path.isabs(path) else os.path.join(root, path)
    lexical = os.path.normpath(joined)
    if not (_inside(lexical, root) or _inside(lexical, given_root)):
        why = "goes above the workspace with '..'" if ".." in Path(path).parts else "is outside"
        raise WorkspaceEscapeError(
            f"path {path!r} {why}; use a path relative to the workspace",
            tool=tool,
            details={"path": path},
        )
    real = os.path.realpath(joined)
    if not _inside(real, root):
        raise WorkspaceEscapeError(
            f"path {path!r} resolves outside the workspace through a symbolic link",
            tool=tool,
            details={"path": path},
        )
    return Path(real)


def relative(workspace: Path, real: Path) -> str:
    """``real`` relative to the workspace, POSIX style (``"."`` for the root)."""
    rel = os.path.relpath(real, os.path.realpath(workspace))
    return Path(rel).as_posix()


def open_regular(real: Path, flags: int, *, display: str, tool: str | None = None) -> int:
    """Open ``real`` (already resolved) and return the fd, refusing anything but a regular file.

    ``lstat`` first, so a device is never opened; then ``O_NOFOLLOW | O_NONBLOCK`` and an
    ``fstat`` of the descriptor, so a file swapped in between is caught and a FIFO never
    blocks.
    """
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise ToolError(f"no such file: {display}", tool=tool) from None
    else:
        _require_regular(st.st_mode, display, tool)
    try:
        fd = os.open(real, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ToolError(f"cannot open {display}: {exc.strerror}", tool=tool) from exc
    try:
        _require_regular(os.fstat(fd).st_mode, display, tool)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _require_regular(mode: int, display: str, tool: str | None) -> None:
    if stat.S_ISDIR(mode):
        raise ToolError(f"{display} is a directory", tool=tool)
    if not stat.S_ISREG(mode):
        raise ToolError(
            f"{display} is not a regular file (device, FIFO, socket or link)", tool=tool
        )


def walk_files(root: Path) -> Iterator[str]:
    """Workspace-relative POSIX paths of every non-directory entry, sorted, links not followed.

    Directories in :data:`IGNORED_DIRS` are skipped.
    """
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield Path(rel).as_posix()


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a glob over ``/``-separated paths: ``**`` spans directories, ``*`` does not.

    Example:
        >>> bool(glob_regex("src/**/*.py").match("src/a/b/c.py"))
        True
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)
