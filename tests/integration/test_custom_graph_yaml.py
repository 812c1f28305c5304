"""A custom graph loaded from YAML runs against the loopback fake server."""

from __future__ import annotations

from pathlib import Path

from orchestrator import RunStatus, load_pipeline
from tests.fake_openai_server import ChatReply, FakeOpenAIServer


def test_yaml_custom_graph_end_to_end(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        path = tmp_path / "graph.yaml"
        path.write_text(
            "models:\n"
            f"  writer: {{base_url: '{server.base_url}', model: w, max_retries: 0}}\n"
            "agents:\n  writer: {}\n"
            "tools: {builtin: [evaluate]}\n"
            "graph:\n"
            "  steps:\n"
            "    draft: {agent: writer, output_schema: {type: object, properties: "
            "{n: {type: integer}}, required: [n]}}\n"
            "    double: {tool: evaluate, args: {expression: \"{{ draft['n'] }} * 2\"}}\n"
            "  edges:\n    - {from: draft, to: double}\n"
        )
        server.enqueue(ChatReply('Sure: {"n": "21"}'))
        result = load_pipeline(path, notice=None).run("pick a number")
    assert result.status is RunStatus.COMPLETED
    assert result.outputs == [{"step": "draft", "result": {"n": 21}}]  # "21" coerced losslessly
    assert result.answer == "42"
    assert result.usage["writer"].calls == 1
