"""The evaluation harness behind ``bicameral eval``: benchmarks, judges, runs and reports.

Run a benchmark through a pipeline, judge every item, and compare two configurations::

    items = load_dataset("math500", path="data/math500.jsonl", limit=50)
    summary = asyncio.run(
        run_eval(items, pipeline_solver(load_pipeline("math.yaml")), out_dir=Path("eval-out"))
    )
    render_summary(summary)

Per-item results go to ``<out_dir>/<label>.jsonl`` (flushed as each item finishes, so a rerun
resumes) and the figures to ``<out_dir>/<label>.summary.json``.
"""

from orchestrator.evaluation.code_judge import (
    CodeJudgement,
    CodeStatus,
    extract_code,
    humaneval_program,
    judge_code,
    mbpp_program,
)
from orchestrator.evaluation.datasets import (
    DatasetName,
    EvalItem,
    HumanEvalItem,
    MathItem,
    MbppItem,
    load_dataset,
)
from orchestrator.evaluation.harness import (
    ProgressCallback,
    ProgressUpdate,
    compare,
    load_results,
    results_path,
    run_eval,
    summary_path,
)
from orchestrator.evaluation.judging import ItemResult, JudgeOptions, SolveOutcome, Solver, Verdict
from orchestrator.evaluation.math_judge import (
    answers_equal,
    extract_answer,
    last_boxed,
    normalize_answer,
)
from orchestrator.evaluation.prompts import build_prompt
from orchestrator.evaluation.report import (
    comparison_table,
    progress_bar,
    render_comparison,
    render_summary,
    summary_table,
)
from orchestrator.evaluation.solvers import (
    chat_model_solver,
    outcome_from_run_result,
    pipeline_solver,
)
from orchestrator.evaluation.summary import Comparison, EvalSummary, summarize

__all__ = [
    "CodeJudgement",
    "CodeStatus",
    "Comparison",
    "DatasetName",
    "EvalItem",
    "EvalSummary",
    "HumanEvalItem",
    "ItemResult",
    "JudgeOptions",
    "MathItem",
    "MbppItem",
    "ProgressCallback",
    "ProgressUpdate",
    "SolveOutcome",
    "Solver",
    "Verdict",
    "answers_equal",
    "build_prompt",
    "chat_model_solver",
    "compare",
    "comparison_table",
    "extract_answer",
    "extract_code",
    "humaneval_program",
    "judge_code",
    "last_boxed",
    "load_dataset",
    "load_results",
    "mbpp_program",
    "normalize_answer",
    "outcome_from_run_result",
    "pipeline_solver",
    "progress_bar",
    "render_comparison",
    "render_summary",
    "results_path",
    "run_eval",
    "summarize",
    "summary_path",
    "summary_table",
]
