"""The embedded model's wire format: LangChain messages and options in, llama.cpp terms out.

Pure functions, no model and no I/O, shared by the sync, async and streaming paths of
:class:`~orchestrator.models.local.LocalChatModel`:

* :func:`to_llama_messages`: messages -> the ``{"role", "content"}`` dicts a GGUF chat
  template renders (tool calls and tool results become text: small models' templates ignore
  the structured fields);
* :func:`schema_from_response_format`: OpenAI's ``json_schema`` form or llama-cpp-python's
  ``json_object`` form -> the JSON Schema to constrain decoding with;
* :func:`tool_plan` / :meth:`ToolPlan.schema` / :func:`parse_reply`: how bound tools and
  ``tool_choice`` turn into a grammar and back into ``AIMessage.tool_calls``;
* :func:`gbnf_for_schema` / :func:`unenforced_keywords`: JSON Schema -> llama.cpp grammar,
  failing loudly where llama-cpp-python would silently fall back to "any JSON".
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
)

from orchestrator.exceptions import ConfigError, SchemaDefinitionError

__all__ = [
    "ToolMode",
    "ToolPlan",
    "gbnf_for_schema",
    "grammar_schema",
    "parse_reply",
    "schema_from_response_format",
    "to_llama_messages",
    "tool_plan",
    "unenforced_keywords",
]

# Keywords llama-cpp-python's schema-to-grammar converter accepts but does not enforce: the
# schema layer's validation (and re-ask) must catch what gets through.
_UNENFORCED = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_ENFORCED_FORMATS = frozenset(
    {"date", "time", "date-time", "uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"}
)
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_LITERAL_KEYS = frozenset({"const", "enum", "default", "examples"})
_BOUND_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_MAX_ENUMERATED = 64
_LOOSE_CHAR = r'[^"\\]'
_STRICT_CHAR = r'[^"\\\x7F\x00-\x1F]'


class ToolMode(StrEnum):
    """How bound tools reach the model."""

    NONE = "none"  # no tools, or tool_choice="none"
    AUTO = "auto"  # tools described in the prompt; calls recovered from text
    FORCED = "forced"  # a grammar makes the reply a call (tool_choice=name | "required")


@dataclass(frozen=True)
class ToolPlan:
    """The bound tools that apply to one call and how.

    Attributes:
        mode: see :class:`ToolMode`.
        tools: OpenAI function objects (``name``, ``description``, ``parameters``).
    """

    mode: ToolMode
    tools: tuple[dict[str, Any], ...] = ()

    @property
    def names(self) -> list[str]:
        """The tools' names, in binding order."""
        return [str(t["name"]) for t in self.tools]

    def schema(self) -> dict[str, Any] | None:
        """The JSON Schema a forced call's reply must match (``None`` unless FORCED).

        One tool: its parameters (the reply is the arguments object). Several: one object
        ``{"name": <const>, "arguments": <parameters>}`` per tool, under ``anyOf``.
        """
        if self.mode is not ToolMode.FORCED:
            return None
        if len(self.tools) == 1:
            return _parameters(self.tools[0])
        return {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"name": {"const": t["name"]}, "arguments": _parameters(t)},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
                for t in self.tools
            ]
        }

    def note(self) -> str | None:
        """A system-prompt note describing the tools (``None`` when there are none)."""
        if self.mode is ToolMode.NONE:
            return None
        if self.mode is ToolMode.FORCED and len(self.tools) == 1:
            tool = self.tools[0]
            desc = f": {tool['description']}" if tool.get("description") else ""
            return (
                f"Call the tool `{tool['name']}`{desc}. "
                "Answer with only its arguments, as one JSON object."
            )
        listing = "\n".join(
            f"- {t['name']}: {t.get('description') or ''} "
            f"arguments: {json.dumps(_parameters(t), sort_keys=True)}"
            for t in self.tools
        )
        if self.mode is ToolMode.FORCED:
            head = "Call exactly one of these tools."
        else:
            head = "You may call one of these tools; otherwise answer normally."
        return (
            f'{head} To call a tool, answer with only {{"name": <tool>, "arguments": {{...}}}}.'
            f"\nTools:\n{listing}"
        )


def tool_plan(tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any) -> ToolPlan:
    """Decide how bound ``tools`` apply under ``tool_choice`` (LangChain/OpenAI forms).

    Args:
        tools: OpenAI tool dicts (``{"type": "function", "function": {...}}``) or bare
            function objects.
        tool_choice: ``None`` / ``"auto"``; ``"none"``; ``"required"`` / ``"any"`` / ``True``
            (any one tool, forced); a tool name; ``{"type": "function", "function":
            {"name": ...}}`` or ``{"name": ...}``.

    Raises:
        ConfigError: ``tool_choice`` names a tool that is not bound, or is not understood.
    """
    functions = tuple(_function(t) for t in tools or ())
    if not functions or tool_choice in ("none", False):
        return ToolPlan(ToolMode.NONE)
    if tool_choice in (None, "auto"):
        return ToolPlan(ToolMode.AUTO, functions)
    if tool_choice in ("required", "any", True):
        return ToolPlan(ToolMode.FORCED, functions)
    name = _choice_name(tool_choice)
    chosen = tuple(f for f in functions if f["name"] == name)
    if not chosen:
        bound = ", ".join(str(f["name"]) for f in functions)
        raise ConfigError(f"tool_choice names {name!r}, which is not bound (bound: {bound})")
    return ToolPlan(ToolMode.FORCED, chosen)


def _choice_name(tool_choice: Any) -> str:
    if isinstance(tool_choice, str):
        return tool_choice
    if isinstance(tool_choice, Mapping):
        inner = tool_choice.get("function", tool_choice)
        name = inner.get("name") if isinstance(inner, Mapping) else None
        if isinstance(name, str):
            return name
    raise ConfigError(f"tool_choice not understood: {tool_choice!r}")


def _function(tool: Mapping[str, Any]) -> dict[str, Any]:
    inner = tool.get("function", tool)
    if not isinstance(inner, Mapping) or not isinstance(inner.get("name"), str):
        raise ConfigError(f"a bound tool has no name: {tool!r}")
    return dict(inner)


def _parameters(function: Mapping[str, Any]) -> dict[str, Any]:
    params = function.get("parameters")
    return dict(params) if isinstance(params, Mapping) and params else dict(_ANY_OBJECT)


def schema_from_response_format(response_format: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema to constrain decoding with, from an OpenAI or llama.cpp form.

    * ``{"type": "json_schema", "json_schema": {"schema": S, ...}}`` (OpenAI; what
      :func:`orchestrator.schema.response_format_for` builds) -> ``S``. llama-cpp-python
      itself silently ignores this form.
    * ``{"type": "json_object", "schema": S}`` (llama-cpp-python) -> ``S``.
    * ``{"type": "json_object"}`` -> any JSON object; ``{"type": "text"}`` / ``None`` -> None.

    Raises:
        ConfigError: an unknown ``type`` or a missing schema.
    """
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        schema = response_format.get("schema", _ANY_OBJECT)
    elif kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
    else:
        raise ConfigError(
            f"response_format type {kind!r} is not supported; use json_schema or json_object"
        )
    if not isinstance(schema, Mapping):
        raise ConfigError("response_format has no JSON Schema object under json_schema.schema")
    return dict(schema)


def gbnf_for_schema(schema: Mapping[str, Any]) -> str:
    """The llama.cpp grammar (GBNF) that constrains output to ``schema``.

    llama-cpp-python, given a schema it cannot convert (an external ``$ref``, a boolean
    sub-schema, a regex with look-around, an unknown type), silently constrains to "any JSON"
    instead. This function raises, so the caller decides. Results are cached per schema.

    Raises:
        SchemaDefinitionError: the converter cannot express ``schema`` as a grammar.
    """
    # Key order is kept: the grammar writes properties in schema order (title before steps).
    return _gbnf_cached(json.dumps(grammar_schema(schema)))


@lru_cache(maxsize=256)
def _gbnf_cached(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = str(json_schema_to_gbnf(schema_json))
    except Exception as err:  # the converter raises ValueError, AssertionError, KeyError...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SchemaDefinitionError(
            f"llama.cpp cannot turn this JSON Schema into a grammar: {reason}"
        ) from err
    # The converter's string characters admit raw control characters (a newline inside a
    # string), which is not JSON; llama.cpp's own JSON grammar excludes them, and so do we.
    return "\n".join(
        line.replace(_LOOSE_CHAR, _STRICT_CHAR, 1) if line.startswith("char ::= ") else line
        for line in gbnf.splitlines()
    )


def grammar_schema(schema: Any) -> Any:
    """``schema`` rewritten so the grammar enforces more of it; validation keeps the original.

    The converter ignores numeric bounds, so a small bounded integer range (at most
    64 values, e.g. ``{"type": "integer", "minimum": 1, "maximum": 9}``) becomes the ``enum``
    of its values, which the grammar does enforce: a 135M model asked for a step number of
    at most 9 otherwise writes 10 again on every re-ask.
    """
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    values = _integer_values(schema)
    if values is not None:
        return {"enum": values}
    return {
        key: value if key in _LITERAL_KEYS else grammar_schema(value)
        for key, value in schema.items()
    }


def _integer_values(node: dict[str, Any]) -> list[int] | None:
    if node.get("type") not in ("integer", ["integer"]) or "enum" in node or "const" in node:
        return None
    bounds = [node.get(k) for k in _BOUND_KEYS]
    if any(isinstance(b, bool) or not isinstance(b, int | float | None) for b in bounds):
        return None
    minimum, maximum, above, below = bounds
    lows = [math.ceil(minimum)] if minimum is not None else []
    lows += [math.floor(above) + 1] if above is not None else []
    highs = [math.floor(maximum)] if maximum is not None else []
    highs += [math.ceil(below) - 1] if below is not None else []
    if not lows or not highs or not 0 <= min(highs) - max(lows) < _MAX_ENUMERATED:
        return None
    low, high = max(lows), min(highs)
    step = node.get("multipleOf")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step <= 0):
        return None
    return [i for i in range(low, high + 1) if step is None or i % step == 0]


def unenforced_keywords(schema: Any) -> list[str]:
    """Keywords in ``schema`` that the grammar accepts but does not enforce, sorted.

    Numeric bounds (except small integer ranges, see :func:`grammar_schema`),
    ``uniqueItems``, ``not`` and formats other than date/time/uuid pass the grammar
    unchecked; client-side validation catches them. Formats are reported as ``format:<name>``.
    """
    found: set[str] = set()
    stack: list[Any] = [grammar_schema(schema)]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _UNENFORCED:
                found.add(key)
            elif key == "format" and isinstance(value, str) and value not in _ENFORCED_FORMATS:
                found.add(f"format:{value}")
            if key in ("properties", "$defs", "definitions"):
                if isinstance(value, dict):
                    stack.extend(value.values())
            elif key not in _LITERAL_KEYS:
                stack.append(value)
    return sorted(found)


def to_llama_messages(
    messages: Sequence[BaseMessage], *, note: str | None = None
) -> list[dict[str, str]]:
    """LangChain messages -> ``{"role", "content"}`` dicts for a GGUF chat template.

    ``note`` (tool instructions) joins the first system message, or becomes one. An AI
    message's tool calls are appended to its text as ``{"name", "arguments"}`` JSON, the form
    the model is asked to use; a tool result becomes a ``tool`` message.
    """
    out: list[dict[str, str]] = []
    for message in messages:
        role, text = _role(message), _text(message.content)
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
            rendered = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
            text = f"{text}\n{rendered}" if text else rendered
        out.append({"role": role, "content": text})
    if note:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{note}"}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        return message.role
    return message.type


def _text(content: str | list[str | dict[Any, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "".join(parts)


def parse_reply(text: str, plan: ToolPlan) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """Split a reply into content, tool calls and unparseable calls according to ``plan``.

    FORCED replies are JSON by grammar (unless cut off by ``max_tokens``): the whole text is
    the call. AUTO replies are searched for calls written as text; only bound names count.
    """
    if plan.mode is ToolMode.NONE:
        return text, [], []
    if plan.mode is ToolMode.AUTO:
        return _recover_calls(text, plan)
    try:
        value = json.loads(text)
    except ValueError as err:
        name = plan.tools[0]["name"] if len(plan.tools) == 1 else None
        bad = InvalidToolCall(
            type="invalid_tool_call",
            name=name,
            args=text,
            id=_call_id(0, name or "", text),
            error=f"reply is not complete JSON: {err}",
        )
        return "", [], [bad]
    if len(plan.tools) == 1:
        name, args = str(plan.tools[0]["name"]), value
    else:
        name, args = str(value.get("name")), value.get("arguments")
    if not isinstance(args, dict):
        bad = InvalidToolCall(
            type="invalid_tool_call",
            name=name,
            args=text,
            id=_call_id(0, name, text),
            error="tool arguments are not a JSON object",
        )
        return "", [], [bad]
    call = ToolCall(type="tool_call", name=name, args=args, id=_call_id(0, name, args))
    return "", [call], []


def _recover_calls(text: str, plan: ToolPlan) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    from orchestrator.models.toolcall_parsers import find_tool_calls

    found, rest = find_tool_calls(text)
    known = set(plan.names)
    calls = [
        ToolCall(type="tool_call", name=c.name, args=c.arguments, id=c.id)
        for c in found
        if c.name in known
    ]
    if not calls:
        return text, [], []
    return rest, calls, []


def _call_id(index: int, name: str, args: Any) -> str:
    digest = hashlib.sha1(
        f"{name}:{json.dumps(args, sort_keys=True, default=str)}".encode(), usedforsecurity=False
    ).hexdigest()
    return f"call_{index}_{digest[:10]}"
