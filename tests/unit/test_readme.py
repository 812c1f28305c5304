"""The README a newcomer follows: it opens with the two commands, and what it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_opens_with_the_two_setup_commands() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block == "make demo\nmake test\n"


def test_every_repository_path_the_readme_names_exists() -> None:
    named = set(
        re.findall(r"(?<![\w/.-])((?:examples|docs|scripts|benchmarks)/[\w./-]+\.\w+)", README)
    )
    missing = sorted(p for p in named if not (ROOT / p).exists() and "*" not in p)
    assert named and missing == []


def test_the_newcomer_sections_are_there() -> None:
    headings = set(re.findall(r"^#+ (.+)$", README, flags=re.MULTILINE))
    for heading in (
        "Before you start",
        "Serving models",
        "Evaluation",
        "Observability",
        "Integrations",
        "Security and trust model",
        "Capacity planning",
        "Performance",
    ):
        assert heading in headings, heading
    assert "../shared" not in README  # users do not have it
    assert "Python 3.11" in README and "CMake" in README
