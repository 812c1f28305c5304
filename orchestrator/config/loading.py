"""Load a pipeline YAML file into a validated :class:`~orchestrator.config.spec.PipelineSpec`.

Every mistake in a file becomes one :class:`~orchestrator.exceptions.ConfigError` whose
``str`` is ``path:line:col: message`` (with a did-you-mean where a name is close to a known
one), so the CLI prints one line and no traceback.

How a file is read:

1. parsed with ruamel.yaml's round-trip loader, which keeps the line and column of every key
   and value and never builds Python objects from tags (tags are refused below);
2. turned into plain data, interpolating ``${VAR}`` and ``${VAR:-default}`` in strings from
   the environment (``$${`` writes a literal ``${``);
3. ``--set dotted.key=value`` overrides applied (the value is parsed as YAML; list items are
   addressed by index, ``graph.edges.0.when=...``);
4. validated by pydantic with relative paths resolved against the file's directory; the
   first error, in file order, is mapped back to its line and column.

Example:
    >>> spec = load_spec("pipeline.yaml", ["limits.max_steps=5"])  # doctest: +SKIP
    >>> spec.limits.max_steps  # doctest: +SKIP
    5
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError

from orchestrator.config._common import (
    MAX_DEPTH,
    MAX_VALUES,
    FileRefused,
    load_yaml,
    read_small_bytes,
)
from orchestrator.config._located import Document, all_errors, first_error
from orchestrator.config._paths import Loc, apply_override
from orchestrator.config.spec import PipelineSpec
from orchestrator.exceptions import ConfigError
from orchestrator.redact import Redactor

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_VALUES", "check_file", "load_spec", "parse_spec"]

MAX_FILE_BYTES = 256 * 1024
"""Largest pipeline file read (256 KiB); real ones are a few KiB, and parsing costs about
15 ms per KiB, so the cap keeps ``validate`` on a hostile file within seconds."""

_ALLOWED_TAGS = frozenset(
    {None, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}
)
_REF = re.compile(r"\$(\$)?\{([^}]*)(\})?")
_REF_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def load_spec(
    path: str | os.PathLike[str],
    overrides: Iterable[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
    secrets: Redactor | None = None,
    allow_outside_files: bool = False,
) -> PipelineSpec:
    """Read, interpolate, override and validate the pipeline file at ``path``.

    Args:
        path: the YAML file; prompt files, schema files and other relative paths in it are
            resolved against its directory.
        overrides: ``dotted.key=value`` items (the CLI's ``--set``), applied in order.
        env: variables for ``${VAR}`` interpolation; default ``os.environ``.
        origins: how the user wrote an override, when not as ``--set`` (``{"models.planner.
            base_url=URL": "--planner-url URL"}``): errors it causes name that instead.
        secrets: filled with every value interpolated from ``env`` so the caller can keep
            them out of what it shows (errors raised here are already redacted).
        allow_outside_files: let prompt, schema and template files lie outside the pipeline
            file's folder (by default they must be inside it).

    Raises:
        ConfigError: anything wrong, as ``path:line:col: message``;
            :class:`~orchestrator.exceptions.SchemaDefinitionError` for an invalid JSON Schema.
    """
    return _load(
        path,
        overrides,
        env=env,
        origins=origins,
        every=None,
        secrets=secrets,
        confine=not allow_outside_files,
    )


def check_file(
    path: str | os.PathLike[str],
    overrides: Iterable[str] = (),
    *,
    allow_outside_files: bool = False,
) -> list[ConfigError]:
    """Every mistake in the pipeline file at ``path``, in file order (empty: the file is
    valid); what ``bicameral validate`` prints.

    A file that cannot be read or parsed as YAML has one error; the mistakes found while
    validating its content are all reported. Checks that need the content to be otherwise
    valid (cross-references between sections) run once the others are fixed.
    """
    every: list[ConfigError] = []
    try:
        _load(
            path,
            overrides,
            env=None,
            origins=None,
            every=every,
            secrets=None,
            confine=not allow_outside_files,
        )
    except ConfigError as exc:
        return every or [exc]
    return []


def _load(
    path: str | os.PathLike[str],
    overrides: Iterable[str],
    *,
    env: Mapping[str, str] | None,
    origins: Mapping[str, str] | None,
    every: list[ConfigError] | None,
    secrets: Redactor | None,
    confine: bool,
) -> PipelineSpec:
    name = os.fspath(path)
    try:
        raw = read_small_bytes(Path(name), limit=MAX_FILE_BYTES)
    except FileNotFoundError:
        raise ConfigError("no such file", path=name) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a pipeline file", path=name) from None
    except FileRefused as exc:
        raise ConfigError(f"not read: {exc}", path=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, start) + 1
        col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        message = f"not UTF-8 text: byte 0x{raw[start]:02x} ({exc.reason}); save the file as UTF-8"
        raise ConfigError(message, path=name, line=line, col=col) from None
    base = Path(name).resolve().parent
    return _parse(
        text,
        path=name,
        base_dir=base,
        overrides=overrides,
        env=env,
        origins=origins,
        every=every,
        secrets=secrets,
        confine=confine,
    )


def parse_spec(
    text: str,
    *,
    path: str = "<string>",
    base_dir: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
    secrets: Redactor | None = None,
    confine: bool = True,
) -> PipelineSpec:
    """Like :func:`load_spec`, for YAML text; ``path`` only names it in messages.

    ``confine`` keeps referenced files inside ``base_dir`` (see :func:`load_spec`'s
    ``allow_outside_files``).

    Raises:
        ConfigError: as for :func:`load_spec`.
    """
    return _parse(
        text,
        path=path,
        base_dir=base_dir,
        overrides=overrides,
        env=env,
        origins=origins,
        every=None,
        secrets=secrets,
        confine=confine,
    )


def _parse(
    text: str,
    *,
    path: str,
    base_dir: str | os.PathLike[str] | None,
    overrides: Iterable[str],
    env: Mapping[str, str] | None,
    origins: Mapping[str, str] | None,
    every: list[ConfigError] | None,
    secrets: Redactor | None,
    confine: bool,
) -> PipelineSpec:
    redactor = Redactor() if secrets is None else secrets
    found: list[ConfigError] = []
    try:
        return _parse_redacted(
            text, path, base_dir, overrides, env, origins, found, redactor, confine
        )
    except ConfigError as exc:
        if every is not None:
            every.extend(_redacted(e, redactor) for e in found)
        raise _redacted(exc, redactor) from None


def _redacted(exc: ConfigError, redactor: Redactor) -> ConfigError:
    if not redactor:
        return exc
    return type(exc)(redactor(exc.message), path=exc.path, line=exc.line, col=exc.col)


def _parse_redacted(
    text: str,
    path: str,
    base_dir: str | os.PathLike[str] | None,
    overrides: Iterable[str],
    env: Mapping[str, str] | None,
    origins: Mapping[str, str] | None,
    every: list[ConfigError],
    redactor: Redactor,
    confine: bool,
) -> PipelineSpec:
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(f"longer than {MAX_FILE_BYTES} characters", path=path)
    doc = Document(path)
    root = _parse_yaml(text, path)
    if isinstance(root, CommentedMap | CommentedSeq):
        doc.values[()] = (root.lc.line + 1, root.lc.col + 1)
    if root is None:
        raise ConfigError("the file is empty; a pipeline needs at least models.planner", **doc.at())
    if not isinstance(root, CommentedMap):
        kind = "a list" if isinstance(root, CommentedSeq) else "a single value"
        raise ConfigError(
            f"a pipeline file must be a mapping (models:, ...), not {kind}", **doc.at()
        )
    doc.data = _Converter(doc, os.environ if env is None else env, redactor).convert(root, (), 0)
    for item in overrides:
        for loc in apply_override(doc.data, item, path=path):
            doc.overridden[loc] = (origins or {}).get(item, f"--set {item}")
    context = {
        "base_dir": Path(base_dir) if base_dir is not None else Path.cwd(),
        "confine": confine,
    }
    try:
        return PipelineSpec.model_validate(doc.data, context=context)
    except ValidationError as exc:
        every.extend(all_errors(exc, doc))
        raise first_error(exc, doc) from None


def _parse_yaml(text: str, path: str) -> Any:
    try:
        return load_yaml(text, typ="rt")
    except ReusedAnchorWarning as exc:
        places = re.findall(r"line (\d+), column (\d+)", str(exc))
        name = re.search(r"duplicate anchor '(.*?)'", str(exc))
        line, col = (int(places[-1][0]), int(places[-1][1])) if places else (None, None)
        where = {"line": line, "col": col} if line is not None else {}
        raise ConfigError(
            f"anchor {name.group(1) if name else '?'!r} is defined twice", path=path, **where
        ) from None
    except DuplicateKeyError as exc:
        found = re.search(r'duplicate key "(.*?)"', str(exc.problem))
        key = found.group(1) if found else "?"
        raise ConfigError(f"duplicate key {key!r}", **_mark(exc, path)) from None
    except MarkedYAMLError as exc:
        context = f" ({exc.context})" if exc.context else ""
        message = f"YAML syntax error: {exc.problem}{context}"
        raise ConfigError(message, **_mark(exc, path)) from None
    except YAMLError as exc:
        raise ConfigError(f"YAML error: {str(exc).splitlines()[0]}", path=path) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", path=path, line=1, col=1) from None


def _mark(exc: MarkedYAMLError, path: str) -> dict[str, Any]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return {"path": path}
    return {"path": path, "line": mark.line + 1, "col": mark.column + 1}


class _Converter:
    """ruamel's round-trip tree -> plain dicts/lists/scalars, recording positions."""

    def __init__(self, doc: Document, env: Mapping[str, str], redactor: Redactor) -> None:
        self.doc = doc
        self.env = env
        self.redactor = redactor
        self.count = 0

    def convert(self, node: Any, loc: Loc, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise ConfigError(f"the file expands to over {MAX_VALUES} values", **self.doc.at(loc))
        if depth > MAX_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", **self.doc.at(loc))
        if isinstance(node, CommentedMap | CommentedSeq):
            tag = getattr(getattr(node, "tag", None), "value", None)
            if tag not in _ALLOWED_TAGS:
                raise ConfigError(f"YAML tag {tag!r} is not allowed", **self.doc.at(loc))
            if isinstance(node, CommentedMap):
                return self._mapping(node, loc, depth)
            return self._sequence(node, loc, depth)
        if isinstance(node, str):  # str, or a ruamel ScalarString (quoted, block) subclass
            return self._interpolate(str(node), loc)
        if node is None or isinstance(node, bool):
            return None if node is None else bool(node)
        if isinstance(node, int | float):
            return int(node) if isinstance(node, int) else float(node)
        if isinstance(node, datetime.date):
            return node.isoformat()
        tag = getattr(getattr(node, "tag", None), "value", None)
        what = f"YAML tag {tag!r}" if tag else f"YAML value of type {type(node).__name__}"
        raise ConfigError(f"{what} is not allowed", **self.doc.at(loc))

    def _mapping(self, node: CommentedMap, loc: Loc, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for raw_key, value in node.items():
            if isinstance(raw_key, bool):
                key = "true" if raw_key else "false"
            elif isinstance(raw_key, str | int | float):
                key = str(raw_key)
            else:
                raise ConfigError("mapping keys must be plain names", **self.doc.at(loc))
            here = (*loc, key)
            self._record(here, node.lc.key, node.lc.value, raw_key)
            out[key] = self.convert(value, here, depth + 1)
        return out

    def _sequence(self, node: CommentedSeq, loc: Loc, depth: int) -> list[Any]:
        out: list[Any] = []
        for i, value in enumerate(node):
            here = (*loc, i)
            self._record(here, None, node.lc.item, i)
            out.append(self.convert(value, here, depth + 1))
        return out

    def _record(self, loc: Loc, key_lc: Any, value_lc: Any, key: Any) -> None:
        for table, lookup in ((self.doc.keys, key_lc), (self.doc.values, value_lc)):
            if lookup is None:
                continue
            try:
                line, col = lookup(key)
            except (KeyError, IndexError, TypeError):
                continue  # keys merged in with `<<:` have no position of their own
            table[loc] = (line + 1, col + 1)
        if loc not in self.doc.values and loc in self.doc.keys:
            self.doc.values[loc] = self.doc.keys[loc]

    def _interpolate(self, text: str, loc: Loc) -> str:
        if "${" not in text:
            return text
        out: list[str] = []
        pos = 0
        for match in _REF.finditer(text):
            out.append(text[pos : match.start()])
            pos = match.end()
            escaped, body, closed = match.groups()
            if escaped:
                out.append(match.group(0)[1:])
                continue
            if not closed:
                raise ConfigError("unclosed '${' (write $${ for a literal)", **self.doc.at(loc))
            out.append(self._lookup(body, loc))
            self.doc.interpolated.add(loc)
        out.append(text[pos:])
        return "".join(out)

    def _lookup(self, body: str, loc: Loc) -> str:
        parsed = _REF_BODY.fullmatch(body.strip())
        if parsed is None or "${" in (parsed.group(2) or ""):
            raise ConfigError(
                f"malformed reference '${{{body}}}': write ${{NAME}} or ${{NAME:-default}}",
                **self.doc.at(loc),
            )
        name, default = parsed.group(1), parsed.group(2)
        value = self.env.get(name)
        if default is not None and not value:
            return default
        if value is None:
            raise ConfigError(
                f"environment variable {name!r} is not set (give a default: ${{{name}:-value}})",
                **self.doc.at(loc),
            )
        self.redactor.add(value, f"${{{name}}}")
        return value
