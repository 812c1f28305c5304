"""Reading what a test run produced: pytest's JUnit report, unittest's and other runners'
console output, and the traceback frames inside each failure.

The JUnit report was written by the code under test, so it is opened like any untrusted
file: not followed through a link, refused unless it is a regular file (a FIFO put in its
place must not block the parent), size-checked, and parsed by the expat bundled with Python,
which refuses entity-expansion bombs.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from orchestrator.exceptions import ToolError
from tools._workspace import open_beneath

__all__ = [
    "Frame",
    "TestFailure",
    "frames_in",
    "hung_test",
    "parse_generic",
    "parse_junit",
    "parse_pytest_summary",
    "parse_unittest",
    "read_calls",
]

MAX_FAILURES = 5
EXCERPT_CHARS = 1500
_MAX_REPORT_BYTES = 20 * 1024 * 1024
_MAX_FRAMES = 40
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
# pytest --tb=short: "path/to/file.py:12: in func" ("path:12: Exception" for the last frame)
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:\n]*\.\w+):(?P<line>\d+): (?:in (?P<func>\S+))?")
# CPython: '  File "path", line 12, in func' (faulthandler: 'line 12 in func')
_PY_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)(?:,? in (?P<func>\S+))?')
# JavaScript, Go, Rust: path.ext:12(:col)
_GENERIC_FRAME = re.compile(
    r"(?:file://)?(?P<path>(?:/|\.{0,2}/)?[\w@.+-][\w@./+-]*\.(?:js|mjs|cjs|ts|go|rs|py)):(?P<line>\d+)"
)
_UNITTEST_HEAD = re.compile(r"^(?P<kind>FAIL|ERROR): (?P<name>\S+) \((?P<where>[^)]+)\)", re.M)


@dataclass(frozen=True)
class Frame:
    """One traceback frame: a workspace-relative path (or absolute, outside), line, function."""

    path: str
    line: int
    function: str | None = None


@dataclass(frozen=True)
class TestFailure:
    """One failed or erroring test: its id, the one-line message, a traceback excerpt, and
    the traceback's frames (outermost first)."""

    __test__: ClassVar[bool] = False

    test: str
    kind: str
    message: str
    excerpt: str
    frames: tuple[Frame, ...] = field(default=())


def frames_in(text: str, root: Path | None = None) -> tuple[Frame, ...]:
    """The traceback frames found in ``text``, in order, paths made workspace-relative when
    they lie inside ``root``; duplicates (same path and line) dropped."""
    found: list[Frame] = []
    seen: set[tuple[str, int]] = set()
    real_root = os.path.realpath(root) if root is not None else None
    for line in text.splitlines():
        match = _PY_FRAME.search(line) or _PYTEST_FRAME.match(line) or _GENERIC_FRAME.search(line)
        if match is None:
            continue
        path = match.group("path")
        func = match.groupdict().get("func")
        if real_root is not None and os.path.isabs(path):
            real = os.path.realpath(path)
            if real.startswith(real_root + os.sep):
                path = os.path.relpath(real, real_root)
        path = path.removeprefix("./")
        key = (path, int(match.group("line")))
        if key in seen:
            continue
        seen.add(key)
        found.append(Frame(path, key[1], func))
        if len(found) >= _MAX_FRAMES:
            break
    return tuple(found)


def _excerpt(text: str) -> str:
    text = text.strip()
    if len(text) > EXCERPT_CHARS:  # the assertion sits at the end of a traceback
        return "[...]\n" + text[-EXCERPT_CHARS:]
    return text


def parse_junit(
    path: Path, counts: dict[str, int], failures: list[TestFailure], root: Path
) -> bool:
    """Fill ``counts`` and ``failures`` from pytest's JUnit report; False when there is none
    (or it is not a regular file, or too large, or not XML)."""
    try:
        fd = open_beneath(path.parent, path, os.O_RDONLY, display="junit report")
    except ToolError:
        return False
    try:
        with os.fdopen(fd, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > _MAX_REPORT_BYTES:
                return False
            root_node = ET.parse(fh).getroot()
    except (OSError, ET.ParseError):
        return False
    for case in root_node.iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "errors"
                if len(failures) < MAX_FAILURES:
                    failures.append(_junit_failure(case, child, root))
                break
            if child.tag == "skipped":
                outcome = "skipped"
        counts[outcome] += 1
    return True


def _junit_failure(case: ET.Element, node: ET.Element, root: Path) -> TestFailure:
    file = case.get("file") or ""
    classname, name = case.get("classname") or "", case.get("name") or ""
    cls = classname.rsplit(".", 1)[-1] if classname else ""
    parts = [file or classname]
    if cls[:1].isupper() and file:
        parts.append(cls)
    parts.append(name)
    test = "::".join(p for p in parts if p)
    text = node.text or ""
    message = (node.get("message") or "").strip().splitlines()
    return TestFailure(
        test=test,
        kind="failed" if node.tag == "failure" else "error",
        message=message[0] if message else node.tag,
        excerpt=_excerpt(text),
        frames=frames_in(text, root),
    )


def parse_pytest_summary(stdout: str, counts: dict[str, int]) -> bool:
    """The last ``N passed, M failed in Xs`` line of pytest's console output."""
    for line in reversed(stdout.splitlines()):
        found = _COUNT.findall(line)
        if found and " in " in line:
            for number, word in found:
                key = {"error": "errors", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
                counts[key] += int(number)
            return True
    return False


def parse_unittest(
    output: str, counts: dict[str, int], failures: list[TestFailure], root: Path
) -> bool:
    """``python -m unittest`` output: ``Ran N tests`` and each ``FAIL:``/``ERROR:`` block."""
    ran = re.search(r"^Ran (\d+) tests?", output, re.M)
    if ran is None:
        return False
    blocks = re.split(r"^={20,}\n", output, flags=re.M)
    failed = errors = 0
    for block in blocks:
        head = _UNITTEST_HEAD.match(block)
        if head is None:
            continue
        is_fail = head.group("kind") == "FAIL"
        failed += is_fail
        errors += not is_fail
        pieces = re.split(r"^-{20,}\n", block, flags=re.M)
        body = pieces[1] if len(pieces) > 1 else ""
        last = [ln for ln in body.strip().splitlines() if ln.strip()]
        if len(failures) < MAX_FAILURES:
            failures.append(
                TestFailure(
                    test=f"{head.group('where')}",
                    kind="failed" if is_fail else "error",
                    message=last[-1].strip() if last else head.group("kind"),
                    excerpt=_excerpt(body),
                    frames=frames_in(body, root),
                )
            )
    skipped = re.search(r"skipped=(\d+)", output)
    counts["failed"] += failed
    counts["errors"] += errors
    counts["skipped"] += int(skipped.group(1)) if skipped else 0
    counts["passed"] += max(0, int(ran.group(1)) - failed - errors - counts["skipped"])
    return True


def parse_generic(
    kind: str, output: str, counts: dict[str, int], failures: list[TestFailure], root: Path
) -> bool:
    """Counts (and failure names) from ``node --test``/``npm test``, ``go test`` or
    ``cargo test`` output; False when no summary was recognised."""
    patterns = {
        "passed": [r"^# pass (\d+)", r"^ℹ pass (\d+)", r"test result: \w+\. (\d+) passed"],
        "failed": [r"^# fail (\d+)", r"^ℹ fail (\d+)", r"; (\d+) failed;"],
        "skipped": [r"^# skip (\d+)", r"^ℹ skipped (\d+)", r"; (\d+) ignored;"],
    }
    recognised = False
    for key, options in patterns.items():
        for pattern in options:
            numbers = re.findall(pattern, output, re.M)
            if numbers:
                counts[key] += sum(int(n) for n in numbers)
                recognised = True
                break
    if kind == "go" or re.search(r"^(?:---|ok|FAIL)\s", output, re.M):
        go_pass = len(re.findall(r"^\s*--- PASS: ", output, re.M))
        go_fail = re.findall(r"^\s*--- FAIL: (\S+)", output, re.M)
        if go_pass or go_fail:
            counts["passed"] += go_pass
            counts["failed"] += len(go_fail)
            recognised = True
    names = re.findall(r"^\s*not ok \d+ - (.+)$", output, re.M)
    names += re.findall(r"^\s*--- FAIL: (\S+)", output, re.M)
    names += re.findall(r"^---- (\S+) stdout ----", output, re.M)
    for name in names[:MAX_FAILURES]:
        at = output.find(name)
        chunk = output[at : at + 3000]
        failures.append(
            TestFailure(
                test=name.strip(),
                kind="failed",
                message=name.strip(),
                excerpt=_excerpt(chunk),
                frames=frames_in(chunk, root),
            )
        )
    return recognised


def hung_test(output: str, root: Path) -> TestFailure | None:
    """The test that was running when the time limit struck, from the traceback pytest's
    ``faulthandler_timeout`` dumped (most recent call first), if there is one."""
    at = output.rfind("Timeout (")
    if at == -1:
        return None
    dump = output[at:]
    frames = tuple(reversed(frames_in(dump, root)))  # outermost first, like the others
    inside = [f for f in frames if not os.path.isabs(f.path) and (root / f.path).is_file()]
    if not inside:
        return None
    return TestFailure(
        test=f"{inside[0].path}::{inside[0].function or '?'}",
        kind="timeout",
        message="did not finish before the time limit; the traceback shows where it was",
        excerpt=_excerpt(dump),
        frames=tuple(inside),
    )


def read_calls(path: Path) -> dict[str, tuple[tuple[str, int], ...]]:
    """The tracer's ``{test id: [[path, line], ...]}`` (written by code under test, so opened
    like the JUnit report and checked item by item); empty when missing or malformed."""
    try:
        fd = open_beneath(path.parent, path, os.O_RDONLY, display="call trace")
    except ToolError:
        return {}
    try:
        with os.fdopen(fd, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > _MAX_REPORT_BYTES:
                return {}
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, tuple[tuple[str, int], ...]] = {}
    for test, calls in data.items():
        if isinstance(test, str) and isinstance(calls, list):
            out[test] = tuple(
                (str(c[0]), int(c[1]))
                for c in calls
                if isinstance(c, list) and len(c) == 2 and isinstance(c[1], int)
            )
    return out
