"""Where each value of a pipeline file came from, and pydantic's errors as located lines.

:class:`Document` records the line and column of every key and value of a file (and which
came from ``--set`` or ``${VAR}``); :func:`all_errors` and :func:`first_error` turn a
pydantic ``ValidationError`` into :class:`ConfigError` s that point at the right place, in
file order, with a did-you-mean for unknown keys. Private to :mod:`orchestrator.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from orchestrator.config._paths import Loc, dotted, field_names, shape_at
from orchestrator.config.spec import SpecIssue, did_you_mean
from orchestrator.exceptions import ConfigError

__all__ = ["Document", "all_errors", "first_error"]

_ALIASES: Mapping[str | int, tuple[str, ...]] = {
    "base_url": ("base_urls",),
    "base_urls": ("base_url",),
    "model": ("role",),
    "builtin": ("allow",),
    "from": ("from_",),
}


@dataclass
class Document:
    """The plain data of a file and where each key and value came from (1-based)."""

    path: str
    data: Any = None
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    overridden: dict[Loc, str] = field(default_factory=dict)
    interpolated: set[Loc] = field(default_factory=set)

    def at(self, loc: Loc = (), *, at_key: bool | None = None) -> dict[str, Any]:
        """``path``, ``line`` and ``col`` keyword arguments for a ConfigError about ``loc``.

        Points at the key when ``at_key`` (None: when the value is a mapping or list, whose
        own position is that of its first entry), else at the value; a place that is not
        in the file falls back to the nearest enclosing key.
        """
        while loc and loc not in self.values:
            loc, at_key = loc[:-1], True
        if at_key is None:
            at_key = isinstance(_get(self.data, loc), dict | list)
        line, col = (self.keys.get(loc) if at_key else None) or self.values.get(loc, (1, 1))
        return {"path": self.path, "line": line, "col": col}


def _get(data: Any, loc: Loc) -> Any:
    for seg in loc:
        in_dict = isinstance(data, dict) and seg in data
        in_list = isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data)
        if not (in_dict or in_list):
            return None
        data = data[seg]
    return data


def first_error(exc: ValidationError, doc: Document) -> ConfigError:
    """The error to report first: the earliest in the file, a missing key last."""
    ranked = [_describe(err, doc) for err in exc.errors(include_url=False)]
    return min(ranked, key=lambda r: r[0])[1] if ranked else ConfigError(str(exc), path=doc.path)


def all_errors(exc: ValidationError, doc: Document) -> list[ConfigError]:
    """Every error in file order (errors from ``--set`` first), one per place."""
    ranked = sorted(
        (_describe(err, doc) for err in exc.errors(include_url=False)),
        key=lambda r: (r[0][:1], r[1].line or 0, r[1].col or 0, r[0]),
    )
    out: list[ConfigError] = []
    places: set[tuple[int | None, int | None]] = set()
    for _, error in ranked:
        place = (error.line, error.col)
        # one error per place: a missing key reported where a misspelt one stands is its echo
        if error.line is None or place not in places:
            out.append(error)
            places.add(place)
    return out


def _describe(err: Any, doc: Document) -> tuple[tuple[int, ...], ConfigError]:
    """One pydantic error as (rank, ConfigError); the lowest rank is reported."""
    issue = (err.get("ctx") or {}).get("error")
    kind: str = err["type"]
    loc: Loc = tuple(err["loc"])
    if kind == "missing":
        loc = loc[:-1]
    real, exact = _real_path(doc, loc, ())
    at_key: bool | None = kind in ("missing", "extra_forbidden")
    error_type = ConfigError
    if isinstance(issue, SpecIssue):
        real, exact = _real_path(doc, real, issue.loc)
        message, error_type = issue.message, issue.error_type
        at_key = True if issue.at_key else None
    elif kind == "extra_forbidden":
        names = field_names(shape_at(real[:-1]))
        message = f"unknown key {real[-1]!r}{_where(real[:-1])}{did_you_mean(str(real[-1]), names)}"
    elif kind == "missing":
        message = f"missing required key {err['loc'][-1]!r}{_where(real)}"
    else:
        got = _ENV_VALUE if real in doc.interpolated else _got(err)
        message = f"{dotted(real) or 'the file'}: {_plain_message(err['msg'])}{got}"
    for done, item in doc.overridden.items():
        # an override inside the entry an error is about is its likely cause (--planner-url
        # without a model makes models.planner an 'openai' entry with no name)
        if real[: len(done)] == done or (real and done[: len(real)] == real):
            return (0,), error_type(f"{item}: {message}", path=doc.path)
    where = doc.at(real, at_key=at_key)
    # a missing key is often the echo of a misspelt one: report other errors first
    rank = (1, 0 if exact else 1, int(kind == "missing"), where["line"], where["col"])
    return rank, error_type(message, **where)


def _real_path(doc: Document, start: Loc, extra: Loc) -> tuple[Loc, bool]:
    """Follow ``start`` then ``extra`` through the data; pydantic's union-member segments
    in ``start`` are skipped, any miss in ``extra`` makes the result inexact."""
    node: Any = doc.data
    real: Loc = ()
    exact = True
    for strict, seg in [(False, s) for s in start] + [(True, s) for s in extra]:
        if isinstance(node, dict):
            key = next((k for k in (seg, *_ALIASES.get(seg, ())) if k in node), None)
            if key is not None:
                node, real = node[key], (*real, key)
                continue
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            node, real = node[seg], (*real, seg)
            continue
        if strict and isinstance(node, dict | list):
            exact = False
    return real, exact


def _where(loc: Loc) -> str:
    return f" in {dotted(loc)}" if loc else " at the top level"


_ENV_VALUE = " (a value from the environment, not shown)"
_TRANSLATE = (
    ("Value error, ", ""),
    ("a valid tuple", "a list"),
    ("a valid list", "a list"),
    ("a valid dictionary", "a mapping"),
    ("Input should be", "expected"),
)


def _plain_message(msg: str) -> str:
    for old, new in _TRANSLATE:
        msg = msg.replace(old, new)
    return msg[:1].lower() + msg[1:]


def _got(err: Mapping[str, Any]) -> str:
    value = err.get("input")
    if value is not None and not isinstance(value, str | int | float | bool):
        return ""
    text = repr(value)
    return f" (got {text if len(text) <= 60 else text[:57] + '...'})"
