"""Inject one bug per task into a real function, by an AST mutation, and keep the tasks whose
mutation makes at least one of the project's own tests fail.

Mutations: a flipped comparison (``<`` -> ``>=``, ``==`` -> ``!=``, ``in`` -> ``not in``), an
off-by-one (an integer literal ``n`` -> ``n + 1``), a wrong operator (``+`` <-> ``-``, ``*``
-> ``//``, ``and`` <-> ``or``), a dropped branch (an ``if`` without ``else`` removed from a
body that has other statements) and swapped arguments (the first two positional arguments
of a call). The node is rewritten with ``ast.unparse`` in place of its source segment, so the
rest of the file keeps its bytes. At most one task per function.

``python -m benchmarks.coding_corpus.mutate [--cache DIR] [--out FILE]`` writes the tasks
(JSON); each holds the file, the function, the mutation and the edit that undoes it.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.coding_corpus.fetch import default_cache, fetch
from benchmarks.coding_corpus.projects import PROJECTS, Project
from tools.symbols import enclosing, file_symbols

__all__ = ["Mutation", "apply_task", "candidates", "inverse_edit", "main"]

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
_BINOP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv,
}  # fmt: skip

Mutation = dict[str, Any]


def _segment_replace(source: str, node: ast.AST, new_text: str) -> str:
    lines = source.splitlines(keepends=True)
    start, end = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
    col, end_col = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
    prefix = lines[start].encode()[:col].decode()
    suffix = lines[end].encode()[end_col:].decode()
    return "".join(lines[:start]) + prefix + new_text + suffix + "".join(lines[end + 1 :])


def _mutants(tree: ast.AST, source: str) -> Iterator[tuple[str, int, str]]:
    """(operator, line, mutated source) for every mutable site of ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
            new = copy.deepcopy(node)
            new.ops[0] = _FLIP[type(node.ops[0])]()
            yield (
                "flipped comparison",
                node.lineno,
                _segment_replace(source, node, ast.unparse(new)),
            )
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                continue  # "%s" % x or "a" + b: not arithmetic
            new = copy.deepcopy(node)
            new.op = _BINOP[type(node.op)]()
            yield "wrong operator", node.lineno, _segment_replace(source, node, ast.unparse(new))
        elif isinstance(node, ast.BoolOp):
            new = copy.deepcopy(node)
            new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield "wrong operator", node.lineno, _segment_replace(source, node, ast.unparse(new))
        elif (
            isinstance(node, ast.Constant)
            and type(node.value) is int
            and 0 <= node.value <= 64
            and node.col_offset >= 0
        ):
            yield "off-by-one", node.lineno, _segment_replace(source, node, str(node.value + 1))
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            a, b = node.args[0], node.args[1]
            if any(isinstance(x, ast.Starred) for x in (a, b)) or ast.dump(a) == ast.dump(b):
                continue
            new = copy.deepcopy(node)
            new.args[0], new.args[1] = new.args[1], new.args[0]
            yield "swapped arguments", node.lineno, _segment_replace(source, node, ast.unparse(new))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for stmt in node.body[1:]:
                if isinstance(stmt, ast.If) and not stmt.orelse and len(node.body) > 2:
                    lines = source.splitlines(keepends=True)
                    dropped = lines[: stmt.lineno - 1] + lines[stmt.end_lineno :]  # type: ignore[operator]
                    yield "dropped branch", stmt.lineno, "".join(dropped)


def candidates(root: Path, project: Project) -> list[Mutation]:
    """Every mutation of every function in ``project``'s sources, in a seeded random order."""
    found: list[Mutation] = []
    for base in project.sources:
        for path in sorted((root / base).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if any(x in rel for x in project.exclude):
                continue
            source = path.read_text(encoding="utf-8")
            defs, _ = file_symbols(rel, source)
            tree = ast.parse(source)
            for operator, line, mutated in _mutants(tree, source):
                where = enclosing([d for d in defs if d.kind != "class"], line)
                if where is None or mutated == source:
                    continue
                try:
                    ast.parse(mutated)
                except SyntaxError:
                    continue
                found.append(
                    {
                        "project": project.name,
                        "path": rel,
                        "function": where.qualname,
                        "operator": operator,
                        "line": line,
                        "edit": inverse_edit(source, mutated),
                    }
                )
    rng = random.Random(f"{project.name}-{project.version}")
    rng.shuffle(found)
    by_kind: dict[str, list[Mutation]] = {}
    for m in found:  # round-robin over the kinds of mutation, so each is well represented
        by_kind.setdefault(m["operator"], []).append(m)
    mixed: list[Mutation] = []
    while any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind]:
                mixed.append(by_kind[kind].pop())
    return mixed


def inverse_edit(original: str, mutated: str) -> dict[str, Any]:
    """A search/replace edit on the mutated file that restores the original: the changed
    lines with enough context around them to occur once."""
    a, b = original.splitlines(keepends=True), mutated.splitlines(keepends=True)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a0, a1, b0, b1 = head, len(a) - tail, head, len(b) - tail
    for k in range(0, 40):
        s0, s1 = max(0, b0 - k), min(len(b), b1 + k)
        search = "".join(b[s0:s1])
        if search.strip() and mutated.count(search) == 1:
            r0, r1 = a0 - (b0 - s0), a1 + (s1 - b1)
            return {"search": search, "replace": "".join(a[r0:r1]), "line": r0 + 1}
    raise ValueError("no unique context for the edit")


def apply_task(pristine: Path, task: Mutation, workspace: Path) -> None:
    """Copy ``pristine`` to ``workspace`` and inject ``task``'s bug."""
    shutil.copytree(pristine, workspace, symlinks=True)
    target = workspace / task["path"]
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    edit = task["edit"]
    start = edit["line"] - 1
    end = start + len(edit["replace"].splitlines(keepends=True))
    if "".join(lines[start:end]) != edit["replace"]:
        raise ValueError(f"{task.get('id')}: the sources differ from the ones mutated")
    target.write_text(
        "".join(lines[:start]) + edit["search"] + "".join(lines[end:]), encoding="utf-8"
    )


def _fails(workspace: Path, tests: str) -> int | None:
    """Whether one of the tests under ``tests`` fails (None when the run did not finish)."""
    argv = [
        sys.executable, "-B", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
        "--no-header", "-o", "addopts=", tests,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            argv, cwd=workspace, capture_output=True, text=True, timeout=25, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode == 0:
        return 0
    return 1 if done.returncode == 1 else None


def build(cache: Path, *, out: Path) -> list[Mutation]:
    """Keep ``project.tasks`` failing mutations per project, one per function."""
    tasks: list[Mutation] = []
    done: dict[str, list[Mutation]] = {}
    if out.is_file():  # resume: projects already built are kept as they are
        for task in json.loads(out.read_text(encoding="utf-8")):
            done.setdefault(task["project"], []).append(task)
    for project in PROJECTS:
        if project.name in done:
            tasks.extend(done[project.name])
            print(f"{project.name}: {len(done[project.name])} tasks kept from {out}")
            continue
        root = fetch(project, cache)
        kept: list[Mutation] = []
        used: set[tuple[str, str]] = set()
        tried = 0
        for cand in candidates(root, project):
            if len(kept) >= project.tasks:
                break
            key = (cand["path"], cand["function"])
            if key in used:
                continue
            cand["id"] = f"{project.name}-{len(kept) + 1:03d}"
            with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
                ws = Path(tmp) / "ws"
                apply_task(root, cand, ws)
                tried += 1
                failing = _fails(ws, project.focused_tests(cand["path"]))
            if failing:
                used.add(key)
                kept.append(cand)
                print(f"  kept {cand['id']}: {cand['operator']} in {key[0]}::{key[1]}", flush=True)
        print(f"{project.name}: kept {len(kept)} of {tried} tried", flush=True)
        tasks.extend(kept)
        out.write_text(json.dumps(tasks, indent=1) + "\n", encoding="utf-8")
    out.write_text(json.dumps(tasks, indent=1) + "\n", encoding="utf-8")
    return tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("tasks.json"))
    args = parser.parse_args()
    tasks = build(args.cache, out=args.out)
    print(f"{len(tasks)} tasks written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
