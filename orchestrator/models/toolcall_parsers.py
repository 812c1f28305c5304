"""Text -> tool calls: recover calls a model wrote as text instead of native tool calls.

Servers sometimes leave a tool call in ``content`` (a known vLLM failure with Llama 4's
pythonic parser), and reasoning models asked to call tools often write the call inside prose.
:func:`find_tool_calls` finds calls in every form these models use:

* a JSON object ``{"name": ..., "arguments" | "parameters": {...}}`` (also OpenAI's
  ``{"type": "function", "function": {...}}``) or a JSON array of them;
* the pythonic form ``[get_weather(city="Paris", days=[1, 2])]``, parsed with :mod:`ast`
  into literals only (never ``eval``);
* Llama 4 ``<|python_start|>...<|python_end|>``, Llama 3 ``<|python_tag|>...`` and
  ``<function=name>{...}</function>``, Mistral ``[TOOL_CALLS][...]``;
* Hermes ``<tool_call>...</tool_call>`` (an unterminated last tag is accepted);
* fenced code blocks, and any of the above inside prose.

It returns the calls and the text left once they are removed. It validates nothing against
tool schemas (that is :func:`orchestrator.schema.parse_tool_calls`) and never raises.

Example:
    >>> calls, rest = find_tool_calls('Let me check. [get_weather(city="Paris")]')
    >>> calls[0].name, calls[0].arguments, rest
    ('get_weather', {'city': 'Paris'}, 'Let me check.')
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

import json_repair

from orchestrator.text.ids import call_id
from orchestrator.text.scan import balanced_end

__all__ = ["TextToolCall", "find_tool_calls", "parse_python_literal"]


@dataclass(frozen=True)
class TextToolCall:
    """One tool call found in text.

    Attributes:
        name: the tool's name.
        arguments: the call's arguments (a JSON object).
        id: a deterministic id, ``call_<index>_<hash of name and arguments>``.
    """

    name: str
    arguments: dict[str, Any]
    id: str


# (opening marker, closing marker or None: the region runs to the end of the text)
_TAGS: tuple[tuple[str, str | None], ...] = (
    ("<|python_start|>", "<|python_end|>"),
    ("<tool_call>", "</tool_call>"),
    ("<|python_tag|>", "<|eom_id|>"),
    ("[TOOL_CALLS]", None),
)
_TAG_RE = re.compile(
    "|".join(
        re.escape(o) + rf"(?P<g{i}>.*?)" + (rf"(?:{re.escape(c)}|\Z)" if c else r"\Z")
        for i, (o, c) in enumerate(_TAGS)
    ),
    re.DOTALL,
)
_FUNCTION_TAG_RE = re.compile(r"<function=([\w.\-]+)>(.*?)(?:</function>|\Z)", re.DOTALL)
_FENCE_RE = re.compile(r"```[ \t]*[\w+\-]*[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
# Where a call may start inside prose: an object whose first key is a call key, an array of
# such objects, or a pythonic list ``[name(``.
_START_RE = re.compile(
    r"""\{\s*["'](?:name|function|type|arguments|parameters|id)["']\s*:"""
    r"""|\[\s*(?=\{\s*["'](?:name|function|type|arguments|parameters|id)["'])"""
    r"""|\[\s*[A-Za-z_][\w.]*\s*\("""
)
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "id", "type", "call_id"})
_LITERAL_NAMES: dict[str, Any] = {
    "True": True,
    "False": False,
    "None": None,
    "true": True,
    "false": False,
    "null": None,
}
# Escapes Python knows; any other backslash is doubled before parsing, which is what Python
# does with it anyway, minus the warning (an error under ``-W error``).
_UNKNOWN_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_PY_ESCAPES = frozenset("\\'\"abfnrtvxNuU01234567\n")
_PARSE_ERRORS = (ValueError, SyntaxError, RecursionError, MemoryError, TypeError)

_Call = tuple[str, dict[str, Any]]


class _NotLiteral(Exception):
    """An AST node that is not a plain literal."""


def find_tool_calls(text: str) -> tuple[list[TextToolCall], str]:
    """Find tool calls written as text.

    Args:
        text: model output (content) that may hold tool calls.

    Returns:
        The calls in order of appearance and the text left once they are removed (stripped).
        ``([], text)`` when there is none; never raises on garbage.

    Example:
        >>> calls, _ = find_tool_calls('<tool_call>{"name": "f", "arguments": {}}</tool_call>')
        >>> calls[0].name
        'f'
    """
    try:
        spans = _find_spans(text)
    except _PARSE_ERRORS:
        return [], text
    if not spans:
        return [], text
    calls: list[TextToolCall] = []
    pieces: list[str] = []
    pos = 0
    for start, end, found in spans:
        pieces.append(text[pos:start])
        pos = end
        if start > 0 and text[start - 1] in " \t":  # do not leave a double space behind
            rest = text[end:]
            pos = end + len(rest) - len(rest.lstrip(" \t"))
        for name, arguments in found:
            calls.append(TextToolCall(name, arguments, call_id(len(calls), name, arguments)))
    pieces.append(text[pos:])
    return calls, _tidy("".join(pieces))


def parse_python_literal(text: str) -> Any:
    """A JSON value written as a Python literal (``{'a': True, 'b': None, 'c': [1,],}``).

    JSON's ``true``/``false``/``null`` are accepted too, so mixed spellings parse. Only
    literals are read (the text is parsed with :mod:`ast`, never evaluated); tuples become
    lists; escapes Python does not know keep their backslash, as Python itself would.

    Raises:
        ValueError: the text is not such a literal (sets, calls, names, bytes, ...).

    Example:
        >>> parse_python_literal("{'a': True, 'b': [1, None,],}")
        {'a': True, 'b': [1, None]}
    """
    try:
        tree = ast.parse(_UNKNOWN_ESCAPE.sub(_keep_backslash, text.strip()), mode="eval")
        return _literal(tree.body)
    except (_NotLiteral, SyntaxError, RecursionError, MemoryError) as err:
        raise ValueError("not a Python literal") from err


def _keep_backslash(m: re.Match[str]) -> str:
    return m.group(0) if m.group(1) in _PY_ESCAPES else "\\" + m.group(0)


def _find_spans(text: str) -> list[tuple[int, int, list[_Call]]]:
    """Non-overlapping (start, end, calls) spans, by position; explicit markers win."""
    spans: list[tuple[int, int, list[_Call]]] = []
    for m in _TAG_RE.finditer(text):
        inner = next(g for g in m.groups() if g is not None)
        found = _parse_region(inner)
        if found:
            spans.append((m.start(), m.end(), found))
    for m in _FUNCTION_TAG_RE.finditer(text):
        args = _parse_arguments(m.group(2).strip() or "{}", lenient=True)
        if args is not None:
            spans.append((m.start(), m.end(), [(m.group(1), args)]))
    if spans:
        return _disjoint(spans)
    stripped = text.strip()
    # The whole text as one (possibly broken) call or array of calls; if a balanced value
    # ends before the text does, what follows is prose and the scan below handles it.
    end = balanced_end(stripped, 0) if stripped[:1] in ("{", "[") else -1
    if end is None or end == len(stripped):
        found = _parse_payload(stripped, lenient=True, bare=False, need_args=True)
        if found:
            return [(0, len(text), found)]
    for m in _FENCE_RE.finditer(text):
        found = _parse_payload(m.group(1).strip(), lenient=True, bare=False, need_args=True)
        if found:
            spans.append((m.start(), m.end(), found))
    taken = list(spans)
    spans.extend(_scan_prose(text, taken, lenient=False, need_args=True))
    return _disjoint(spans)


def _parse_region(inner: str) -> list[_Call]:
    """Calls inside an explicit tool-call marker: be lenient, the intent is clear."""
    payload = inner.strip()
    found = _parse_payload(payload, lenient=True, bare=True, need_args=False)
    if found:
        return found
    return [c for _, _, cs in _scan_prose(payload, [], lenient=True, need_args=False) for c in cs]


def _scan_prose(
    text: str, taken: list[tuple[int, int, list[_Call]]], *, lenient: bool, need_args: bool
) -> list[tuple[int, int, list[_Call]]]:
    """Balanced call-shaped segments anywhere in ``text`` outside the ``taken`` spans."""
    out: list[tuple[int, int, list[_Call]]] = []
    pos = 0
    while True:
        m = _START_RE.search(text, pos)
        if m is None:
            return out
        start = m.start()
        inside = next((e for s, e, _ in taken if s <= start < e), None)
        if inside is not None:
            pos = inside
            continue
        end = balanced_end(text, start)
        found = None
        if end is not None:
            found = _parse_payload(
                text[start:end], lenient=lenient, bare=False, need_args=need_args
            )
        if found and end is not None:
            out.append((start, end, found))
            pos = end
        else:
            pos = start + 1


def _parse_payload(payload: str, *, lenient: bool, bare: bool, need_args: bool) -> list[_Call]:
    """Calls in one JSON / Python-literal / pythonic payload, or [] when it holds none."""
    if not payload:
        return []
    try:
        return _calls_from_value(json.loads(payload), need_args=need_args)
    except _PARSE_ERRORS:
        pass
    try:
        tree = ast.parse(_UNKNOWN_ESCAPE.sub(_keep_backslash, payload), mode="eval").body
    except _PARSE_ERRORS:
        tree = None
    if tree is not None:
        found = _calls_from_ast(tree, bare=bare, need_args=need_args)
        if found:
            return found
    if lenient and payload[:1] in ("{", "["):
        try:
            return _calls_from_value(json_repair.loads(payload), need_args=need_args)
        except Exception:  # json-repair's failure modes are not documented; garbage is no call
            return []
    return []


def _calls_from_ast(node: ast.expr, *, bare: bool, need_args: bool) -> list[_Call]:
    """Pythonic calls (``[f(a=1), g()]``, or a bare ``f(a=1)`` when allowed) or literals."""
    items: list[ast.expr]
    if isinstance(node, ast.List | ast.Tuple) and node.elts and isinstance(node.elts[0], ast.Call):
        items = list(node.elts)
    elif isinstance(node, ast.Call) and bare:
        items = [node]
    else:
        try:
            return _calls_from_value(_literal(node), need_args=need_args)
        except _NotLiteral:
            return []
    out: list[_Call] = []
    for item in items:
        call = _pythonic_call(item)
        if call is None:
            return []
        out.append(call)
    return out


def _pythonic_call(node: ast.expr) -> _Call | None:
    if not isinstance(node, ast.Call) or node.args:
        return None
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "call":  # Llama 3 ``tool.call(...)``
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    arguments: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            return None
        try:
            arguments[kw.arg] = _literal(kw.value)
        except _NotLiteral:
            return None
    return func.id, arguments


def _literal(node: ast.expr) -> Any:
    """A JSON value from a literal AST node (Python or JSON spelling); never evaluates code."""
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, str | bool | int | float):
            return node.value
        raise _NotLiteral
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise _NotLiteral
            out[k.value] = _literal(v)
        return out
    if isinstance(node, ast.Name) and node.id in _LITERAL_NAMES:
        return _LITERAL_NAMES[node.id]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        value: int | float = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    raise _NotLiteral


def _calls_from_value(value: Any, *, need_args: bool) -> list[_Call]:
    """Calls in a parsed JSON value: one call object or a non-empty array of them."""
    if isinstance(value, dict):
        call = _call_from_object(value, need_args=need_args)
        return [call] if call else []
    if isinstance(value, list) and value:
        calls = [_call_from_object(v, need_args=need_args) for v in value]
        if all(c is not None for c in calls):
            return [c for c in calls if c is not None]
    return []


def _call_from_object(obj: Any, *, need_args: bool) -> _Call | None:
    if not isinstance(obj, dict):
        return None
    function = obj.get("function")
    if isinstance(function, dict) and set(obj) <= _CALL_KEYS | {"function"}:
        return _call_from_object(function, need_args=False)
    name = obj.get("name")
    if not isinstance(name, str) or not name or not set(obj) <= _CALL_KEYS:
        return None
    has_args = "arguments" in obj or "parameters" in obj
    if need_args and not has_args:
        return None
    raw = obj.get("arguments", obj.get("parameters"))
    arguments = _parse_arguments(raw, lenient=True)
    return None if arguments is None else (name, arguments)


def _parse_arguments(raw: Any, *, lenient: bool) -> dict[str, Any] | None:
    """Arguments as a dict: a dict, a JSON string of one, or absent (no arguments)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        return None
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except _PARSE_ERRORS:
        if not lenient:
            return None
        try:
            value = json_repair.loads(raw)
        except Exception:  # json-repair's failure modes are not documented
            return None
    return value if isinstance(value, dict) else None


def _disjoint(
    spans: list[tuple[int, int, list[_Call]]],
) -> list[tuple[int, int, list[_Call]]]:
    out: list[tuple[int, int, list[_Call]]] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not out or span[0] >= out[-1][1]:
            out.append(span)
    return out


def _tidy(text: str) -> str:
    """Strip the text left around removed calls and collapse the blank lines they leave."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()
