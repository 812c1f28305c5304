"""What a newcomer meets on the command line: every mistake of a file at once, forgiving
forms, `--version`, `--quiet` that still answers, and clean numbers in JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.config.loading import parse_spec
from orchestrator.result import result_from_state
from tests.fake_openai_server import ChatReply, FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_validate_reports_every_error_in_file_order_with_the_error_prefix(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "models:\n  planner: {temperature: 5}\n"
        "limits:\n  max_stepz: 3\n  max_invalid_tool_calls: 0\n"
    )
    result = runner.invoke(app, ["validate", str(path)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2
    assert [line.split(":")[2:4] for line in lines] == [["2", "26"], ["4", "3"], ["5", "27"]]
    assert all(line.startswith(f"error: {path}:") for line in lines)  # as `run` prints them
    assert "did you mean 'max_steps'" in lines[1]


def test_tools_as_a_list_is_the_builtin_list() -> None:
    spec = parse_spec("models: {planner: {}}\ntools: [evaluate, check_equal]\n", env={})
    assert spec.tools.builtin == ("evaluate", "check_equal")  # before: expected a mapping


def test_a_non_utf8_file_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"models:\n  planner: {}\nname: caf\xe9\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:3:10: not UTF-8 text: byte 0xe9")


def test_version_and_flags_without_a_bool_metavar() -> None:
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("bicameral ")
    help_text = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "120"}).stdout
    json_line = next(line for line in help_text.splitlines() if "--json" in line)
    assert "<bool>" not in json_line  # before: `--json <bool>`, yet `--json true` is refused


def test_quiet_prints_the_answer_and_json_has_no_float_noise(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    with FakeOpenAIServer() as server:
        path.write_text(f"models:\n  planner: {{base_url: '{server.base_url}', model: fake}}\n")
        server.enqueue(ChatReply("42"))
        quiet = runner.invoke(
            app, ["run", str(path), "--task", "6*7?", "--quiet", "--checkpoint", "memory"]
        )
    assert quiet.exit_code == 0 and quiet.stdout.strip() == "42"  # before: nothing printed
    usage = {"planner": {"latency_s": 0.1 + 0.2, "calls": 2}}
    result = result_from_state({"usage": usage}, thread_id="t", prices={}, elapsed_s=1.0)
    assert json.loads(result.to_json())["usage"]["planner"]["latency_s"] == 0.3


def test_gitignore_ignores_no_tracked_file() -> None:
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked_but_ignored == []


def test_pyproject_licence_is_an_spdx_string() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # a {text = ...} table makes setuptools print a deprecation warning on every install
    assert project["project"]["license"] == "Apache-2.0"
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])
