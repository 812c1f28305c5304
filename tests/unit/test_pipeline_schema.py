"""The exported JSON Schema accepts the example pipelines and catches what editors should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from orchestrator.config.editor_schema import pipeline_json_schema, pipeline_json_schema_text
from orchestrator.config.loading import load_spec

FIXTURES = Path(__file__).parents[1] / "fixtures"
GOOD = sorted((FIXTURES / "good_pipelines").glob("*.yaml"))
EXAMPLES = Path(__file__).parents[2] / "examples"
PIPELINES = GOOD + sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*/pipeline.yaml"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = pipeline_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(data)]


def test_good_fixtures_exist() -> None:
    assert {p.stem for p in GOOD} >= {"minimal", "standard_full", "custom_graph"}


@pytest.mark.parametrize("path", PIPELINES, ids=[f"{p.parent.name}/{p.stem}" for p in PIPELINES])
def test_good_pipelines_validate(validator: Draft202012Validator, path: Path) -> None:
    assert _errors(validator, _yaml(path.read_text())) == []
    load_spec(path, env={})  # and the loader agrees


def test_text_is_stable_json() -> None:
    text = pipeline_json_schema_text()
    assert text.endswith("}\n") and text == pipeline_json_schema_text()
    data = json.loads(text)
    assert data["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert data["title"] == "Bicameral pipeline"
    assert data["required"] == ["models"]
    assert "``" not in text


def test_alternative_key_names_and_empty_entries(validator: Draft202012Validator) -> None:
    data = _yaml(
        "models:\n  planner:\n  reasoner: {base_url: http://h:1/v1, model: r}\n"
        "  helper: {base_urls: [http://a/v1, http://b/v1], model: m}\n"
        "tools: {allow: [read_file]}\n"
        "agents:\n  critic: {role: helper}\n  scribe:\n"
        "graph:\n  steps:\n    a: {agent: critic}\n  edges:\n    - {from: a, to: end, when: true}\n"
    )
    assert _errors(validator, data) == []


def test_environment_references_in_numbers(validator: Draft202012Validator) -> None:
    good = _yaml("models: {planner: }\nlimits: {max_steps: '${STEPS:-5}', max_cost_usd: 1}\n")
    assert _errors(validator, good) == []
    bad = _yaml("models: {planner: }\nlimits: {max_steps: ten}\n")
    assert _errors(validator, bad)


@pytest.mark.parametrize(
    "name",
    [
        "unknown_top_key",
        "unknown_model_key",
        "unknown_step_key",
        "wrong_type_models",
        "unknown_provider",
        "bad_tool_mode",
        "missing_models",
        "bad_version",
        "negative_limit",
    ],
)
def test_schema_catches_what_an_editor_can(validator: Draft202012Validator, name: str) -> None:
    data = _yaml((FIXTURES / "bad_pipelines" / f"{name}.yaml").read_text())
    assert _errors(validator, data)
