"""Path confinement: every path a file tool touches resolves to a real path inside the workspace.

The checks, in order: no NUL byte; the path, taken lexically (``..`` folded, relative paths
joined to the workspace), stays inside; its real path (every symbolic link followed, dangling
ones too) stays inside. Files are then opened by :func:`open_beneath`: one component at a
time from a descriptor of the workspace, each with ``O_NOFOLLOW``, so a directory swapped
for a symbolic link between the check and the open is refused instead of followed out; the
file is checked with ``fstat`` to be a regular file with a single link, so a device, FIFO or
socket is refused without blocking on it and a hard link to a file outside is not followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path

from orchestrator.exceptions import ToolError, WorkspaceEscapeError

__all__ = [
    "IGNORED_DIRS",
    "glob_regex",
    "open_beneath",
    "relative",
    "resolve",
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


def open_beneath(
    workspace: Path,
    real: Path,
    flags: int,
    *,
    display: str,
    tool: str | None = None,
    make_dirs: bool = False,
) -> int:
    """Open ``real`` (from :func:`resolve`) through the workspace, never following a link.

    ``O_TRUNC`` is applied only after the checks, so a refused file is never truncated.

    Args:
        workspace: the workspace root.
        real: the resolved path, inside the workspace.
        flags: ``os.open`` flags.
        display: the path as shown in messages.
        tool: the tool name for errors.
        make_dirs: create missing parent directories (``0o755``), also one at a time.

    Raises:
        ToolError: missing, not a regular file, or hard-linked.
        WorkspaceEscapeError: a component is (now) a symbolic link.
    """
    rel = os.path.relpath(real, os.path.realpath(workspace))
    parts = [] if rel == "." else rel.split(os.sep)
    if parts and parts[0] == "..":
        raise WorkspaceEscapeError(f"{display} is outside the workspace", tool=tool)
    if not parts:
        raise ToolError(f"{display} is a directory", tool=tool)
    try:
        dir_fd = os.open(os.path.realpath(workspace), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise ToolError(f"cannot open the workspace: {exc.strerror}", tool=tool) from exc
    try:
        for part in parts[:-1]:
            if make_dirs:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=dir_fd)
            next_fd = _open_component(part, dir_fd, display, tool)
            os.close(dir_fd)
            dir_fd = next_fd
        return _open_leaf(parts[-1], dir_fd, flags, display, tool)
    except OSError as exc:  # anything not classified above: one line, never a traceback
        raise ToolError(f"cannot open {display}: {exc.strerror}", tool=tool) from exc
    finally:
        os.close(dir_fd)


def _open_component(name: str, dir_fd: int, display: str, tool: str | None) -> int:
    try:
        return os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except FileNotFoundError:
        raise ToolError(f"no such file: {display}", tool=tool) from None
    except OSError as exc:
        if exc.errno == errno.ENOTDIR and not stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
            raise ToolError(f"{display}: {name} is not a directory", tool=tool) from None
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise WorkspaceEscapeError(
                f"{display}: a directory on its path is a link or changed during the call",
                tool=tool,
                details={"path": display},
            ) from None
        raise ToolError(f"cannot open {display}: {exc.strerror}", tool=tool) from exc


def _open_leaf(name: str, dir_fd: int, flags: int, display: str, tool: str | None) -> int:
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise ToolError(f"no such file: {display}", tool=tool) from None
    else:
        _require_regular(st.st_mode, display, tool)
    opened = (flags & ~os.O_TRUNC) | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, opened, 0o644, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WorkspaceEscapeError(
                f"{display} became a symbolic link during the call", tool=tool
            ) from None
        raise ToolError(f"cannot open {display}: {exc.strerror}", tool=tool) from exc
    try:
        st = os.fstat(fd)
        _require_regular(st.st_mode, display, tool)
        if st.st_nlink > 1:
            raise ToolError(
                f"{display} has {st.st_nlink} hard links; refusing a file that may also live "
                "outside the workspace",
                tool=tool,
            )
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


_GIT_MARKERS = frozenset({"HEAD", "objects", "refs", "commondir"})


def refuse_git_metadata(workspace: Path, real: Path, display: str, *, tool: str) -> None:
    """Refuse writes inside ``.git`` and writes that would make a directory a repository.

    Git takes any directory holding ``HEAD`` and ``objects``/``refs`` (or ``commondir``) for a
    repository and reads its ``config``, which can name programs to run (``core.fsmonitor``):
    an embedded bare repository such as ``vendor/lib/{HEAD,config,objects,refs}`` runs code
    on ``git status``. So no write may complete such a set anywhere in the workspace, and
    nothing is written into a directory that already is one.

    Raises:
        ToolError: the write is refused.
    """
    parts = Path(os.path.relpath(real, os.path.realpath(workspace))).parts
    if ".git" in parts:
        raise ToolError(f"refusing to write inside .git: {display}", tool=tool)
    directory = Path(os.path.realpath(workspace))
    for part in parts:
        present = {name for name in _GIT_MARKERS if os.path.lexists(directory / name)}
        after = present | ({part} & _GIT_MARKERS)
        if "HEAD" in after and ({"objects", "refs"} <= after or "commondir" in after):
            raise ToolError(
                f"refusing to write {display}: {relative(workspace, directory)} would be a git "
                "repository (HEAD, objects, refs), whose config git would obey",
                tool=tool,
            )
        directory = directory / part


def _require_regular(mode: int, display: str, tool: str | None) -> None:
    if stat.S_ISDIR(mode):
        raise ToolError(f"{display} is a directory", tool=tool)
    if not stat.S_ISREG(mode):
        raise ToolError(
            f"{display} is not a regular file (device, FIFO, socket or link)", tool=tool
        )


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
