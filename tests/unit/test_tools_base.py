"""Toolset: OpenAI schemas, argument validation, calls, approval flags, built-in factories."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.tools import BaseTool, tool
from pydantic import Field

from orchestrator.exceptions import (
    ToolArgumentError,
    ToolError,
    WorkspaceEscapeError,
)
from orchestrator.types import SchemaIssue
from tools import BUILTIN_TOOLS, ToolContext, Toolset, build_tools
from tools.base import require_approval, tool_from_function


def add(a: int, b: Annotated[int, Field(ge=0)] = 1) -> int:
    """Add two integers.

    Args:
        a: the first.
        b: the second, not negative.
    """
    return a + b


def fail(message: str) -> str:
    """Always fails.

    Args:
        message: what to say.
    """
    raise ValueError(message)


def where() -> str:
    """Name the thread this runs on."""
    return threading.current_thread().name


async def shout(text: str) -> str:
    """Upper-case the text.

    Args:
        text: what to shout.
    """
    await asyncio.sleep(0)
    return text.upper()


def nested(items: list[dict[str, int]]) -> int:
    """Sum the 'n' of each item.

    Args:
        items: objects with an integer n.
    """
    return sum(i["n"] for i in items)


@pytest.fixture
def toolset() -> Toolset:
    return Toolset(
        [
            tool_from_function(add),
            tool_from_function(fail),
            tool_from_function(where),
            tool_from_function(shout),
            tool_from_function(nested),
        ]
    )


def test_schemas_are_openai_format_with_docstring_descriptions(toolset: Toolset) -> None:
    schema = toolset.schemas()[0]
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "add"
    assert fn["description"] == "Add two integers."
    params = fn["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["a"]
    assert params["properties"]["a"]["type"] == "integer"
    assert params["properties"]["a"]["description"] == "the first."
    assert params["properties"]["b"]["minimum"] == 0
    assert params["additionalProperties"] is False
    assert toolset.names == ("add", "fail", "where", "shout", "nested")


def test_schemas_are_fresh_copies(toolset: Toolset) -> None:
    toolset.schemas()[0]["function"]["name"] = "changed"
    assert toolset.schemas()[0]["function"]["name"] == "add"


def test_validate_returns_arguments_and_accepts_json_text(toolset: Toolset) -> None:
    assert toolset.validate("add", {"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert toolset.validate("add", '{"a": 3}') == {"a": 3}
    assert toolset.validate("where", None) == {}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, "$: 'a' is a required property"),
        ({"a": "x"}, "$.a: 'x' is not of type 'integer'"),
        ({"a": 1, "b": -1}, "$.b: -1 is less than the minimum of 0"),
        ({"a": 1, "c": 2}, "$: Additional properties are not allowed ('c' was unexpected)"),
    ],
)
def test_validate_reports_json_paths(toolset: Toolset, args: dict[str, Any], expected: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        toolset.validate("add", args)
    assert expected in str(info.value)
    assert info.value.tool == "add"
    assert all(isinstance(e, SchemaIssue) for e in info.value.details)


def test_validate_reports_nested_paths_and_every_error(toolset: Toolset) -> None:
    with pytest.raises(ToolArgumentError) as info:
        toolset.validate("nested", {"items": [{"n": 1}, {"n": "two"}, 3]})
    paths = [e.path for e in info.value.details]
    assert paths == ["$.items[1].n", "$.items[2]"]


def test_validate_refuses_non_objects(toolset: Toolset) -> None:
    with pytest.raises(ToolArgumentError, match=r"\$: arguments must be a JSON object"):
        toolset.validate("add", "[1, 2]")
    with pytest.raises(ToolArgumentError, match="not valid JSON"):
        toolset.validate("add", "{a: 1")


def test_unknown_tool_suggests_the_closest(toolset: Toolset) -> None:
    with pytest.raises(ToolError, match="did you mean 'add'") as info:
        toolset.validate("addd", {})
    assert not isinstance(info.value, ToolArgumentError)
    with pytest.raises(ToolError, match="unknown tool 'zzz' \\(available: add, fail"):
        toolset.get("zzz")


async def test_acall_runs_sync_tools_in_a_worker_thread(toolset: Toolset) -> None:
    assert await toolset.acall("add", {"a": 2, "b": 3}) == "5"
    assert await toolset.acall("where", {}) != threading.current_thread().name
    assert await toolset.acall("shout", {"text": "hi"}) == "HI"


async def test_acall_validates_before_calling(toolset: Toolset) -> None:
    with pytest.raises(ToolArgumentError):
        await toolset.acall("add", {"a": "nope"})


async def test_tool_failures_become_tool_errors(toolset: Toolset) -> None:
    with pytest.raises(ToolError, match="fail failed: ValueError: boom") as info:
        await toolset.acall("fail", {"message": "boom"})
    assert info.value.tool == "fail"
    with pytest.raises(ToolError, match="fail failed"):
        toolset.call("fail", {"message": "boom"})


def test_sync_call(toolset: Toolset) -> None:
    assert toolset.call("add", {"a": 40, "b": 2}) == "42"
    assert toolset.call("nested", {"items": [{"n": 1}, {"n": 2}]}) == "3"


def test_any_langchain_tool_can_be_added() -> None:
    @tool
    def multiply(a: float, b: float) -> float:
        """Multiply two numbers."""
        return a * b

    toolset = Toolset([multiply])
    assert toolset.schemas()[0]["function"]["parameters"]["properties"]["a"]["type"] == "number"
    assert toolset.call("multiply", {"a": 2, "b": 2.5}) == "5.0"
    assert not toolset.requires_approval("multiply")


def test_approval_and_file_change_flags() -> None:
    plain = tool_from_function(add)
    gated = tool_from_function(add, name="gated_add", requires_approval=True, changes_files=True)
    toolset = Toolset([plain, gated, require_approval(tool_from_function(fail))])
    assert not toolset.requires_approval("add")
    assert toolset.requires_approval("gated_add")
    assert toolset.requires_approval("fail")
    assert toolset.changes_files("gated_add") and not toolset.changes_files("add")
    assert not (plain.metadata or {}).get("requires_approval")


def test_functions_need_a_description() -> None:
    from orchestrator.exceptions import ConfigError

    def bare(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="needs a docstring"):
        tool_from_function(bare)
    assert tool_from_function(bare, description="Echo x.").description == "Echo x."


def test_pydantic_errors_inside_a_tool_are_argument_errors() -> None:
    from pydantic import BaseModel

    class Point(BaseModel):
        x: int

    def make(raw: dict[str, Any]) -> str:
        """Build a point.

        Args:
            raw: the fields.
        """
        return str(Point.model_validate(raw))

    toolset = Toolset([tool_from_function(make)])
    with pytest.raises(ToolArgumentError, match=r"\$\.x: Input should be a valid integer"):
        toolset.call("make", {"raw": {"x": "nope"}})


def test_select_keeps_the_given_order_and_refuses_unknown(toolset: Toolset) -> None:
    assert toolset.select(["shout", "add"]).names == ("shout", "add")
    with pytest.raises(ToolError, match="did you mean 'shout'"):
        toolset.select(["shoot"])


def test_duplicate_names_and_non_tools_are_refused() -> None:
    with pytest.raises(ToolError, match="two tools are named 'add'"):
        Toolset([tool_from_function(add), tool_from_function(add)])
    with pytest.raises(ToolError, match="not a langchain tool"):
        Toolset([add])  # type: ignore[list-item]


def test_builtin_tools_mapping_is_read_only() -> None:
    assert set(BUILTIN_TOOLS) == {
        "read_file",
        "write_file",
        "list_files",
        "apply_edit",
        "run_python",
        "run_tests",
        "evaluate",
        "simplify",
        "check_equal",
        "search",
        "repo_map",
        "git_diff",
        "localise",
    }
    with pytest.raises(TypeError):
        BUILTIN_TOOLS["evil"] = lambda ctx: None  # type: ignore[index]


def test_build_tools_binds_the_context(tmp_path: Path) -> None:
    ctx = ToolContext(tmp_path)
    tools = build_tools(list(BUILTIN_TOOLS), ctx)
    assert all(isinstance(t, BaseTool) for t in tools)
    toolset = Toolset(tools)
    assert toolset.names == tuple(BUILTIN_TOOLS)
    assert toolset.changes_files("write_file") and toolset.changes_files("apply_edit")
    assert not toolset.changes_files("read_file")
    for schema in toolset.schemas():
        assert schema["function"]["description"]
        assert schema["function"]["parameters"]["additionalProperties"] is False
    toolset.call("write_file", {"path": "a.txt", "content": "hello\n"})
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    with pytest.raises(WorkspaceEscapeError):
        toolset.call("read_file", {"path": "../x"})


def test_build_tools_refuses_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="did you mean 'read_file'"):
        build_tools(["read_fil"], ToolContext(tmp_path))


def test_tool_context_needs_a_directory(tmp_path: Path) -> None:
    from orchestrator.exceptions import ConfigError

    with pytest.raises(ConfigError):
        ToolContext(tmp_path / "missing")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert ToolContext(link).workspace == tmp_path.resolve()
