"""Secrets stay out of what Bicameral shows, and files a pipeline names stay in its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.config.loading import load_spec, parse_spec
from orchestrator.exceptions import ConfigError

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

runner = CliRunner()
KEY = "sk-live-0123456789abcdef"
_URL = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    "model",
    [
        "api_key_env: '${OPENAI_API_KEY}'",
        "base_url: '${OPENAI_API_KEY}'",
        "temperature: '${OPENAI_API_KEY}'",
        "max_tokens: '${OPENAI_API_KEY}'",
        "extra_body: '${OPENAI_API_KEY}'",
        "base_url: 'http://u:${OPENAI_API_KEY}@[::1'",
        "provider: '${OPENAI_API_KEY}'",
    ],
)
def test_a_value_from_the_environment_is_not_printed_in_errors(model: str) -> None:
    text = f"models:\n  planner: {{model: m, base_url: '{_URL}', {model}}}\n".replace(
        f"base_url: '{_URL}', base_url", "base_url"
    )
    with pytest.raises(ConfigError) as caught:
        parse_spec(text, env={"OPENAI_API_KEY": KEY})
    assert KEY not in str(caught.value)
    assert KEY[:12] not in str(caught.value)


def test_serve_dry_run_shows_references_not_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_value_42")
    path = tmp_path / "p.yaml"
    path.write_text(
        "models:\n  planner:\n    base_url: http://127.0.0.1:8000/v1\n    model: m\n"
        "    serve:\n      env: {HF_TOKEN: '${HF_TOKEN}'}\n"
        "      extra_args: ['--hf-token', '${HF_TOKEN}']\n"
    )
    result = runner.invoke(app, ["serve", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "hf_secret_token_value_42" not in result.output
    assert "${HF_TOKEN}" in result.output


@pytest.mark.parametrize("ref", ["/proc/self/environ", "/etc/passwd", "../outside.txt", "link.txt"])
def test_prompt_files_outside_the_pipeline_folder_are_refused(tmp_path: Path, ref: str) -> None:
    folder = tmp_path / "pipe"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("private")
    (folder / "link.txt").symlink_to(tmp_path / "outside.txt")
    path = folder / "p.yaml"
    path.write_text(
        f"models: {{planner: {{base_url: '{_URL}', model: m}}}}\n"
        f"agents: {{planner: {{prompt_file: '{ref}'}}}}\n"
    )
    with pytest.raises(ConfigError, match="outside the pipeline's folder"):
        load_spec(path)
    spec = load_spec(path, allow_outside_files=True) if ref != "/proc/self/environ" else None
    if spec is not None:
        assert spec.agents["planner"].prompt


def test_schema_and_template_files_outside_are_refused(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"type": "object"}')
    folder = tmp_path / "pipe"
    folder.mkdir()
    base = f"models: {{planner: {{base_url: '{_URL}', model: m}}}}\n"
    schema = folder / "schema.yaml"
    schema.write_text(base + "agents: {planner: {output_schema: ../s.json}}\n")
    template = folder / "template.yaml"
    template.write_text(
        "models: {planner: {base_url: 'http://127.0.0.1:8000/v1', model: m, "
        "serve: {chat_template: ../s.json}}}\n"
    )
    for path in (schema, template):
        with pytest.raises(ConfigError, match="outside the pipeline's folder"):
            load_spec(path)
        load_spec(path, allow_outside_files=True)


def test_cli_flag_allows_outside_files(tmp_path: Path) -> None:
    (tmp_path / "prompt.txt").write_text("be brief")
    folder = tmp_path / "pipe"
    folder.mkdir()
    path = folder / "p.yaml"
    path.write_text(
        f"models: {{planner: {{base_url: '{_URL}', model: m}}}}\n"
        "agents: {planner: {prompt_file: ../prompt.txt}}\n"
    )
    refused = runner.invoke(app, ["validate", str(path)])
    allowed = runner.invoke(app, ["validate", "--allow-outside-files", str(path)])
    assert refused.exit_code == 2 and "outside the pipeline's folder" in refused.stderr
    assert allowed.exit_code == 0, allowed.output


@pytest.mark.parametrize("behaviour", ["echo_auth_stream", "echo_auth_error"])
def test_a_server_echoing_the_key_puts_it_in_no_output_or_checkpoint(
    tmp_path: Path, behaviour: str
) -> None:
    import os
    import subprocess
    import sys

    from tests.security._bounded import ROOT
    from tests.security._hostile_server import HostileServer

    with HostileServer(behaviour) as server:
        (tmp_path / "p.yaml").write_text(
            "models:\n  planner: {base_url: '" + server.base_url + "', model: m, "
            "api_key_env: HOSTILE_KEY, max_retries: 0}\n"
            "tools: {builtin: []}\n"
        )
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "run", "p.yaml", "-t", "hi", "--json"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HOSTILE_KEY": KEY},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert "Traceback" not in done.stderr, done.stderr
    assert KEY not in done.stdout + done.stderr
    stored = b"".join(p.read_bytes() for p in (tmp_path / ".bicameral").rglob("*") if p.is_file())
    assert stored and KEY.encode() not in stored
