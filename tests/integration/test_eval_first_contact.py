"""`bicameral eval` for a newcomer: the two shipped comparison pipelines run side by side
against a server, `--label` names the results, and a missing file says where data comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from tests.fake_openai_server import ChatReply, FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "examples" / "eval"
MATH = ROOT / "tests" / "fixtures" / "datasets" / "math500.jsonl"
runner = CliRunner()


def test_the_comparison_pipelines_run_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    right = ChatReply(r"So the point is $\boxed{\left( 3, \frac{\pi}{2} \right)}$.")
    with FakeOpenAIServer(default_reply=right) as server:
        monkeypatch.setenv("BICAMERAL_REASONER_URL", server.base_url)
        monkeypatch.setenv("BICAMERAL_REASONER_MODEL", "fake-r1")
        result = runner.invoke(
            app,
            [
                *("eval", "--dataset", "math500", "--path", str(MATH), "--limit", "1"),
                *("--pipeline", str(EVAL / "planner_only.yaml")),
                *("--compare", str(EVAL / "planner_reasoner.yaml")),
                *("--set", f"models.planner.base_url={server.base_url}"),
                *("--set", "models.planner.model=fake", "--out", str(tmp_path)),
            ],
        )
    assert result.exit_code == 0, result.output
    for label in ("planner_only", "planner_reasoner"):
        summary = json.loads((tmp_path / f"{label}.summary.json").read_text())
        assert summary["n_items"] == 1 and summary["by_verdict"] == {"correct": 1}, summary


def test_label_names_the_results_so_one_file_can_be_compared_with_itself(tmp_path: Path) -> None:
    same = str(EVAL / "planner_only.yaml")
    args = ["eval", "--dataset", "math500", "--path", str(MATH), "--pipeline", same]
    clash = runner.invoke(app, [*args, "--compare", same, "--out", str(tmp_path)])
    assert clash.exit_code == 2 and "--label NAME and --compare-label NAME" in clash.stderr
    with FakeOpenAIServer(default_reply=ChatReply(r"$\boxed{3}$")) as server:
        result = runner.invoke(
            app,
            [
                *args,
                *("--limit", "1", "--label", "t0", "--compare", same, "--compare-label", "t1"),
                *("--set", f"models.planner.base_url={server.base_url}"),
                *("--set", "models.planner.model=fake", "--out", str(tmp_path)),
            ],
        )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t0.jsonl").is_file() and (tmp_path / "t1.jsonl").is_file()


def test_a_missing_dataset_says_where_to_get_it_and_which_fields_rows_need() -> None:
    result = runner.invoke(
        app,
        [
            *("eval", "--dataset", "math500", "--path", "nowhere/math500.jsonl"),
            *("--pipeline", str(EVAL / "planner_only.yaml")),
        ],
    )
    assert result.exit_code == 2
    assert "huggingface.co/datasets/HuggingFaceH4/MATH-500" in result.stderr
    assert "hf:HuggingFaceH4/MATH-500@test" in result.stderr and "problem, answer" in result.stderr
