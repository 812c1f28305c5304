"""`make demo`: the coding assistant fixes the sample repository on the embedded model.

Copies ``sample_repo`` to a fresh workspace (the original is never touched), runs the
pipeline with live progress, then prints the honest outcome: the tests before and after
(and which runner ran them), the functions localised from the failure, what changed (as a
diff), steps, tokens and time; a run that could not test says so. Exits 0 whether or not
the tiny model managed the fix: the demo shows the machinery; real fixes need real models
(see the README).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from orchestrator import load_pipeline
from orchestrator.cli.progress import ProgressRenderer, format_result
from orchestrator.events import FinalEvent
from orchestrator.exceptions import BicameralError
from orchestrator.result import RunResult
from orchestrator.types import RunStatus

HERE = Path(__file__).resolve().parent
_COUNTS = re.compile(r"\d+ passed, \d+ failed, \d+ errors?")
TASK = "Fix the bug in calc.py so that the failing test in tests/test_calc.py passes."


def counts_of_test_runs(result: RunResult) -> list[str]:
    """The counts of each test run of the run (``run_tests`` or ``localise`` calls), as
    ``"3 passed, 1 failed, 0 errors"``."""
    out = []
    for record in result.tool_results:
        if record.get("tool") in ("run_tests", "localise"):
            found = _COUNTS.search(str(record.get("result", "")))
            out.append(found.group(0) if found else "no counts (see the tool output)")
    return out


def run_demo(workspace: Path, *, quiet: bool = False) -> RunResult:
    """Run the coding assistant on a copy of the sample repo inside ``workspace``."""
    repo = workspace / "sample_repo"
    shutil.copytree(HERE / "sample_repo", repo)
    pipeline = load_pipeline(HERE / "pipeline.yaml", workspace=repo, checkpoint="memory")
    result: RunResult | None = None
    with ProgressRenderer(quiet=quiet) as progress:
        for event in pipeline.stream(TASK):
            progress.handle(event)
            if isinstance(event, FinalEvent):
                result = event.result
    assert result is not None
    return result


def _tests_line(report: dict[str, Any] | None) -> str:
    if not report:
        return "not run"
    line = f"{report.get('passed', 0)} passed, {report.get('failed', 0)} failed"
    return line + (f" ({report['runner']})" if report.get("runner") else "")


def main() -> int:
    print(f"Task: {TASK}\nModel: embedded SmolLM2-135M (tiny; see README to use real servers)\n")
    with tempfile.TemporaryDirectory(prefix="bicameral-demo-") as tmp:
        try:
            result = run_demo(Path(tmp))
        except BicameralError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("\n" + format_result(result))
        report = result.report or {}
        before, after = report.get("tests_before"), report.get("tests_after")
        print(f"\ntests before: {_tests_line(before)}")
        print(f"tests after:  {_tests_line(after)}")
        if before and before.get("note"):
            print(f"note: {before['note']}")
        if report.get("localised"):
            print("localised: " + ", ".join(report["localised"]))
        print("\nchanges:\n" + (report.get("diff") or "(none)"))
        runs = result.tool_results or []
        for n, counts in enumerate(counts_of_test_runs(result), 1):
            print(f"test run {n}: {counts}")
        if result.status is RunStatus.FAILED:
            outcome = f"the run failed: {result.error.message if result.error else 'unknown'}"
        elif result.ok:
            outcome = "tests pass"
        else:
            outcome = "tests still failing (the embedded model is tiny)"
        print(f"\ntool calls: {len(runs)}; outcome: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
