"""Git for the coding assistant: ``git_diff``, and committing a result on a new branch.

git runs with the workspace's repository but never with anything in it that runs code: no
hooks, no fsmonitor, no external diff or text conversion drivers, no pager, and no system or
global configuration. :func:`commit_to_branch` never moves ``HEAD`` nor touches the
repository's index or working tree: it stages a (copied) working tree in a temporary index,
writes a commit whose parent is ``HEAD`` and points a new branch at it.

Example:
    >>> print(git_diff(Path("repo")))
    diff --git a/calc.py b/calc.py
    ...
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool

from orchestrator.exceptions import ToolError
from tools._context import ToolContext
from tools._workspace import relative, resolve

__all__ = ["branch_problem", "commit_to_branch", "git_diff", "git_diff_tool", "is_git_repo"]

_TIMEOUT_S = 30.0
_SAFE = (
    "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.pager=cat",
    "-c", "diff.external=", "-c", "core.sshCommand=false", "-c", "protocol.allow=never",
)  # fmt: skip


def _git(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None, tool: str = "git_diff"
) -> str:
    git = shutil.which("git")
    if git is None:
        raise ToolError("git is not installed", tool=tool)
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    base.update(env or {})
    try:
        done = subprocess.run(
            [git, *_SAFE, *args],
            cwd=cwd,
            env=base,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"git {args[0]} took longer than {_TIMEOUT_S:.0f}s", tool=tool) from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise ToolError(f"git {args[0]} failed: {lines[-1] if lines else 'error'}", tool=tool)
    return done.stdout


def is_git_repo(path: Path) -> bool:
    """Whether ``path`` is the top of a git working tree."""
    try:
        top = _git(["rev-parse", "--show-toplevel"], path).strip()
    except ToolError:
        return False
    return os.path.realpath(top) == os.path.realpath(path)


def git_diff(workspace: Path, *, path: str = ".", max_chars: int = 12_000) -> str:
    """The unified diff of the workspace's uncommitted changes (new files included).

    Raises:
        ToolError: the workspace is not a git repository, or git failed.
        WorkspaceEscapeError: ``path`` leaves the workspace.
    """
    real = resolve(workspace, path, tool="git_diff")
    root = Path(os.path.realpath(workspace))
    if not is_git_repo(root):
        raise ToolError("the workspace is not a git repository: no diff to show", tool="git_diff")
    target = relative(root, real)
    git_dir = _git(["rev-parse", "--absolute-git-dir"], root).strip()
    with tempfile.TemporaryDirectory(prefix="bicameral-index-") as tmp:
        # A private index: new files show up without touching the repository's own index.
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_DIR": git_dir}
        env["GIT_WORK_TREE"] = str(root)
        _git(["read-tree", "HEAD"], root, env=env)
        _git(["add", "-A", "--", target], root, env=env)
        args = ["diff", "--cached", "--no-ext-diff", "--no-textconv", "--no-color", "HEAD"]
        text = _git([*args, "--", target], root, env=env)
    if not text.strip():
        return "no changes"
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[diff cut at {max_chars} characters]"
    return text


def branch_problem(repo: Path, branch: str) -> str | None:
    """Why ``branch`` cannot be created in ``repo`` (one line), or None when it can."""
    root = Path(os.path.realpath(repo))
    if not root.is_dir():
        return f"{repo} is not a directory"
    if not is_git_repo(root):
        return f"{repo} is not a git repository (the top of one): cannot commit on a branch"
    try:
        _git(["check-ref-format", "--branch", branch], root, tool="apply_to_branch")
    except ToolError:
        return f"{branch!r} is not a valid branch name"
    try:
        _git(["rev-parse", "--verify", "--quiet", "HEAD"], root, tool="apply_to_branch")
    except ToolError:
        return f"{repo} has no commit yet: nothing to branch from"
    try:
        _git(["show-ref", "--verify", "--quiet", f"refs/heads/{branch}"], root)
    except ToolError:
        return None
    return f"branch {branch!r} already exists; choose a new name"


def commit_to_branch(repo: Path, tree: Path, branch: str, message: str) -> str:
    """Commit the files of ``tree`` (a copy of ``repo``'s working tree, edited) on a new
    branch ``branch`` of ``repo``, parented on ``HEAD``; returns the commit id.

    ``repo``'s ``HEAD``, index and working tree are left as they were.

    Raises:
        ToolError: ``repo`` is not a git repository, the branch name is invalid or taken.
    """
    tool = "apply_to_branch"
    root = Path(os.path.realpath(repo))
    if not is_git_repo(root):
        raise ToolError(f"{repo} is not a git repository: cannot commit on a branch", tool=tool)
    _git(["check-ref-format", "--branch", branch], root, tool=tool)
    exists = subprocess.run(
        ["git", "-C", str(root), "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"],
        capture_output=True,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1"},
    )
    if exists.returncode == 0:
        raise ToolError(f"branch {branch!r} already exists; choose a new name", tool=tool)
    git_dir = _git(["rev-parse", "--absolute-git-dir"], root, tool=tool).strip()
    with tempfile.TemporaryDirectory(prefix="bicameral-index-") as tmp:
        env = {
            "GIT_INDEX_FILE": str(Path(tmp) / "index"),
            "GIT_DIR": git_dir,
            "GIT_WORK_TREE": str(Path(os.path.realpath(tree))),
            "GIT_AUTHOR_NAME": "Bicameral",
            "GIT_AUTHOR_EMAIL": "bicameral@localhost",
            "GIT_COMMITTER_NAME": "Bicameral",
            "GIT_COMMITTER_EMAIL": "bicameral@localhost",
        }
        _git(["read-tree", "HEAD"], root, env=env, tool=tool)
        _git(["add", "-A", "."], Path(os.path.realpath(tree)), env=env, tool=tool)
        written = _git(["write-tree"], root, env=env, tool=tool).strip()
        commit = _git(
            ["commit-tree", written, "-p", "HEAD", "-m", message], root, env=env, tool=tool
        ).strip()
    _git(["branch", branch, commit], root, tool=tool)
    return commit


def git_diff_tool(ctx: ToolContext) -> BaseTool:
    """The ``git_diff`` tool bound to ``ctx``."""

    def git_diff_(path: str = ".") -> str:
        """The unified diff of the repository's uncommitted changes (against HEAD, new files
        included).

        Args:
            path: limit the diff to this file or directory, relative to the workspace.
        """
        return git_diff(ctx.workspace, path=path, max_chars=ctx.limits.max_output_chars)

    return StructuredTool.from_function(
        git_diff_,
        name="git_diff",
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
