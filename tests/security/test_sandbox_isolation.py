"""The sandbox says how far it isolates code: at start-up (one log line) and in results."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import tools._isolation
from orchestrator import FakeChatModel, Pipeline
from tools.sandbox import Isolation, run_python, sandbox_isolation


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    sandbox_isolation.cache_clear()
    yield
    sandbox_isolation.cache_clear()


def test_a_machine_without_namespaces_gets_limits_only_and_is_told(
    fresh_probe: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_bootstrap = tools._isolation._BOOTSTRAP
    monkeypatch.setattr(tools._isolation, "_BOOTSTRAP", "/nonexistent/_child.py")
    with caplog.at_level(logging.INFO, logger="tools.sandbox"):
        assert sandbox_isolation() is Isolation.LIMITS_ONLY
    monkeypatch.setattr(tools._isolation, "_BOOTSTRAP", real_bootstrap)
    lines = [r.getMessage() for r in caplog.records if r.name == "tools.sandbox"]
    assert lines == [Isolation.LIMITS_ONLY.describe()]
    assert caplog.records[-1].levelno == logging.WARNING
    result = run_python("print(6 * 7)")
    assert result.ok and result.stdout == "42\n"
    assert result.isolation is Isolation.LIMITS_ONLY


def test_the_probe_runs_once(fresh_probe: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tools.sandbox"):
        first = sandbox_isolation()
        run_python("pass")
        assert sandbox_isolation() is first
    assert len([r for r in caplog.records if r.name == "tools.sandbox"]) == 1


def test_run_results_name_the_isolation() -> None:
    result = Pipeline(planner=FakeChatModel(["hi"])).run("x")
    assert result.sandbox == sandbox_isolation().describe()
    assert result.sandbox.startswith("sandbox: ")


def test_pytest_runs_in_the_sandbox(tmp_path: Path) -> None:
    """What the coding-assistant demo needs: the interpreter and site-packages readable,
    the workspace writable, a private /tmp."""
    (tmp_path / "test_ok.py").write_text(
        "import tempfile\n\ndef test_tmp():\n"
        "    with tempfile.NamedTemporaryFile(dir='/tmp') as fh:\n        fh.write(b'x')\n"
    )
    from tools.tests import run_tests

    report = run_tests(tmp_path)
    assert report.passed == 1 and report.failed == 0, report


def test_the_cli_says_so_in_one_line_when_isolation_is_reduced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tools.sandbox
    from orchestrator.cli.run_commands import _warn_reduced_isolation

    monkeypatch.setattr(tools.sandbox, "sandbox_isolation", lambda: Isolation.LIMITS_ONLY)
    _warn_reduced_isolation()
    assert capsys.readouterr().err.splitlines() == [f"warning: {Isolation.LIMITS_ONLY.describe()}"]
    monkeypatch.setattr(tools.sandbox, "sandbox_isolation", lambda: Isolation.NAMESPACES)
    _warn_reduced_isolation()
    assert capsys.readouterr().err == ""
