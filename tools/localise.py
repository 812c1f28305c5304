"""Localisation from failing tests: which code the reasoner should see, within a token budget.

Deterministic and model-free. From each failing test of a :class:`~tools.tests.TestReport`:

1. the traceback frames inside the repository give their enclosing functions and classes
   (the deepest frame outside the tests first: that is where the error surfaced);
2. the test's own source is read (found by its test id or its frame), and the names it uses,
   the names in the assertion output (``where -1 = add(2, 3)``) and the name the test is
   called by (``test_get_in`` -> ``get_in``, ``ChunkedTests`` -> ``chunked``) are looked up
   among the repository's definitions;
3. what those functions call is followed two steps further, each step worth less;
4. the candidates are ranked and their sources added, best first, until the budget is
   spent; a repository map of the files involved fills what is left.

The context lists the test sources first, then the functions (each with its path and line
span, as plain lines an edit can quote), then the map. Tokens are estimated as in
:func:`~tools.repo_map.estimate_tokens`.

Example:
    >>> ctx = localise(Path("repo"), run_tests(Path("repo")), max_tokens=8000)
    >>> [d.qualname for d in ctx.functions][:1]
    ['add']
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from tools._context import ToolContext
from tools.listing import is_test_path
from tools.repo_map import RepoIndex, estimate_tokens, index_repo, render
from tools.symbols import Definition, enclosing
from tools.test_reports import Frame, TestFailure
from tools.tests import run_tests

__all__ = ["LocalContext", "failures_from_json", "localise", "localise_tool"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHERE = re.compile(r"where .*? = ([A-Za-z_][\w.]*)\(")
_TEST_SHARE = 0.3
_MAP_SHARE = 0.1
_HOPS = 2
_SPECTRUM = 60.0
_NOT_CALLED = 0.05
_DUNDER = 0.5
_MEMBER = 0.1
_WINDOW = 8
_COMMON = frozenset(
    """self cls None True False return def class if else elif for while in not and or is
    assert import from as with try except finally raise lambda yield pass break continue
    len list dict set tuple str int float bool range print isinstance object super type
    test tests args kwargs const let var function require assert""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class LocalContext:
    """What the reasoner sees: the text, its estimated tokens, the functions it holds (best
    first), the test sources it quotes and the paths of the files involved."""

    text: str
    tokens: int
    functions: tuple[Definition, ...]
    tests: tuple[Definition, ...]
    files: tuple[str, ...]

    def holds(self, path: str, qualname: str) -> bool:
        """Whether the context quotes the whole of ``qualname`` in ``path`` (itself, or a
        definition that contains it, such as its class or enclosing function)."""
        return any(
            d.path == path and (qualname == d.qualname or qualname.startswith(d.qualname + "."))
            for d in self.functions
        )


def _source(index: RepoIndex, d: Definition) -> str:
    lines = index.sources.get(d.path, "").splitlines()
    return "\n".join(lines[d.start_line - 1 : d.end_line])


def _find(index: RepoIndex, path: str, qualname: str) -> Definition | None:
    for d in index.definitions.get(path, []):
        if d.qualname == qualname:
            return d
    return None


def _test_definition(index: RepoIndex, failure: TestFailure) -> Definition | None:
    """The failing test's function, from its id (``path::Class::name``) or its frames."""
    parts = failure.test.split("::")
    if len(parts) >= 2 and parts[0] in index.definitions:
        name = re.sub(r"\[.*\]$", "", parts[-1])
        found = _find(index, parts[0], ".".join([*parts[1:-1], name]))
        if found is not None:
            return found
    # unittest: "test_x (pkg.module.Class.test_x)"; frames as a fallback
    for frame in failure.frames:
        if frame.path in index.definitions and is_test_path(frame.path):
            found = enclosing(index.definitions[frame.path], frame.line)
            if found is not None:
                return found
    dotted = failure.test.replace("/", ".").removesuffix(".py")
    for path, defs in index.definitions.items():
        module = path.removesuffix(".py").replace("/", ".")
        for d in defs:
            if dotted.endswith(f"{module}.{d.qualname}") or dotted == d.qualname:
                return d
    # an anonymous test (JavaScript's test('name', () => ...)): the lines around its frame
    for frame in reversed(failure.frames):
        if frame.path in index.sources and is_test_path(frame.path):
            total = index.sources[frame.path].count("\n") + 1
            start, end = max(1, frame.line - _WINDOW), min(total, frame.line + _WINDOW)
            return Definition(frame.path, "<test>", failure.test, "test", "", start, end)
    return None


def _name_hints(test: Definition | None, failure: TestFailure) -> set[str]:
    hints: set[str] = set()
    names = [failure.test.split("::")[-1].split("[")[0]]
    if test is not None:
        names += test.qualname.split(".")
    for raw in names:
        stem = re.sub(r"^(?:test_?|Test)|(?:_?tests?|Tests?)$", "", raw)
        if not stem:
            continue
        hints.add(stem)
        hints.add(re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower())
        hints.add(stem.lower())
        parts = stem.split("_")
        hints.update("_".join(parts[:k]) for k in range(1, len(parts)))
    return {h for h in hints if len(h) > 2}


def _identifiers(text: str) -> set[str]:
    return {w for w in _IDENT.findall(text) if w not in _COMMON and len(w) > 1}


def localise(
    workspace: Path,
    failures: Iterable[TestFailure],
    *,
    max_tokens: int = 8000,
    index: RepoIndex | None = None,
    executed: Mapping[str, Sequence[tuple[str, int]]] | None = None,
) -> LocalContext:
    """The ranked context for ``failures`` (from :func:`~tools.tests.run_tests`).

    Args:
        workspace: the project root.
        failures: the failing tests, with their frames.
        max_tokens: the budget for the whole context.
        index: a prebuilt :func:`~tools.repo_map.index_repo` of the workspace.
        executed: each test's called functions (``run_tests(..., trace=True)``): functions
            the failing tests call and the passing ones rarely do rank high (Ochiai).
    """
    index = index or index_repo(workspace)
    failures = list(failures)
    where: dict[str, list[Definition]] = defaultdict(list)
    for defs in index.definitions.values():
        for d in defs:
            if not is_test_path(d.path):
                where[d.name].append(d)
    scores: dict[Definition, float] = defaultdict(float)
    tests: list[Definition] = []

    members: dict[Definition, list[Definition]] = defaultdict(list)
    for defs in index.definitions.values():
        classes = [d for d in defs if d.kind == "class"]
        for d in defs:
            owner = next((c for c in classes if d.qualname.startswith(c.qualname + ".")), None)
            if owner is not None and d.qualname.count(".") == owner.qualname.count(".") + 1:
                members[owner].append(d)

    def credit(name: str, weight: float) -> None:
        found = where.get(name, [])
        for d in found:
            scores[d] += weight / len(found)
            # a class used by name runs its special methods implicitly (construction,
            # comparison, calls, descriptors): they share in the credit
            for member in members.get(d, []):
                dunder = member.name.startswith("__") and member.name.endswith("__")
                scores[member] += weight / len(found) * (_DUNDER if dunder else _MEMBER)

    for rank, failure in enumerate(failures):
        fade = 1.0 / (1 + rank)
        test = _test_definition(index, failure)
        if test is not None and test not in tests:
            tests.append(test)
        inside = [f for f in failure.frames if f.path in index.definitions]
        for depth, frame in enumerate(reversed(inside)):
            hit = enclosing(index.definitions[frame.path], frame.line)
            if hit is not None and not is_test_path(hit.path):
                scores[hit] += fade * (100.0 / (1 + depth))
        text = f"{failure.message}\n{failure.excerpt}"
        for name in _WHERE.findall(text):
            credit(name.rsplit(".", 1)[-1], 40.0 * fade)
        for name in _name_hints(test, failure):
            credit(name, 30.0 * fade)
        used = _identifiers(_source(index, test)) if test is not None else set()
        used |= _identifiers(text) & set(where)
        for name in used:
            credit(name, 10.0 * fade)
        for helper in _test_helpers(index, test, used):
            for name in _identifiers(_source(index, helper)):
                credit(name, 3.0 * fade)
    _expand(index, where, scores)
    if executed:
        _spectrum(index, scores, executed, {f.test for f in failures})
    _fill_from_files(index, scores)
    return _render(index, scores, tests, max_tokens)


def _test_helpers(index: RepoIndex, test: Definition | None, used: set[str]) -> list[Definition]:
    """Functions of the test's own file that the test calls (fixtures, helpers)."""
    if test is None:
        return []
    return [d for d in index.definitions.get(test.path, []) if d.name in used and d != test]


def _expand(
    index: RepoIndex, where: dict[str, list[Definition]], scores: dict[Definition, float]
) -> None:
    """Follow calls out of the scored functions, each hop worth a fifth of the caller."""
    frontier = dict(scores)
    for _ in range(_HOPS):
        nxt: dict[Definition, float] = defaultdict(float)
        for d, score in sorted(frontier.items(), key=lambda kv: -kv[1])[:60]:
            if d.kind == "class":
                continue
            for name in _identifiers(_source(index, d)):
                found = where.get(name, [])
                same_file = [c for c in found if c.path == d.path] or found
                for callee in same_file:
                    if callee != d:
                        nxt[callee] += score * 0.2 / len(same_file)
        for d, score in nxt.items():
            scores[d] += score
        frontier = nxt


def _spectrum(
    index: RepoIndex,
    scores: dict[Definition, float],
    executed: Mapping[str, Sequence[tuple[str, int]]],
    failing: set[str],
) -> None:
    """Spectrum-based credit: Ochiai ``ef / sqrt(failing * (ef + ep))`` per function, where
    ``ef``/``ep`` count the failing/passing tests that called it; functions no failing test
    called keep a twentieth of their static score."""
    failed_ids = {t for t in executed if t in failing}
    if not failed_ids:
        return
    ef: dict[Definition, int] = defaultdict(int)
    ep: dict[Definition, int] = defaultdict(int)
    for test, calls in executed.items():
        hit: set[Definition] = set()
        for path, line in calls:
            found = next((d for d in index.definitions.get(path, []) if d.start_line == line), None)
            found = found or enclosing(index.definitions.get(path, []), line)
            if found is not None and not is_test_path(found.path):
                hit.add(found)
        for d in hit:
            if test in failed_ids:
                ef[d] += 1
            else:
                ep[d] += 1
    for d in list(scores):  # the failing tests never called it: it cannot be the cause alone
        if d not in ef and d.kind != "class":
            scores[d] *= _NOT_CALLED
    for d, count in ef.items():
        ochiai = count / math.sqrt(len(failed_ids) * (count + ep[d]))
        scores[d] += _SPECTRUM * ochiai


def _module_level_names(index: RepoIndex, path: str) -> set[str]:
    """Identifiers used outside every definition of ``path`` (import-time calls that build
    module state, such as tables filled by a helper)."""
    lines = index.sources.get(path, "").splitlines()
    inside = [False] * (len(lines) + 2)
    for d in index.definitions.get(path, []):
        for n in range(d.start_line, min(d.end_line, len(lines)) + 1):
            inside[n] = True
    text = "\n".join(line for n, line in enumerate(lines, 1) if not inside[n])
    return _identifiers(text)


def _fill_from_files(index: RepoIndex, scores: dict[Definition, float]) -> None:
    """Rank the other definitions of the files that hold the best candidates, far below
    them, so spare budget goes to their neighbours; import-time helpers come first."""
    if not scores:
        return
    top = max(scores.values())
    files = {d.path for d, score in scores.items() if score >= 0.1 * top}
    for path in files:
        module_names = _module_level_names(index, path)
        for d in index.definitions.get(path, []):
            boost = 10.0 if d.name in module_names else 1.0
            scores[d] += top * 1e-3 * boost


def _render(
    index: RepoIndex, scores: dict[Definition, float], tests: list[Definition], max_tokens: int
) -> LocalContext:
    parts: list[str] = []
    used = 0
    test_budget = int(max_tokens * _TEST_SHARE)
    quoted_tests: list[Definition] = []
    for test in tests:
        block = _block(index, test, "failing test")
        cost = estimate_tokens(block) + 1
        if used + cost > test_budget:
            continue
        parts.append(block)
        quoted_tests.append(test)
        used += cost
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0].path, kv[0].start_line))
    chosen: list[Definition] = []
    map_budget = int(max_tokens * _MAP_SHARE)
    for d, _score in ranked:
        if any(
            c.path == d.path and c.start_line <= d.start_line <= d.end_line <= c.end_line
            for c in chosen
        ):
            continue  # already quoted inside its class
        if d.kind == "class" and d.span > 60:
            continue  # a big class is quoted through its methods
        block = _block(index, d, d.kind)
        cost = estimate_tokens(block) + 1
        if used + cost > max_tokens - map_budget:
            continue
        chosen.append(d)
        parts.append(block)
        used += cost
    files = sorted({d.path for d in chosen} | {t.path for t in quoted_tests})
    outline = [d for path in files for d in index.definitions.get(path, [])]
    map_lines: list[str] = []
    for line in render(outline).splitlines():
        cost = estimate_tokens(line) + 1
        if used + cost > max_tokens - 10:
            break
        map_lines.append(line)
        used += cost
    if map_lines:
        parts.append("### outline of the files involved\n" + "\n".join(map_lines))
    text = "\n\n".join(parts)
    return LocalContext(
        text=text,
        tokens=estimate_tokens(text),
        functions=tuple(chosen),
        tests=tuple(quoted_tests),
        files=tuple(files),
    )


def _block(index: RepoIndex, d: Definition, label: str) -> str:
    return f"### {d.path} lines {d.start_line}-{d.end_line} ({label} {d.qualname})\n" + _source(
        index, d
    )


def frames_of(failures: Iterable[TestFailure]) -> list[Frame]:
    """Every frame of ``failures``, in order (for callers that show them)."""
    return [f for failure in failures for f in failure.frames]


def failures_from_json(items: Iterable[Any]) -> list[TestFailure]:
    """``TestFailure`` objects from ``run_tests``'s JSON ``failures`` (malformed items skipped)."""
    out: list[TestFailure] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        frames = tuple(
            Frame(str(f.get("path", "")), int(f.get("line") or 0), f.get("function"))
            for f in item.get("frames") or []
            if isinstance(f, dict)
        )
        out.append(
            TestFailure(
                test=str(item.get("test", "")),
                kind=str(item.get("kind", "failed")),
                message=str(item.get("message", "")),
                excerpt=str(item.get("excerpt", "")),
                frames=frames,
            )
        )
    return out


def localise_tool(ctx: ToolContext) -> BaseTool:
    """The ``localise`` tool bound to ``ctx``: run the tests, localise what fails."""

    def localise_(max_tokens: int = 8000) -> str:
        """Run the repository's tests and, for those that fail, collect the code they point
        at: the failing tests' sources and the functions their tracebacks and assertions
        lead to, ranked, within a token budget. Returns JSON: report (as run_tests returns
        it) and context (text, tokens, functions, files).

        Args:
            max_tokens: budget for the context (500-32000).
        """
        report = run_tests(
            ctx.workspace, limits=ctx.limits, test_command=ctx.test_command, trace=True
        )
        data: dict[str, Any] = {"report": report.to_dict()}
        if not report.ok:
            budget = max(500, min(int(max_tokens), 32_000))
            found = localise(
                ctx.workspace, report.failures, max_tokens=budget, executed=report.executed
            )
            data["context"] = {
                "text": found.text,
                "tokens": found.tokens,
                "functions": [f"{d.path}::{d.qualname}" for d in found.functions],
                "files": list(found.files),
            }
        return json.dumps(data, ensure_ascii=False)

    return StructuredTool.from_function(
        localise_,
        name="localise",
        parse_docstring=True,
        metadata={"requires_approval": False, "changes_files": False},
    )
