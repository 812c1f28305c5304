"""Tool calls written as text, validated against the tools' JSON schemas.

Example:
    >>> tools = [{"type": "function", "function": {"name": "add", "parameters": {
    ...     "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]
    >>> [(c["name"], c["args"]) for c in parse_tool_calls('[add(a="2")]', tools)]
    [('add', {'a': 2})]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages.tool import ToolCall, tool_call

from orchestrator.exceptions import SchemaError, SchemaValidationError
from orchestrator.models.toolcall_parsers import find_tool_calls
from orchestrator.schema.lenient import coerce_scalars
from orchestrator.schema.validate import errors_of, validator_for

__all__ = ["parse_tool_calls"]

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


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
                errors=[SchemaError("$.name", f"unknown tool {call.name!r}; use one of: {known}")],
                raw=text,
                tool=call.name,
            )
        if call.error is not None:
            raise SchemaValidationError(
                f"invalid arguments for tool {call.name!r}: {call.error}",
                errors=[SchemaError("$.arguments", call.error)],
                raw=text,
                tool=call.name,
            )
        validator = validator_for(by_name[call.name])
        arguments: Any = call.arguments
        errors = errors_of(validator, arguments)
        if errors and not strict:
            arguments, coerced = coerce_scalars(arguments, validator)
            errors = errors_of(validator, arguments) if coerced else errors
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
