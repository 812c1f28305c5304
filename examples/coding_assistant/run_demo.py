"""`make demo`: the coding assistant fixes the sample repository on the embedded model.

Copies ``sample_repo`` to a fresh workspace (the original is never touched), runs the
pipeline with live progress, then prints the honest outcome: whether the tests pass, what
changed (as a diff), steps, tokens and time. Exits 0 whether or not the tiny model managed
the fix: the demo shows the machinery; real fixes need real models (see the README).
"""

from __future__ import annotations

import difflib
import shutil
import sys
import tempfile
from pathlib import Path

from orchestrator import load_pipeline
from orchestrator.cli.progress import ProgressRenderer, format_result
from orchestrator.events import FinalEvent
from orchestrator.exceptions import BicameralError
from orchestrator.result import RunResult

HERE = Path(__file__).resolve().parent
TASK = "Fix the bug in calc.py so that the failing test in tests/test_calc.py passes."


def _diff(original: Path, workspace: Path, changed: list[str]) -> str:
    out: list[str] = []
    for rel in changed:
        before = (
            (original / rel).read_text().splitlines(keepends=True)
            if (original / rel).exists()
            else []
        )
        after = (workspace / rel).read_text().splitlines(keepends=True)
        out.extend(difflib.unified_diff(before, after, f"a/{rel}", f"b/{rel}"))
    return "".join(out)


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


def main() -> int:
    print(f"Task: {TASK}\nModel: embedded SmolLM2-135M (tiny; see README to use real servers)\n")
    with tempfile.TemporaryDirectory(prefix="bicameral-demo-") as tmp:
        try:
            result = run_demo(Path(tmp))
        except BicameralError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("\n" + format_result(result))
        diff = _diff(HERE / "sample_repo", Path(tmp) / "sample_repo", result.changed_files)
        print("\nchanges:\n" + (diff or "(none)"))
        runs = result.tool_results or []
        print(
            f"\ntool calls: {len(runs)}; outcome: "
            + ("tests pass" if result.ok else "tests still failing (the embedded model is tiny)")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
