"""Loading pipeline files: defaults, interpolation, relative paths, custom graphs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.config.loading import load_spec, parse_spec
from orchestrator.config.spec import BUILTIN_TOOL_NAMES, Provider, ToolMode
from orchestrator.exceptions import ConfigError

GOOD = Path(__file__).parents[1] / "fixtures" / "good_pipelines"
MINIMAL = "models:\n  planner: {base_url: http://127.0.0.1:8000/v1, model: scout}\n"


def test_minimal_file_gets_the_standard_agents() -> None:
    spec = load_spec(GOOD / "minimal.yaml", env={})
    assert spec.graph is None
    assert spec.models["planner"].provider is Provider.OPENAI
    assert spec.models["reasoner"].base_urls == ("http://127.0.0.1:8001/v1",)
    planner, reasoner = spec.agents["planner"], spec.agents["reasoner"]
    assert (planner.model, planner.tools, planner.tool_mode) == (
        "planner",
        BUILTIN_TOOL_NAMES,
        ToolMode.NATIVE,
    )
    assert (reasoner.model, reasoner.tools, reasoner.tool_mode) == ("reasoner", (), ToolMode.ACTION)
    assert spec.limits.max_steps == 25
    assert spec.checkpoint is None and spec.workspace is None


def test_models_without_urls_are_local_and_use_action_mode() -> None:
    spec = parse_spec("models:\n  planner:\n  reasoner: {n_ctx: 2048}\n", env={})
    assert spec.models["planner"].provider is Provider.LOCAL
    assert spec.models["reasoner"].n_ctx == 2048
    assert spec.agents["planner"].tool_mode is ToolMode.ACTION
    assert "reasoner" in spec.agents


def test_full_file_resolves_files_and_paths_against_its_directory() -> None:
    spec = load_spec(GOOD / "standard_full.yaml", env={})
    planner = spec.models["planner"]
    assert planner.base_urls == ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8010/v1")
    assert planner.serve.chat_template == str(GOOD / "templates" / "llama4_pythonic.jinja")
    assert planner.extra_body == {"top_k": 40, "repetition_penalty": 1.05}
    assert planner.price.output_per_million == pytest.approx(0.34)
    assert spec.models["reasoner"].max_tokens == 8192  # "${VAR:-8192}" becomes an int
    agent = spec.agents["planner"]
    assert agent.prompt == (GOOD / "prompts" / "planner.md").read_text()
    assert agent.prompt_file == str(GOOD / "prompts" / "planner.md")
    assert agent.tools[-1] == "other_tools.search:grep_repo"  # module:attr entries join in
    schema = spec.agents["reasoner"].output_schema
    assert schema is not None and schema["required"] == ["answer"]
    assert spec.checkpoint == f"sqlite:///{GOOD / 'runs' / 'checkpoints.db'}"
    assert spec.workspace == (GOOD.parent / "sample_repo")


def test_environment_interpolation() -> None:
    env = {"PLANNER_URL": "http://10.0.0.5:9000/v1", "REASONER_MAX_TOKENS": ""}
    spec = load_spec(GOOD / "standard_full.yaml", env=env)
    assert spec.models["planner"].base_urls[0] == "http://10.0.0.5:9000/v1"
    assert spec.models["reasoner"].max_tokens == 8192  # empty counts as unset for :-


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cost $${HOME} is $5", "cost ${HOME} is $5"),
        ("$$x^2$$ and $y$", "$$x^2$$ and $y$"),
        ("${WHO}-${WHO:-x}", "me-me"),
        ("${EMPTY}", ""),
        ("${EMPTY:-fallback}", "fallback"),
        ("${ WHO }", "me"),
    ],
)
def test_interpolation_forms(value: str, expected: str) -> None:
    spec = parse_spec(MINIMAL + f"description: '{value}'\n", env={"WHO": "me", "EMPTY": ""})
    assert spec.description == expected


def test_custom_graph() -> None:
    spec = load_spec(GOOD / "custom_graph.yaml", env={})
    graph = spec.graph
    assert graph is not None and graph.entry == "draft"
    assert spec.models["critic"].provider is Provider.LOCAL
    assert spec.agents["drafter"].model == "reasoner"  # `role` alias
    assert spec.agents["critic"].model == "critic"  # defaults to the agent's name
    assert spec.agents["critic"].output_schema == {
        "type": "object",
        "properties": {
            "approved": {"type": "boolean"},
            "issues": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["approved", "issues"],
    }
    assert [s.output for s in graph.steps.values()] == ["draft", "test_log", "review"]
    state = {"task": "t", "steps": 3, "draft": {"answer": "42"}, "test_log": "ok"}
    review = graph.steps["review"]
    assert review.input is not None
    assert review.input.render(state) == "Task: t\nAnswer: 42\nTest log: ok"
    loop = graph.edges[2]
    assert loop.when is not None
    assert loop.when.test({**state, "review": {"approved": False}})
    assert not loop.when.test({**state, "review": {"approved": True}})
    assert spec.model_dump(mode="json", by_alias=True)["graph"]["edges"][2] == {
        "from": "review",
        "to": "draft",
        "when": "not review['approved'] and steps < 12",
    }


def test_aliases_and_single_values() -> None:
    text = (
        "models:\n  planner: {base_urls: [http://a:1/v1, https://b/v1/], model: m}\n"
        "tools: {allow: read_file}\nagents:\n  planner: {tools: read_file}\n"
    )
    spec = parse_spec(text, env={})
    assert spec.models["planner"].base_urls == ("http://a:1/v1", "https://b/v1")
    assert spec.tools.builtin == ("read_file",)
    assert spec.agents["planner"].tools == ("read_file",)


def test_user_tools_from_allow_listed_modules() -> None:
    text = MINIMAL + (
        "tools: {modules: [acme.tools, other:thing]}\n"
        "agents:\n  planner: {tools: [acme.tools.sub:grep, other:thing, read_file]}\n"
    )
    spec = parse_spec(text, env={})
    assert spec.tools.allows("acme.tools:x") and not spec.tools.allows("acme.toolsx:y")
    assert not spec.tools.allows("other:else")
    assert spec.agents["planner"].tools == ("acme.tools.sub:grep", "other:thing", "read_file")


def test_parse_spec_resolves_against_base_dir() -> None:
    text = MINIMAL + "agents:\n  planner: {prompt_file: prompts/planner.md}\n"
    spec = parse_spec(text, base_dir=GOOD, env={})
    assert spec.agents["planner"].prompt == (GOOD / "prompts" / "planner.md").read_text()


def test_checkpoint_urls() -> None:
    def checkpoint(url: str) -> str | None:
        return parse_spec(MINIMAL + f"checkpoint: '{url}'\n", base_dir="/srv", env={}).checkpoint

    assert checkpoint("memory") == "memory"
    assert checkpoint("sqlite:///:memory:") == "sqlite:///:memory:"
    assert checkpoint("sqlite:////var/db.sqlite") == "sqlite:////var/db.sqlite"
    assert checkpoint("sqlite:///runs.db") == "sqlite:////srv/runs.db"
    assert checkpoint("postgres://u@h/db") == "postgres://u@h/db"


def test_anchors_and_merge_keys() -> None:
    text = (
        "models:\n  planner: &base {base_url: http://127.0.0.1:8000/v1, model: scout}\n"
        "  reasoner:\n    <<: *base\n    model: r1\n"
    )
    spec = parse_spec(text, env={})
    assert spec.models["reasoner"].base_urls == spec.models["planner"].base_urls
    with pytest.raises(ConfigError, match=r"^<string>:2:\d+: models.planner.temperature"):
        parse_spec(text.replace("model: scout}", "model: scout, temperature: 9}"), env={})


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    with pytest.raises(ConfigError, match="expands to over"):
        parse_spec("\n".join(lines) + "\n", env={})


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ConfigError, match="nested deeper"):
        parse_spec(MINIMAL + "description: " + "[" * 80 + "]" * 80 + "\n", env={})


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yaml: no such file$"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_spec(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"models: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_spec(binary)


_FRAGMENTS = [
    "models:",
    "\n",
    "  ",
    "planner:",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "${X}",
    "&a ",
    "*a",
    "!!str ",
    "!t ",
    "'",
    '"',
    "#",
    "graph:",
    "steps:",
    "when: ",
    "x",
    "1",
    "null",
    "---",
    "\t",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(["minimal.yaml", "standard_full.yaml", "custom_graph.yaml"]),
    cut=st.integers(min_value=0, max_value=2000),
    length=st.integers(min_value=0, max_value=40),
    insert=st.lists(st.sampled_from(_FRAGMENTS), max_size=4),
)
def test_mangled_files_only_ever_raise_config_error(
    base: str, cut: int, length: int, insert: list[str]
) -> None:
    text = (GOOD / base).read_text()
    cut %= len(text) + 1
    mangled = text[:cut] + "".join(insert) + text[cut + length :]
    try:
        parse_spec(mangled, path="m.yaml", base_dir=GOOD, env={})
    except ConfigError as exc:
        assert str(exc).startswith("m.yaml")
        assert "\n" not in str(exc)


def test_builtin_tool_names_match_the_tools_package() -> None:
    base = pytest.importorskip("tools.base")
    assert set(base.BUILTIN_TOOLS) == set(BUILTIN_TOOL_NAMES)
