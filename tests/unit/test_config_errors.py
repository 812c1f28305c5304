"""Every malformed pipeline gives one ConfigError `file:line:col: message`, nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.config.loading import load_spec, parse_spec
from orchestrator.exceptions import ConfigError, SchemaDefinitionError

BAD = Path(__file__).parents[1] / "fixtures" / "bad_pipelines"
_EXPECT = re.compile(r"# expect: (\d+):(\d+): (.+)")
_PLANNER = "models:\n  planner: {base_url: http://127.0.0.1:8000/v1, model: scout}\n"


def _corpus() -> Iterator[object]:
    for path in sorted(BAD.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").partition("\n")[0]
        found = _EXPECT.fullmatch(first)
        assert found, f"{path.name}: first line must be '# expect: LINE:COL: message fragment'"
        yield pytest.param(path, int(found[1]), int(found[2]), found[3], id=path.stem)


def test_corpus_is_large() -> None:
    assert len(list(BAD.glob("*.yaml"))) >= 25


@pytest.mark.parametrize(("path", "line", "col", "fragment"), list(_corpus()))
def test_bad_pipeline(path: Path, line: int, col: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_spec(path, env={})
    err = caught.value
    assert str(err) == f"{path}:{line}:{col}: {err.message}"
    assert fragment in err.message
    assert "\n" not in str(err)
    if "JSON Schema" in fragment:
        assert isinstance(err, SchemaDefinitionError)


def test_schema_definition_error_is_a_config_error() -> None:
    with pytest.raises(SchemaDefinitionError) as caught:
        load_spec(BAD / "invalid_json_schema.yaml", env={})
    assert isinstance(caught.value, ConfigError)


def test_misspelt_key_is_reported_before_the_missing_key_it_causes() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec("limits: {max_steps: 3}\nmodles:\n  planner: {}\n", env={})
    assert caught.value.message == "unknown key 'modles' at the top level; did you mean 'models'?"
    assert (caught.value.line, caught.value.col) == (2, 1)


def test_first_error_in_file_order_is_reported() -> None:
    text = _PLANNER + "limits:\n  max_steps: 0\n  max_total_tokens: -1\nname: [x]\n"
    with pytest.raises(ConfigError) as caught:
        parse_spec(text, path="p.yaml", env={})
    assert str(caught.value).startswith("p.yaml:4:14: limits.max_steps: expected greater than")


def test_misspelt_planner_role() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec("models:\n  reasoner: {}\n  planer: {}\n", path="p.yaml", env={})
    assert str(caught.value) == (
        "p.yaml:3:3: models.planner is required for the standard graph"
        " (is 'planer' a misspelling of 'planner'?)"
    )


def test_missing_key_points_at_the_mapping() -> None:
    text = _PLANNER + "graph:\n  steps:\n    a: {agent: planner}\n  edges:\n    - {to: a}\n"
    with pytest.raises(ConfigError) as caught:
        parse_spec(text, path="p.yaml", env={})
    assert str(caught.value) == "p.yaml:7:7: missing required key 'from' in graph.edges[0]"


def test_unknown_tool_in_a_defaulted_agent_is_reported_where_it_is_written() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(_PLANNER + "tools:\n  builtin: [read_file, evaluat]\n", path="p.yaml", env={})
    assert str(caught.value) == (
        "p.yaml:4:24: unknown built-in tool 'evaluat'; did you mean 'evaluate'?"
    )


def test_errors_inside_a_schema_file_name_the_file() -> None:
    with pytest.raises(SchemaDefinitionError, match=r"in 'assets/bad_schema.json' at \$\.required"):
        load_spec(BAD / "invalid_json_schema_file.yaml", env={})
