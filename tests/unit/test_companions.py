"""A user's own ``tools`` or ``agents`` package shadowing Bicameral's: one clear ImportError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["tools", "agents"])
def test_a_shadowing_package_is_named_in_one_line(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("MINE = True\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "-c", "import orchestrator.pipeline"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: the module")
    assert str(tmp_path / name / "__init__.py") in last
    assert "shadows it. Rename yours" in last


def test_bicameral_companions_carry_the_marker() -> None:
    import agents
    import tools

    assert agents.__bicameral_package__ and tools.__bicameral_package__
