"""The workspace's files as git would see them: ``.gitignore`` rules respected.

:func:`repo_files` walks the workspace (links not followed, :data:`IGNORED_DIRS` skipped) and
drops what the ``.gitignore`` files say to ignore, nested ones included, matched by
``pathspec``'s implementation of git's wildmatch rules. ``.git/info/exclude`` applies too. It
is what ``repo_map``, ``search`` (whose ripgrep applies the same rules itself) and the
localiser see as "the repository".

Example:
    >>> repo_files(Path("repo"), pattern="**/*.py")
    ['calc.py', 'tests/test_calc.py']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pathspec

from tools._workspace import IGNORED_DIRS, glob_regex

__all__ = ["is_test_path", "repo_files"]

_MAX_IGNORE_BYTES = 256 * 1024
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def _spec(path: Path) -> pathspec.PathSpec[Any] | None:
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > _MAX_IGNORE_BYTES:
            return None
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    return spec if len(spec) else None


def _ignored(rules: list[tuple[str, pathspec.PathSpec[Any]]], rel: str, is_dir: bool) -> bool:
    """Whether the last rule that matches ``rel`` ignores it (nested files win, as in git)."""
    verdict = False
    for base, spec in rules:
        if base and not rel.startswith(base + "/"):
            continue
        sub = rel[len(base) + 1 :] if base else rel
        result = spec.check_file(sub + "/" if is_dir else sub)
        if result.include is not None:
            verdict = result.include
    return verdict


def repo_files(root: Path, *, pattern: str | None = None, limit: int | None = None) -> list[str]:
    """Workspace-relative POSIX paths of the files git would not ignore, sorted.

    Args:
        root: the workspace (a real directory path).
        pattern: an optional glob over the relative path (``**`` spans directories).
        limit: stop after this many matches.
    """
    root = Path(os.path.realpath(root))
    matcher = glob_regex(pattern) if pattern else None
    rules: list[tuple[str, pathspec.PathSpec[Any]]] = []
    for extra in (root / ".git" / "info" / "exclude",):
        spec = _spec(extra)
        if spec is not None:
            rules.append(("", spec))
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(os.path.relpath(dirpath, root)).as_posix()
        base = "" if rel_dir == "." else rel_dir
        spec = _spec(Path(dirpath) / ".gitignore")
        if spec is not None:
            rules.append((base, spec))
        kept = []
        for name in sorted(dirnames):
            rel = f"{base}/{name}" if base else name
            if name in IGNORED_DIRS or os.path.islink(os.path.join(dirpath, name)):
                continue
            if not _ignored(rules, rel, True):
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if name.endswith(_SKIPPED_SUFFIXES):
                continue
            rel = f"{base}/{name}" if base else name
            if _ignored(rules, rel, False):
                continue
            if matcher is not None and not matcher.match(rel):
                continue
            out.append(rel)
            if limit is not None and len(out) >= limit:
                return sorted(out)
    return sorted(out)


def is_test_path(path: str) -> bool:
    """Whether ``path`` looks like a test file (Python, JavaScript, Go or Rust conventions).

    Example:
        >>> is_test_path("tests/test_calc.py"), is_test_path("calc.py")
        (True, False)
    """
    name = path.rsplit("/", 1)[-1]
    parts = path.split("/")[:-1]
    return (
        name.startswith("test_")
        or name.endswith(("_test.py", "_test.go", ".test.js", ".spec.js", ".test.ts"))
        or name == "conftest.py"
        or any(p in ("tests", "test", "__tests__", "testing") for p in parts)
    )
