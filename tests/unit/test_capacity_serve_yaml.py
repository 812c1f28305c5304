"""`plan --write` edits a pipeline's serve: sections in place, keeping comments, and
`bicameral serve` then emits the planned flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.capacity.flags import ServeSettings
from orchestrator.capacity.serve_yaml import write_serve_settings
from orchestrator.cli.serve import serve_commands
from orchestrator.config.loading import load_spec
from orchestrator.exceptions import ConfigError

PIPELINE = """\
# top comment
models:
  planner:  # the planner
    base_url: http://127.0.0.1:8000/v1
    model: scout
    serve:
      quantization: fp8   # keep me? plan decides
      extra_args: [--enable-prefix-caching]
  reasoner: {base_url: 'http://127.0.0.1:8001/v1', model: r1}
"""
PLANNER = ServeSettings(2, 32768, 17, 0.9, None, None)
REASONER = ServeSettings(8, 65536, 40, 0.92, "fp8", None)


def test_write_keeps_comments_and_serve_uses_the_flags(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE)
    text = write_serve_settings(path, {"planner": PLANNER, "reasoner": REASONER})
    assert path.read_text() == text
    assert "# top comment" in text and "# the planner" in text
    assert "quantization" not in text  # planned None: vLLM's default
    planner, reasoner = serve_commands(load_spec(path, env={}))
    assert planner.argv[7:] == (
        "--tensor-parallel-size", "2", "--max-model-len", "32768",
        "--gpu-memory-utilization", "0.9", "--max-num-seqs", "17",
        "--enable-auto-tool-choice", "--tool-call-parser", "llama4_pythonic",
        "--enable-prefix-caching",
    )  # fmt: skip
    assert reasoner.argv[7:] == (
        "--tensor-parallel-size", "8", "--max-model-len", "65536",
        "--gpu-memory-utilization", "0.92", "--max-num-seqs", "40",
        "--kv-cache-dtype", "fp8", "--reasoning-parser", "deepseek_r1",
    )  # fmt: skip


def test_write_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE)
    first = write_serve_settings(path, {"planner": PLANNER})
    assert write_serve_settings(path, {"planner": PLANNER}) == first


def test_write_refuses_a_role_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("models:\n  planner:\n")
    with pytest.raises(ConfigError, match=r"models\.planner is not a mapping"):
        write_serve_settings(path, {"planner": PLANNER})
    assert path.read_text() == "models:\n  planner:\n"
