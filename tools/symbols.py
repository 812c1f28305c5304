"""Definitions and references of one source file: Python by ``ast``, others by tree-sitter.

A :class:`Definition` is a class, function or method (or a Go/Rust type) with its signature
line and line span; the references are the identifiers the file uses. Python is parsed with
the standard library; JavaScript/TypeScript-flavoured ``.js``, Go and Rust with the
tree-sitter grammar packages (``tree-sitter-javascript``, ``tree-sitter-go``,
``tree-sitter-rust``) when installed. Other files have no symbols.

Example:
    >>> defs, refs = file_symbols("calc.py", "def add(a, b):\\n    return a - b\\n")
    >>> defs[0].signature, defs[0].start_line, defs[0].end_line
    ('def add(a, b)', 1, 2)
"""

from __future__ import annotations

import ast
import importlib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["LANGUAGES", "Definition", "enclosing", "file_symbols", "language_of"]

_SIGNATURE_CHARS = 160
LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript"}
LANGUAGES |= {".jsx": "javascript", ".go": "go", ".rs": "rust"}
_GRAMMARS = {"javascript": "tree_sitter_javascript", "go": "tree_sitter_go"}
_GRAMMARS |= {"rust": "tree_sitter_rust"}
_TS_DEFS = {
    "javascript": {
        "function_declaration": "function",
        "generator_function_declaration": "function",
        "class_declaration": "class",
        "method_definition": "method",
    },
    "go": {"function_declaration": "function", "method_declaration": "method", "type_spec": "type"},
    "rust": {
        "function_item": "function",
        "struct_item": "type",
        "enum_item": "type",
        "trait_item": "type",
        "impl_item": "impl",
    },
}
_TS_IDENT = {"identifier", "property_identifier", "field_identifier", "type_identifier"}
_TS_BODY = {"statement_block", "block", "class_body", "declaration_list", "field_declaration_list"}


@dataclass(frozen=True)
class Definition:
    """A class, function, method or type defined in a file.

    Attributes:
        path: workspace-relative file path.
        name: the bare name (``mul``).
        qualname: dotted within the file (``Calc.mul``).
        kind: ``class``, ``function``, ``method``, ``type`` or ``impl``.
        signature: the header line(s) up to the body, e.g. ``def mul(self, x: int) -> int``.
        start_line: first line (decorators included), 1-based.
        end_line: last line, inclusive.
    """

    path: str
    name: str
    qualname: str
    kind: str
    signature: str
    start_line: int
    end_line: int

    @property
    def span(self) -> int:
        """Lines the definition covers."""
        return self.end_line - self.start_line + 1


def language_of(path: str) -> str | None:
    """The language :func:`file_symbols` parses ``path`` as, if any."""
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:].lower()) if dot != -1 else None


def file_symbols(path: str, source: str) -> tuple[list[Definition], Counter[str]]:
    """The definitions in ``source`` (in line order) and how often each identifier is used.

    A file that does not parse, or whose language has no grammar installed, has none.
    """
    language = language_of(path)
    if language == "python":
        return _python(path, source)
    if language is not None:
        parser = _parser(language)
        if parser is not None:
            return _tree_sitter(path, source, language, parser)
    return [], Counter()


def enclosing(defs: list[Definition], line: int) -> Definition | None:
    """The innermost definition whose span holds ``line``."""
    best: Definition | None = None
    for d in defs:
        if d.start_line <= line <= d.end_line and (best is None or d.span <= best.span):
            best = d
    return best


def _python(path: str, source: str) -> tuple[list[Definition], Counter[str]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return [], Counter()
    lines = source.splitlines()
    defs: list[Definition] = []
    refs: Counter[str] = Counter()

    def visit(node: ast.AST, prefix: str, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qual = f"{prefix}{child.name}"
                is_class = isinstance(child, ast.ClassDef)
                kind = "class" if is_class else ("method" if in_class else "function")
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                defs.append(
                    Definition(
                        path=path,
                        name=child.name,
                        qualname=qual,
                        kind=kind,
                        signature=_py_signature(lines, child),
                        start_line=start,
                        end_line=child.end_lineno or child.lineno,
                    )
                )
                visit(child, qual + ".", is_class)
            else:
                if isinstance(child, ast.Name):
                    refs[child.id] += 1
                elif isinstance(child, ast.Attribute):
                    refs[child.attr] += 1
                visit(child, prefix, False if isinstance(child, ast.Lambda) else in_class)

    visit(tree, "", False)
    for n in ast.walk(tree):  # names used in decorators and defaults count too
        if isinstance(n, ast.ImportFrom):
            for alias in n.names:
                refs[alias.name] += 1
    defs.sort(key=lambda d: (d.start_line, -d.span))
    return defs, refs


def _py_signature(
    lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
) -> str:
    body_line = node.body[0].lineno if node.body else node.lineno
    header = lines[node.lineno - 1 : max(node.lineno, body_line - 1)]
    text = " ".join(part.strip() for part in header)
    if ":" in text and text.rstrip().endswith(":"):
        text = text.rstrip()[:-1]
    elif text.count(":") and body_line == node.lineno:  # one-liner: def f(x): return x
        text = _until_body_colon(text)
    return _squash(text)


def _until_body_colon(text: str) -> str:
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ":" and depth == 0:
            return text[:i]
    return text


def _squash(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SIGNATURE_CHARS else text[: _SIGNATURE_CHARS - 3] + "..."


@cache
def _parser(language: str) -> Any:
    try:
        ts = importlib.import_module("tree_sitter")
        grammar = importlib.import_module(_GRAMMARS[language])
    except ImportError:
        return None
    return ts.Parser(ts.Language(grammar.language()))


def _tree_sitter(
    path: str, source: str, language: str, parser: Any
) -> tuple[list[Definition], Counter[str]]:
    data = source.encode("utf-8", errors="replace")
    tree = parser.parse(data)
    kinds = _TS_DEFS[language]
    defs: list[Definition] = []
    refs: Counter[str] = Counter()
    stack: list[tuple[Any, str]] = [(tree.root_node, "")]
    while stack:
        node, prefix = stack.pop()
        kind = kinds.get(node.type)
        name = _ts_name(node, data) if kind else None
        if node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            if value is not None and value.type in ("arrow_function", "function_expression"):
                kind, name = "function", _ts_name(node, data)
        child_prefix = prefix
        if kind and name:
            qual = f"{prefix}{name}"
            defs.append(
                Definition(
                    path=path,
                    name=name,
                    qualname=qual,
                    kind=kind,
                    signature=_ts_signature(node, data),
                    start_line=node.start_point[0] + 1,
                    end_line=node.end_point[0] + 1,
                )
            )
            if kind in ("class", "impl", "type"):
                child_prefix = qual + "."
        elif node.type in _TS_IDENT:
            refs[data[node.start_byte : node.end_byte].decode("utf-8", "replace")] += 1
        stack.extend((c, child_prefix) for c in reversed(node.children))
    defs.sort(key=lambda d: (d.start_line, -d.span))
    return defs, refs


def _ts_name(node: Any, data: bytes) -> str | None:
    named = node.child_by_field_name("name") or node.child_by_field_name("type")
    if named is None:
        return None
    return data[named.start_byte : named.end_byte].decode("utf-8", "replace")


def _ts_signature(node: Any, data: bytes) -> str:
    end = node.end_byte
    for child in node.children:
        if child.type in _TS_BODY or child.type == "body":
            end = child.start_byte
            break
    body = node.child_by_field_name("body")
    if body is not None:
        end = min(end, body.start_byte)
    return _squash(data[node.start_byte : end].decode("utf-8", "replace").rstrip(" {=>"))
