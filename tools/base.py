"""Tools as langchain-core tools, and the :class:`Toolset` an agent calls them through.

A tool is any langchain ``BaseTool``: the built-ins here, ``@tool`` functions, community
tools. Parameters are a JSON Schema derived from the typed signature (pydantic). A
:class:`Toolset` holds the tools one agent may use, in a fixed order, and

- exposes them in the OpenAI format (``{"type": "function", "function": {...}}``), with
  ``additionalProperties: false`` added where the tool did not say, so unknown arguments are
  reported instead of silently dropped;
- checks arguments with the one argument policy (the schema layer's validation against that
  same schema, with lossless scalar coercion) once before every call, raising
  :class:`ToolArgumentError` with ``$.path: message`` lines, and :class:`ToolError` with a
  did-you-mean for unknown tools;
- calls tools asynchronously, sync ones in a worker thread, and returns text.

Built-in tools are created per run by factories bound to a :class:`ToolContext` (workspace
and limits): :data:`BUILTIN_TOOLS` maps names to factories and :func:`build_tools` builds a
selection. Nothing is registered globally.

Example:
    >>> ctx = ToolContext(Path("repo"))
    >>> toolset = Toolset(build_tools(["read_file", "run_tests"], ctx))
    >>> text = await toolset.acall("read_file", {"path": "calc.py"})
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ValidationError as PydanticValidationError

from orchestrator.exceptions import (
    ConfigError,
    SchemaDefinitionError,
    ToolArgumentError,
    ToolError,
    ToolServerError,
)
from orchestrator.schema import Validator, check_arguments, validator_for
from orchestrator.schema.validate import json_path
from orchestrator.text.suggest import did_you_mean
from orchestrator.types import BUILTIN_TOOL_NAMES, SchemaIssue
from tools._context import ToolContext
from tools.files import apply_edit_tool, list_files_tool, read_file_tool, write_file_tool
from tools.git_tools import git_diff_tool
from tools.localise import localise_tool
from tools.math import check_equal_tool, evaluate_tool, simplify_tool
from tools.repo_map import repo_map_tool
from tools.sandbox import run_python_tool
from tools.search import search_tool
from tools.tests import run_tests_tool

__all__ = [
    "BUILTIN_TOOLS",
    "ToolContext",
    "ToolFactory",
    "Toolset",
    "build_tools",
    "require_approval",
    "tool_from_function",
]

ToolFactory = Callable[[ToolContext], BaseTool]

_FACTORIES: dict[str, ToolFactory] = {
    factory.__name__.removesuffix("_tool"): factory
    for factory in (
        read_file_tool,
        write_file_tool,
        list_files_tool,
        apply_edit_tool,
        run_python_tool,
        run_tests_tool,
        evaluate_tool,
        simplify_tool,
        check_equal_tool,
        search_tool,
        repo_map_tool,
        git_diff_tool,
        localise_tool,
    )
}
BUILTIN_TOOLS: Mapping[str, ToolFactory] = MappingProxyType(
    {name: _FACTORIES[name] for name in BUILTIN_TOOL_NAMES}
)
"""Built-in tool factories by name (read-only)."""


def build_tools(names: Sequence[str], ctx: ToolContext) -> list[BaseTool]:
    """Instantiate the named built-in tools, bound to ``ctx``, in the order given.

    Raises:
        ToolError: a name is not a built-in (the message suggests the closest).
    """
    unknown = [n for n in names if n not in BUILTIN_TOOLS]
    if unknown:
        raise ToolError(_unknown_message(unknown[0], BUILTIN_TOOLS), tool=unknown[0])
    return [BUILTIN_TOOLS[name](ctx) for name in names]


def tool_from_function(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    changes_files: bool = False,
) -> BaseTool:
    """Wrap a typed function (sync or ``async``) as a tool; its Google docstring's ``Args``
    become the parameter descriptions.

    Raises:
        ConfigError: the function has neither a docstring nor a ``description``.

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> tool_from_function(add).name
        'add'
    """
    if description is None and not inspect.getdoc(fn):
        label = name or getattr(fn, "__name__", repr(fn))
        raise ConfigError(f"tool function {label!r} needs a docstring or a description")
    metadata = {"requires_approval": requires_approval, "changes_files": changes_files}
    if inspect.iscoroutinefunction(fn):
        return StructuredTool.from_function(
            coroutine=fn,
            name=name,
            description=description,
            parse_docstring=True,
            metadata=metadata,
        )
    return StructuredTool.from_function(
        fn, name=name, description=description, parse_docstring=True, metadata=metadata
    )


def require_approval(tool: BaseTool, required: bool = True) -> BaseTool:
    """A copy of ``tool`` that needs (or no longer needs) human approval before it runs."""
    metadata = {**(tool.metadata or {}), "requires_approval": required}
    return tool.model_copy(update={"metadata": metadata})


class Toolset:
    """The tools one agent may call: schemas out, validated calls in.

    Args:
        tools: any langchain tools; names must be unique.

    Raises:
        ToolError: two tools share a name, or an item is not a ``BaseTool``.
        SchemaDefinitionError: a tool's parameter schema is not valid JSON Schema.
    """

    def __init__(self, tools: Iterable[BaseTool] = ()) -> None:
        self._tools: dict[str, BaseTool] = {}
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Validator] = {}
        for tool in tools:
            if not isinstance(tool, BaseTool):
                raise ToolError(f"not a langchain tool: {tool!r}")
            if tool.name in self._tools:
                raise ToolError(f"two tools are named {tool.name!r}", tool=tool.name)
            schema = _openai_schema(tool)
            self._tools[tool.name] = tool
            self._schemas[tool.name] = schema
            self._validators[tool.name] = _validator(schema["function"]["parameters"], tool.name)

    @property
    def names(self) -> tuple[str, ...]:
        """Tool names, in order."""
        return tuple(self._tools)

    @property
    def tools(self) -> tuple[BaseTool, ...]:
        """The tools, in order."""
        return tuple(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[BaseTool]:
        return iter(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __repr__(self) -> str:
        return f"Toolset({list(self._tools)})"

    def get(self, name: str) -> BaseTool:
        """The tool called ``name``.

        Raises:
            ToolError: no such tool (with a did-you-mean).
        """
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(_unknown_message(name, self._tools), tool=name) from None

    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI-format tool schemas, in order (fresh copies, safe to modify)."""
        return [json.loads(json.dumps(self._schemas[name])) for name in self._tools]

    def select(self, names: Iterable[str]) -> Toolset:
        """A toolset of just ``names``, in that order.

        Raises:
            ToolError: a name is not in this toolset.
        """
        return Toolset([self.get(name) for name in names])

    def requires_approval(self, name: str) -> bool:
        """Whether a human must approve calls to ``name`` (``metadata["requires_approval"]``)."""
        return bool((self.get(name).metadata or {}).get("requires_approval", False))

    def changes_files(self, name: str) -> bool:
        """Whether ``name`` writes the workspace file named by its ``path`` argument."""
        return bool((self.get(name).metadata or {}).get("changes_files", False))

    def check(self, name: str, args: Mapping[str, Any] | str | None) -> tuple[dict[str, Any], bool]:
        """Apply the argument policy (:func:`orchestrator.schema.check_arguments`): validate
        against the tool's schema, converting quoted scalars where that is lossless.

        ``args`` may also be a JSON object as text (what some servers send) or None for ``{}``.

        Returns:
            The arguments to run the tool with (a new dict) and whether any were coerced.

        Raises:
            ToolError: unknown tool.
            ToolArgumentError: the arguments do not match; ``details`` lists
                :class:`~orchestrator.types.SchemaIssue` items and the message has one
                ``$.path: message`` each.
        """
        tool = self.get(name)
        parsed = _as_object(args, tool.name)
        checked = check_arguments(parsed, self._validators[name])
        if checked.errors:
            lines = "; ".join(str(e) for e in checked.errors)
            raise ToolArgumentError(
                f"invalid arguments for {name}: {lines}", tool=name, details=checked.errors
            )
        return dict(checked.arguments), checked.coerced

    def validate(self, name: str, args: Mapping[str, Any] | str | None) -> dict[str, Any]:
        """:meth:`check`'s arguments alone."""
        return self.check(name, args)[0]

    async def acall(
        self,
        name: str,
        args: Mapping[str, Any] | str | None,
        config: RunnableConfig | None = None,
    ) -> str:
        """Check (:meth:`check`), run (a sync tool runs in a worker thread) and return the
        result as text.

        ``config`` (callbacks, tags, run name) is passed on to the tool, as LangChain does.

        Raises:
            ToolError: unknown tool, or the tool failed (the message is for the model).
            ToolArgumentError: invalid arguments.
        """
        return await self.arun(name, self.validate(name, args), config)

    async def arun(
        self, name: str, checked: dict[str, Any], config: RunnableConfig | None = None
    ) -> str:
        """Run ``name`` with arguments :meth:`check` has already accepted (not checked again).

        Raises:
            ToolError: the tool failed (the message is for the model).
        """
        try:
            result = await self._tools[name].ainvoke(checked, config)
        except ToolError as err:
            err.tool = err.tool or name
            raise
        except ToolServerError:
            raise
        except Exception as exc:
            raise _wrap(exc, name) from exc
        return _as_text(result)

    def call(
        self,
        name: str,
        args: Mapping[str, Any] | str | None,
        config: RunnableConfig | None = None,
    ) -> str:
        """The synchronous twin of :meth:`acall`."""
        parsed = self.validate(name, args)
        try:
            result = self._tools[name].invoke(parsed, config)
        except ToolError as err:
            err.tool = err.tool or name
            raise
        except Exception as exc:
            raise _wrap(exc, name) from exc
        return _as_text(result)


def _openai_schema(tool: BaseTool) -> dict[str, Any]:
    schema = convert_to_openai_tool(tool)
    params = schema["function"].setdefault("parameters", {"type": "object", "properties": {}})
    if params.get("type") == "object" and "additionalProperties" not in params:
        params["additionalProperties"] = False
    return schema


def _validator(schema: dict[str, Any], name: str) -> Validator:
    try:
        return validator_for(schema)
    except SchemaDefinitionError as exc:
        raise SchemaDefinitionError(f"tool {name!r} has an invalid schema: {exc}") from exc


def _as_object(args: Mapping[str, Any] | str | None, name: str) -> dict[str, Any]:
    if args is None:
        return {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            msg = f"invalid arguments for {name}: $: not valid JSON ({exc.msg})"
            raise ToolArgumentError(msg, tool=name, details=[SchemaIssue("$", exc.msg)]) from exc
    if not isinstance(args, Mapping):
        msg = f"arguments must be a JSON object, got {type(args).__name__}"
        raise ToolArgumentError(
            f"invalid arguments for {name}: $: {msg}", tool=name, details=[SchemaIssue("$", msg)]
        )
    return dict(args)


def _wrap(exc: Exception, name: str) -> ToolError:
    """A failure inside a tool as a :class:`ToolError` (pydantic's as ToolArgumentError)."""
    if isinstance(exc, PydanticValidationError):
        found = [SchemaIssue(json_path(e["loc"]), e["msg"]) for e in exc.errors()]
        msg = "; ".join(str(e) for e in found)
        return ToolArgumentError(f"invalid arguments for {name}: {msg}", tool=name, details=found)
    return ToolError(f"{name} failed: {type(exc).__name__}: {exc}", tool=name)


def _as_text(result: Any) -> str:
    if isinstance(result, ToolMessage):
        result = result.content
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)


def _unknown_message(name: str, known: Iterable[str]) -> str:
    candidates = sorted(known)
    hint = did_you_mean(str(name), candidates, n=3)
    return f"unknown tool {name!r}{hint} (available: {', '.join(candidates) or 'none'})"
