"""Model flags on first contact: a URL without a model asks the server for its one model,
errors name the flags the user typed, and `serve` works on the embedded-model examples."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.cli.model_flags import ModelFlags, served_models
from tests.fake_openai_server import ChatReply, FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
MATH = ROOT / "examples" / "math_solver.yaml"
CODING = ROOT / "examples" / "coding_assistant" / "pipeline.yaml"
runner = CliRunner()


def test_a_url_without_a_model_uses_the_servers_only_model(tmp_path: Path) -> None:
    with FakeOpenAIServer(served_models=("org/the-only-one",)) as server:
        server.enqueue(ChatReply("4"))
        result = runner.invoke(
            app,
            [
                *("run", str(MATH), "--task", "2+2?", "--json", "--checkpoint", "memory"),
                *("--planner-url", server.base_url, "--set", "models.reasoner.max_tokens=8"),
            ],
        )
        chat = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == "4"
    assert chat[0].json["model"] == "org/the-only-one"  # before: provider 'openai' needs model


def test_a_server_with_several_models_names_them_and_the_flag_to_add() -> None:
    with FakeOpenAIServer(served_models=("a", "b")) as server:
        result = runner.invoke(
            app, ["run", str(MATH), "--task", "x", "--planner-url", server.base_url]
        )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {MATH}: --planner-url {server.base_url} without")
    assert "serves 2 models: a, b" in line and "add --planner-model NAME" in line
    assert ":10:" not in line  # before: pointed at the YAML line of models.planner


def test_an_unreachable_url_says_which_flag_to_add() -> None:
    flags = ModelFlags(reasoner_url="http://127.0.0.1:9/v1").resolve()
    origin = flags.origins["models.reasoner.base_url=http://127.0.0.1:9/v1"]
    assert origin.startswith("--reasoner-url http://127.0.0.1:9/v1 without --reasoner-model")
    assert "--set" not in origin
    result = runner.invoke(
        app, ["run", str(CODING), "--task", "x", "--reasoner-url", "http://127.0.0.1:9/v1"]
    )
    assert result.exit_code == 2 and "--set" not in result.stderr  # never a --set not typed
    assert "add --reasoner-model NAME" in result.stderr


def test_served_models_reads_the_model_list() -> None:
    with FakeOpenAIServer(served_models=("x", "y")) as server:
        assert served_models(server.base_url) == ["x", "y"]


def test_serve_names_the_weights_for_an_embedded_model_role() -> None:
    plain = runner.invoke(app, ["serve", str(CODING), "--role", "planner", "--dry-run"])
    assert plain.exit_code == 2 and "--planner-model NAME" in plain.stderr
    result = runner.invoke(
        app,
        [
            *("serve", str(CODING), "--role", "planner", "--dry-run"),
            *("--planner-model", "meta-llama/Llama-4-Scout-17B-16E-Instruct"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("vllm serve meta-llama/Llama-4-Scout-17B-16E-Instruct ")
    assert "--port 8000" in result.stdout and "llama4_pythonic" in result.stdout
    nothing = runner.invoke(app, ["serve", str(MATH), "--dry-run"])
    assert nothing.exit_code == 2 and "no server to start" in nothing.stderr  # before: silent 0
