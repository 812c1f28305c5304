"""The math-solver pipeline built in Python instead of YAML.

Run it with the embedded model (no server needed; the 135M model shows the machinery but
rarely finishes this open a task: examples/calculator.yaml is the offline example that
answers):
    .venv/bin/python examples/python_api.py "What is 12 * 13?"
or against vLLM servers (exit status 0 when the run completed, 1 otherwise):
    BICAMERAL_PLANNER_URL=http://127.0.0.1:8000/v1 BICAMERAL_REASONER_URL=http://127.0.0.1:8001/v1 \
    .venv/bin/python examples/python_api.py "What is 12 * 13?"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from orchestrator import Limits, OpenAICompatChatModel, Pipeline
from orchestrator.cli.progress import ProgressRenderer, format_result
from tools import ToolContext, build_tools


def model(role: str) -> BaseChatModel:
    """A vLLM-served model when BICAMERAL_<ROLE>_URL is set, else the embedded model."""
    url = os.environ.get(f"BICAMERAL_{role.upper()}_URL")
    if url:
        name = os.environ.get(f"BICAMERAL_{role.upper()}_MODEL", role)
        return OpenAICompatChatModel(base_urls=[url], model=name)
    from orchestrator.models.local import LocalChatModel

    return LocalChatModel(max_tokens=384 if role == "reasoner" else 128)


def main() -> int:
    task = sys.argv[1] if len(sys.argv) > 1 else "What is 12 * 13?"
    tools = build_tools(["evaluate", "check_equal"], ToolContext(Path.cwd()))
    pipeline = Pipeline(
        planner=model("planner"),
        reasoner=model("reasoner"),
        tools=tools,
        reasoner_tools=tools,
        limits=Limits(max_steps=8, max_wall_time_s=120),
    )
    result = None
    with ProgressRenderer() as progress:
        for event in pipeline.stream(task):
            progress.handle(event)
            result = getattr(event, "result", result)
    assert result is not None
    print(format_result(result))  # status, answer, and the error's type and message if any
    return 0 if result.ok else 1  # budget_exhausted or failed is not success


if __name__ == "__main__":
    sys.exit(main())
