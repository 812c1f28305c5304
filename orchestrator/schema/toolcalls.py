"""Tool calls written as text, validated against the tools' JSON schemas.

Example:
    >>> tools = [{"type": "function", "function": {"name": "add", "parameters": {
    ...     "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]
    >>> [(c["name"], c["args"]) for c in parse_tool_calls('[add(a="2")]', tools)]
    [('add', {'a': 2})]
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages.tool import ToolCall, tool_call

from orchestrator.exceptions import SchemaValidationError
from orchestrator.models.toolcall_parsers import find_tool_calls
from orchestrator.schema.lenient import coerce_scalars
from orchestrator.schema.validate import Validator, errors_of, validator_for
from orchestrator.types import SchemaIssue

__all__ = ["ArgumentCheck", "check_arguments", "parse_tool_calls"]

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(frozen=True)
class ArgumentCheck:
    """The verdict of the argument policy on one call's arguments.

    Attributes:
        arguments: the arguments to run the tool with (coerced where that was lossless).
        coerced: whether quoted scalars were converted.
        errors: what is still wrong (empty: valid).
    """

    arguments: Any
    coerced: bool
    errors: list[SchemaIssue]


def check_arguments(arguments: Any, validator: Validator, *, strict: bool = False) -> ArgumentCheck:
    """The one argument policy for tool calls, native or action mode: validate against the
    tool's schema and, unless ``strict``, convert quoted scalars where that is lossless
    (``"2"`` for an integer becomes ``2``; ``"1.5"`` stays invalid). ``arguments`` is not
    modified.

    Example:
        >>> v = validator_for({"type": "object", "properties": {"a": {"type": "integer"}}})
        >>> check_arguments({"a": "2"}, v).arguments
        {'a': 2}
    """
    errors = errors_of(validator, arguments)
    if not errors or strict:
        return ArgumentCheck(arguments, False, errors)
    fixed, coerced = coerce_scalars(copy.deepcopy(arguments), validator)
    if not coerced:
        return ArgumentCheck(arguments, False, errors)
    remaining = errors_of(validator, fixed)
    return ArgumentCheck(fixed if not remaining else arguments, not remaining, remaining)


def parse_tool_calls(
    text: str, tools: Sequence[Mapping[str, Any]], *, strict: bool = False
) -> list[ToolCall]:
    """Find the tool calls in ``text`` and validate their arguments.

    Args:
        text: model output that may hold calls in any form
            :func:`~orchestrator.models.toolcall_parsers.find_tool_calls` recovers.
        tools: the tools, in OpenAI format (``{"type": "function", "function": {"name",
            "parameters"}}``) or flat (``{"name", "parameters"}``).
        strict: when True, quoted scalars in arguments are not converted.

    Returns:
        LangChain ``ToolCall`` dicts, in order; ``[]`` when the text holds no call.

    Raises:
        SchemaValidationError: a call names an unknown tool or its arguments are invalid;
            ``tool`` is set and the message names the tool.
        SchemaDefinitionError: a tool's ``parameters`` is not a valid JSON Schema.
    """
    by_name = _index(tools)
    calls, _ = find_tool_calls(text)
    out: list[ToolCall] = []
    for call in calls:
        if call.name not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise SchemaValidationError(
                f"unknown tool {call.name!r} (available: {known})",
                errors=[SchemaIssue("$.name", f"unknown tool {call.name!r}; use one of: {known}")],
                raw=text,
                tool=call.name,
            )
        if call.error is not None:
            raise SchemaValidationError(
                f"invalid arguments for tool {call.name!r}: {call.error}",
                errors=[SchemaIssue("$.arguments", call.error)],
                raw=text,
                tool=call.name,
            )
        checked = check_arguments(call.arguments, validator_for(by_name[call.name]), strict=strict)
        arguments, errors = checked.arguments, checked.errors
        if errors:
            raise SchemaValidationError(
                f"invalid arguments for tool {call.name!r}: {errors[0]}",
                errors=errors,
                raw=text,
                tried=["strict"] if strict else ["strict", "coerce"],
                tool=call.name,
            )
        out.append(tool_call(name=call.name, args=arguments, id=call.id))
    return out


def _index(tools: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Tool name -> parameters schema, from OpenAI-format or flat tool dicts."""
    out: dict[str, Mapping[str, Any]] = {}
    for tool in tools:
        spec = tool.get("function", tool)
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            continue
        parameters = spec.get("parameters")
        out[spec["name"]] = parameters if isinstance(parameters, Mapping) else _ANY_OBJECT
    return out
