"""Fetch the corpus projects' source distributions once, into a cache, and unpack them.

``python -m benchmarks.coding_corpus.fetch [--cache DIR]`` runs ``pip download --no-deps
--no-binary NAME NAME==VERSION`` for each project (the package registry is the only thing
reached) and unpacks the sdist under ``DIR/src/``. Nothing is fetched twice; the test suite
never fetches (it uses the small subset stored under ``tests/fixtures/coding_corpus``).
The default cache is ``$BICAMERAL_CORPUS_CACHE`` or ``~/.cache/bicameral/coding-corpus``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from benchmarks.coding_corpus.projects import PROJECTS, Project

__all__ = ["default_cache", "fetch", "source_dir"]


def default_cache() -> Path:
    """Where the sdists are kept."""
    env = os.environ.get("BICAMERAL_CORPUS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "bicameral" / "coding-corpus"


def source_dir(cache: Path, project: Project) -> Path:
    """The unpacked, pristine sources of ``project``."""
    return cache / "src" / project.dirname


def fetch(project: Project, cache: Path) -> Path:
    """Download and unpack ``project``'s sdist (once); return its source directory."""
    target = source_dir(cache, project)
    if target.is_dir():
        return target
    sdists = cache / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    found = list(sdists.glob(f"{project.dirname}.tar.gz"))
    found += list(sdists.glob(f"{project.name.replace('-', '_')}-{project.version}.tar.gz"))
    if not found:
        argv = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", project.name, f"{project.name}=={project.version}", "-d", str(sdists),
        ]  # fmt: skip
        subprocess.run(argv, check=True, timeout=600)
        found = [
            p
            for p in sdists.glob("*.tar.gz")
            if project.version in p.name
            and (
                p.name.lower().startswith(project.name.lower().replace("-", "_"))
                or p.name.lower().startswith(project.name.lower())
            )
        ]
    (cache / "src").mkdir(parents=True, exist_ok=True)
    with tarfile.open(found[0]) as tar:
        tar.extractall(cache / "src", filter="data")
    unpacked = [
        p for p in (cache / "src").iterdir() if p.name.lower().replace("_", "-") == project.dirname
    ]
    if unpacked and unpacked[0] != target:
        unpacked[0].rename(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args()
    for project in PROJECTS:
        path = fetch(project, args.cache)
        print(f"{project.name} {project.version}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
