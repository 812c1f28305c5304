"""The suite's own guards: tests cannot read the ``shared/`` folder beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import OUTSIDE, outside_repository


def test_reading_the_folder_beside_the_repository_fails() -> None:
    with pytest.raises(PermissionError, match="outside the repository"):
        (Path(OUTSIDE) / "data" / "math500.jsonl").open()
    assert outside_repository(Path(OUTSIDE) / "x") and outside_repository(OUTSIDE)
    assert not outside_repository(OUTSIDE + "-other") and not outside_repository(3)


def test_no_test_file_names_the_shared_folder() -> None:
    tests = Path(__file__).resolve().parents[1]
    offenders = [
        str(p.relative_to(tests))
        for p in tests.rglob("*.py")
        if p.name not in ("test_repository_guards.py", "conftest.py")
        and '"shared"' in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
