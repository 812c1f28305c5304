"""``tools.modules``: the standard library and callables that are not tools are refused, and
``bicameral graph`` imports no user module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.app import app
from orchestrator.config.loading import parse_spec
from orchestrator.exceptions import ConfigError
from orchestrator.loader import load_pipeline

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

runner = CliRunner()
_MODELS = "models: {planner: {base_url: 'http://127.0.0.1:9/v1', model: m}}\n"
STDLIB = [
    "os:system",
    "subprocess:getoutput",
    "subprocess",
    "os.path:join",
    "shutil:rmtree",
    "builtins:eval",
    "importlib:import_module",
    "pty:spawn",
    "_posixsubprocess:fork_exec",
]


@pytest.mark.parametrize("entry", STDLIB)
def test_standard_library_modules_are_refused(entry: str) -> None:
    with pytest.raises(ConfigError, match="standard-library"):
        parse_spec(_MODELS + f"tools: {{modules: ['{entry}']}}\n")


def _module(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)
    sys.path.insert(0, str(tmp_path))


@pytest.fixture
def user_modules(tmp_path: Path) -> object:
    old = list(sys.path)
    yield tmp_path
    sys.path[:] = old
    for name in [m for m in sys.modules if m.startswith("hostile_mod_")]:
        del sys.modules[name]


def _pipeline(tmp_path: Path, ref: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(_MODELS + f"tools: {{builtin: [], modules: ['{ref}']}}\n")
    return path


@pytest.mark.parametrize(
    ("attr", "body"),
    [
        ("run", "import os\nrun = os.system\n"),
        ("run", "def run(cmd):\n    '''Run.'''\n    return cmd\n"),
        ("run", "class run:\n    '''A class.'''\n"),
        ("run", "import functools\nrun = functools.partial(print, 'x')\n"),
        ("run", "run = 42\n"),
    ],
    ids=["builtin-alias", "untyped", "class", "partial", "not-callable"],
)
def test_callables_that_are_not_typed_functions_are_refused(
    user_modules: Path, attr: str, body: str
) -> None:
    name = f"hostile_mod_{abs(hash(body)) % 10**8}"
    _module(user_modules, name, body)
    with pytest.raises(ConfigError, match="LangChain tool nor a Python function"):
        load_pipeline(_pipeline(user_modules, f"{name}:{attr}"), notice=None)


def test_a_typed_function_is_accepted(user_modules: Path) -> None:
    body = "def add(a: int, b: int) -> int:\n    '''Add.'''\n    return a + b\n"
    _module(user_modules, "hostile_mod_ok", body)
    pipeline = load_pipeline(_pipeline(user_modules, "hostile_mod_ok:add"), notice=None)
    assert "add" in pipeline.context.planner.toolset.names


def test_graph_does_not_import_user_modules(user_modules: Path) -> None:
    marker = user_modules / "imported.txt"
    body = f"open({str(marker)!r}, 'w').write('x')\n"
    body += "def t(a: int) -> int:\n    '''T.'''\n    return a\n"
    _module(user_modules, "hostile_mod_sidefx", body)
    result = runner.invoke(app, ["graph", str(_pipeline(user_modules, "hostile_mod_sidefx:t"))])
    assert result.exit_code == 0, result.output
    assert not marker.exists()
