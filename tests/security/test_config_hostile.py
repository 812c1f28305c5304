"""Hostile pipeline files and CLI values: FIFOs, endless devices, alias bombs, huge files.

Each attack runs in a child process under an address-space cap and a timeout: before the
fixes they hung, raised ``MemoryError`` with a traceback, or took tens of seconds.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from orchestrator.config import loading
from orchestrator.config.loading import load_spec, parse_spec
from orchestrator.exceptions import ConfigError
from tests.security._bounded import run_bounded

pytestmark = pytest.mark.timeout(300)  # an attack that regresses fails, never hangs

_MODELS = "models: {planner: {base_url: 'http://127.0.0.1:9/v1', model: m}}\n"
BOMB = textwrap.dedent(
    """\
    a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
    type: object
    """
)


def _validate(path: Path | str, *extra: str, timeout_s: float = 30.0) -> tuple[int, str]:
    code = (
        "import sys; from orchestrator.cli.app import main; "
        f"sys.argv = ['bicameral', 'validate', {str(path)!r}, *{list(extra)!r}]; main()"
    )
    done = run_bounded(code, limit_mb=768, timeout_s=timeout_s)
    return done.returncode, done.stdout + done.stderr


def _pipeline(tmp_path: Path, agent: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(_MODELS + f"agents: {{planner: {agent}}}\n")
    return path


def test_prompt_file_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    rc, out = _validate(_pipeline(tmp_path, "{prompt_file: fifo}"))
    assert rc == 2, out
    assert "not a regular file" in out and "Traceback" not in out


def test_prompt_file_dev_zero_is_refused(tmp_path: Path) -> None:
    rc, out = _validate(_pipeline(tmp_path, "{prompt_file: /dev/zero}"), "--allow-outside-files")
    assert rc == 2, out
    assert "not a regular file" in out and "MemoryError" not in out


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_validate_a_device_is_one_line(device: str) -> None:
    rc, out = _validate(device)
    assert rc == 2, out
    assert out.strip().count("\n") == 0 and "Traceback" not in out


def test_validate_a_fifo_pipeline_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.yaml")
    rc, out = _validate(tmp_path / "p.yaml")
    assert rc == 2 and "not a regular file" in out, out


def test_alias_bomb_in_a_schema_file(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text(BOMB)
    rc, out = _validate(_pipeline(tmp_path, "{output_schema: schema.yaml}"))
    assert rc == 2, out
    assert "over 100000 values" in out and "Traceback" not in out


def test_self_referencing_alias_in_a_schema_file(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text("&a {type: object, properties: {x: *a}}\n")
    rc, out = _validate(_pipeline(tmp_path, "{output_schema: schema.yaml}"))
    assert rc == 2 and "nested deeper" in out, out


def test_deeply_nested_json_schema_file(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text("[" * 200_000 + "]" * 200_000)
    rc, out = _validate(_pipeline(tmp_path, "{output_schema: schema.json}"))
    assert rc == 2 and "Traceback" not in out, out


def test_alias_bomb_in_a_set_value(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(_MODELS)
    bomb = "{" + ", ".join(line.replace(": ", ": ", 1) for line in BOMB.splitlines()) + "}"
    code = (
        "from orchestrator.config.loading import load_spec\n"
        "from orchestrator.exceptions import ConfigError\n"
        f"try:\n    load_spec({str(path)!r}, ['models.planner.extra_body=' + {bomb!r}])\n"
        "except ConfigError as exc:\n    print('refused:', exc)\n"
    )
    done = run_bounded(code, limit_mb=768, timeout_s=30)
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "over 100000 values" in done.stdout


def test_a_huge_pipeline_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(_MODELS + "".join(f"k{i}: {i}\n" for i in range(200_000)))
    with pytest.raises(ConfigError, match="larger than"):
        load_spec(path)
    with pytest.raises(ConfigError, match="longer than"):
        parse_spec("x" * (loading.MAX_FILE_BYTES + 1))


def test_huge_prompt_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prompt.txt").write_text("x" * (2 << 20))
    with pytest.raises(ConfigError, match="larger than"):
        load_spec(_pipeline(tmp_path, "{prompt_file: prompt.txt}"))
