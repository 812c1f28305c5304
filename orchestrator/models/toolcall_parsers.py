"""Text -> tool calls: recover calls a model wrote as text instead of native tool calls.

Servers sometimes leave a tool call in ``content`` (a known vLLM failure with Llama 4's
pythonic parser), and reasoning models asked to call tools often write the call inside prose.
:func:`find_tool_calls` finds calls in every form these models use:

* a JSON object ``{"name": ..., "arguments" | "parameters": {...}}`` (also OpenAI's
  ``{"type": "function", "function": {...}}``) or a JSON array of them;
* the pythonic form ``[get_weather(city="Paris", days=[1, 2])]``, read into literals only
  (:mod:`orchestrator.text.python_literal`, never ``eval``);
* Llama 4 ``<|python_start|>...<|python_end|>``, Llama 3 ``<|python_tag|>...`` and
  ``<function=name>{...}</function>``, Mistral ``[TOOL_CALLS][...]``;
* Hermes ``<tool_call>...</tool_call>`` (an unterminated last tag is accepted);
* fenced code blocks, and any of the above inside prose.

It returns the calls and the text left once they are removed. It validates nothing against
tool schemas (that is :func:`orchestrator.schema.parse_tool_calls`) and never raises.

A recognisable call whose arguments cannot be read (a bare string, a ``b'...'`` literal in a
pythonic list) comes back with ``error`` set rather than vanishing, and its valid siblings
are kept (vLLM's own parsers do the same): the caller reports it to the model as an invalid
call. A call read with ``json-repair`` or from a region whose closing marker never came is
marked ``complete=False``: under ``finish_reason: "length"`` it was cut off and must not run.

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

from orchestrator.models._parse_limits import MAX_HEURISTIC_CHARS, repair_json
from orchestrator.text.ids import call_id
from orchestrator.text.python_literal import NotLiteral, literal_tree, literal_value
from orchestrator.text.scan import balanced_end

__all__ = ["TextToolCall", "find_tool_calls"]


@dataclass(frozen=True)
class TextToolCall:
    """One tool call found in text.

    Attributes:
        name: the tool's name.
        arguments: the call's arguments (a JSON object; ``{}`` when ``error`` is set).
        id: a deterministic id, ``call_<index>_<hash of name and arguments>``.
        error: why the arguments could not be read (``None`` for a valid call).
        raw_arguments: the arguments as written, when ``error`` is set.
        complete: False when reading it needed ``json-repair`` or its closing marker is
            missing (what a reply cut off by the token limit looks like).
    """

    name: str
    arguments: dict[str, Any]
    id: str
    error: str | None = None
    raw_arguments: str = ""
    complete: bool = True


@dataclass(frozen=True)
class _Found:
    """A call read from text, before ids are assigned."""

    name: str
    arguments: dict[str, Any]
    error: str | None = None
    raw: str = ""
    complete: bool = True

    def cut(self) -> _Found:
        return _Found(self.name, self.arguments, self.error, self.raw, complete=False)


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
_PARSE_ERRORS = (ValueError, SyntaxError, RecursionError, MemoryError, TypeError)

_Call = _Found


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
        spans = _find_spans(text) if len(text) <= MAX_HEURISTIC_CHARS else _long_spans(text)
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
        for f in found:
            cid = call_id(len(calls), f.name, f.arguments if f.error is None else f.raw)
            calls.append(
                TextToolCall(f.name, f.arguments, cid, f.error, f.raw, complete=f.complete)
            )
    pieces.append(text[pos:])
    return calls, _tidy("".join(pieces))


def _long_spans(text: str) -> list[tuple[int, int, list[_Call]]]:
    """Spans in a reply over ``MAX_HEURISTIC_CHARS``: what strict JSON finds in all of it,
    else what the heuristics find in its last ``MAX_HEURISTIC_CHARS`` characters."""
    spans = _strict_spans(text)
    if spans:
        return spans
    offset = len(text) - MAX_HEURISTIC_CHARS
    return [(s + offset, e + offset, f) for s, e, f in _find_spans(text[offset:])]


def _find_spans(text: str) -> list[tuple[int, int, list[_Call]]]:
    """Non-overlapping (start, end, calls) spans, by position; explicit markers win."""
    spans: list[tuple[int, int, list[_Call]]] = []
    for m in _TAG_RE.finditer(text):
        index, inner = next((i, g) for i, g in enumerate(m.groups()) if g is not None)
        found = _parse_region(inner)
        closer = _TAGS[index][1]
        if found and closer is not None and not m.group(0).endswith(closer):
            found = [*found[:-1], found[-1].cut()]  # the last call's region never closed
        if found:
            spans.append((m.start(), m.end(), found))
    for m in _FUNCTION_TAG_RE.finditer(text):
        raw = m.group(2).strip() or "{}"
        args, complete = _parse_arguments(raw, lenient=True)
        complete = complete and m.group(0).endswith("</function>")
        if args is not None:
            spans.append((m.start(), m.end(), [_Found(m.group(1), args, complete=complete)]))
        else:
            bad = _Found(m.group(1), {}, "arguments are not a JSON object", raw, complete)
            spans.append((m.start(), m.end(), [bad]))
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


def _strict_spans(text: str) -> list[tuple[int, int, list[_Call]]]:
    """Calls readable with ``json.loads`` alone: in tagged regions, or the whole text."""
    spans: list[tuple[int, int, list[_Call]]] = []
    for m in _TAG_RE.finditer(text):
        inner = next(g for g in m.groups() if g is not None)
        found = _strict_payload(inner.strip(), need_args=False)
        if found:
            spans.append((m.start(), m.end(), found))
    if spans:
        return _disjoint(spans)
    found = _strict_payload(text.strip(), need_args=True)
    return [(0, len(text), found)] if found else []


def _strict_payload(payload: str, *, need_args: bool) -> list[_Call]:
    if payload[:1] not in ("{", "["):
        return []
    try:
        return _calls_from_value(json.loads(payload), need_args=need_args, complete=True)
    except _PARSE_ERRORS:
        return []


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
    ends: dict[int, int | None] = {}  # every opener one scan settled: scans never repeat
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
        end = balanced_end(text, start, ends)
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
        return _calls_from_value(json.loads(payload), need_args=need_args, complete=True)
    except _PARSE_ERRORS:
        pass
    try:
        tree = literal_tree(payload)
    except _PARSE_ERRORS:
        tree = None
    if tree is not None:
        found = _calls_from_ast(tree, bare=bare, need_args=need_args)
        if found:
            return found
    if lenient and payload[:1] in ("{", "["):
        try:
            repaired = repair_json(payload)
        except Exception:  # json-repair's failure modes are not documented; garbage is no call
            return []
        return _calls_from_value(repaired, need_args=need_args, complete=False)
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
            return _calls_from_value(literal_value(node), need_args=need_args, complete=True)
        except NotLiteral:
            return []
    return [_pythonic_call(item) for item in items]


def _pythonic_call(node: ast.expr) -> _Call:
    """One element of a pythonic call list; one that cannot be read is an invalid call (its
    siblings still run)."""
    raw = ast.unparse(node)[:2000]
    func = node.func if isinstance(node, ast.Call) else None
    if isinstance(func, ast.Attribute) and func.attr == "call":  # Llama 3 ``tool.call(...)``
        func = func.value
    name = func.id if isinstance(func, ast.Name) else ""
    if not isinstance(node, ast.Call) or not name:
        return _Found(name, {}, "not a call of a named tool", raw)
    if node.args:
        return _Found(name, {}, "positional arguments; use name=value", raw)
    arguments: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            return _Found(name, {}, "**kwargs is not allowed in a tool call", raw)
        try:
            arguments[kw.arg] = literal_value(kw.value)
        except NotLiteral:
            return _Found(name, {}, f"argument {kw.arg!r} is not a JSON value", raw)
    return _Found(name, arguments)


def _calls_from_value(value: Any, *, need_args: bool, complete: bool) -> list[_Call]:
    """Calls in a parsed JSON value: one call object or a non-empty array of them."""
    if isinstance(value, dict):
        call = _call_from_object(value, need_args=need_args)
        return [call if complete else call.cut()] if call else []
    if isinstance(value, list) and value:
        calls = [_call_from_object(v, need_args=need_args) for v in value]
        if all(c is not None for c in calls):
            found = [c for c in calls if c is not None]
            return found if complete else [*found[:-1], found[-1].cut()]
    return []


def _call_from_object(obj: Any, *, need_args: bool) -> _Call | None:
    """A call object -> a call (invalid when its arguments are no object); None when the
    object is not shaped like a call."""
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
    arguments, complete = _parse_arguments(raw, lenient=True)
    if arguments is None:
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        return _Found(name, {}, "arguments are not a JSON object", text[:2000])
    return _Found(name, arguments, complete=complete)


def _parse_arguments(raw: Any, *, lenient: bool) -> tuple[dict[str, Any] | None, bool]:
    """Arguments as a dict (a dict, a JSON string of one, once or twice encoded, or absent),
    and whether they were read without ``json-repair``; ``(None, ...)`` when they are no
    object."""
    if raw is None:
        return {}, True
    if isinstance(raw, dict):
        return raw, True
    if not isinstance(raw, str):
        return None, True
    if not raw.strip():
        return {}, True
    complete = True
    try:
        value = json.loads(raw)
    except _PARSE_ERRORS:
        if not lenient:
            return None, True
        try:
            value = repair_json(raw)
        except Exception:  # json-repair's failure modes are not documented
            return None, False
        complete = False
    if isinstance(value, str) and value.strip()[:1] == "{":
        try:  # double-encoded: a JSON string whose content is the object
            value = json.loads(value)
        except _PARSE_ERRORS:
            return None, complete
    return (value, complete) if isinstance(value, dict) else (None, complete)


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
