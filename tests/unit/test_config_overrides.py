"""`--set dotted.key=value` overrides."""

from __future__ import annotations

import pytest

from orchestrator.config.loading import parse_spec
from orchestrator.exceptions import ConfigError

BASE = (
    "models:\n  planner: {base_url: http://127.0.0.1:8000/v1, model: scout}\n"
    "graph:\n  steps:\n    a: {agent: planner}\n"
    "  edges:\n    - {from: a, to: end, when: 'steps > 1'}\n"
)


def _load(*overrides: str) -> object:
    return parse_spec(BASE, path="p.yaml", overrides=overrides, env={})


def test_values_are_parsed_as_yaml_and_missing_mappings_created() -> None:
    spec = parse_spec(
        BASE,
        overrides=[
            "limits.max_steps=5",
            "models.planner.temperature=0.25",
            "models.planner.base_url=http://10.0.0.1:9000/v1",
            "models.reasoner.n_ctx=1024",
            "agents.planner.tools=[read_file, evaluate]",
            "graph.edges.0.when=steps > 4",
            "models.planner.extra_body.top_k=20",
            "description=",
        ],
        env={},
    )
    assert spec.limits.max_steps == 5
    planner = spec.models["planner"]
    assert planner.temperature == 0.25
    assert planner.base_urls == ("http://10.0.0.1:9000/v1",)
    assert planner.extra_body == {"top_k": 20}
    assert spec.models["reasoner"].n_ctx == 1024
    assert spec.agents["planner"].tools == ("read_file", "evaluate")
    assert spec.graph is not None and str(spec.graph.edges[0].when) == "steps > 4"


def test_later_overrides_win() -> None:
    spec = parse_spec(BASE, overrides=["limits.max_steps=5", "limits.max_steps=7"], env={})
    assert spec.limits.max_steps == 7


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("limits.max_step=5", "limits has no key 'max_step'; did you mean 'max_steps'?"),
        ("limts.max_steps=5", "a pipeline has no key 'limts'; did you mean 'limits'?"),
        ("models.planner.temprature=1", "did you mean 'temperature'?"),
        ("limits.max_steps", "expected dotted.key=value"),
        ("limits..max_steps=3", "expected dotted.key=value"),
        ("graph.edges.3.when=x", "graph.edges has no item 3 (it has 1)"),
        ("graph.edges.x.when=x", "graph.edges has no item x"),
        ("tools.builtin.0=x", "tools.builtin has no items to change"),
        ("name.first=x", "name has no key 'first'"),
        ("models.planner=[unclosed", "value does not parse as YAML"),
        ("limits.max_steps=ten", "limits.max_steps: expected a valid integer"),
        ("models.planner.serve.port=70000", "less than or equal to 65535"),
        ("graph.edges.0.when=a.b", "attribute access is not allowed"),
        ("models.critic.model_path=/nonexistent.gguf", "model file '/nonexistent.gguf' not found"),
    ],
)
def test_bad_overrides(item: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(item)
    text = str(caught.value)
    assert text.startswith(f"p.yaml: --set {item}: ")
    assert message in text
    assert "\n" not in text


def test_override_below_a_scalar() -> None:
    with pytest.raises(ConfigError, match=r"--set limits.max_steps=3: limits is a single value"):
        parse_spec(BASE + "limits: 5\n", overrides=["limits.max_steps=3"], env={})


def test_file_errors_are_still_reported_at_their_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(BASE + "limits: {max_steps: 0}\n", path="p.yaml", overrides=["name=x"], env={})
    assert str(caught.value).startswith("p.yaml:8:21: limits.max_steps")
