"""Dotted paths into a pipeline file (private to :mod:`orchestrator.config.loading`).

Walks the :class:`~orchestrator.spec.PipelineSpec` type tree by keys, to check and apply
``--set`` overrides and to list the keys a mapping accepts for did-you-mean hints.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel
from ruamel.yaml.error import ReusedAnchorWarning, YAMLError

from orchestrator.config._common import load_yaml, plain_data
from orchestrator.config.spec import PipelineSpec, did_you_mean
from orchestrator.exceptions import ConfigError

__all__ = [
    "Loc",
    "apply_override",
    "dotted",
    "field_names",
    "is_sequence",
    "shape_at",
    "step_shape",
]

Loc = tuple[str | int, ...]
"""Keys and list indexes from the top of a pipeline file down to a value."""


def dotted(loc: Loc) -> str:
    """``("graph", "edges", 2, "when")`` -> ``"graph.edges[2].when"``."""
    out = ""
    for seg in loc:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else seg)
    return out


def shape_at(loc: Loc) -> Any:
    """The type expected at ``loc`` in a pipeline file, or None if no such place exists."""
    shape: Any = PipelineSpec
    for seg in loc:
        shape = step_shape(shape, seg)
        if shape is None:
            return None
    return shape


def step_shape(shape: Any, seg: str | int) -> Any:
    """The type one key or index below ``shape``, or None if ``seg`` can't go there."""
    for cand in _candidates(shape):
        if cand is Any:
            return Any
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for name, info in cand.model_fields.items():
                if seg in _names(name, info.alias, info.validation_alias):
                    return info.annotation
            continue
        origin, args = get_origin(cand), get_args(cand)
        if origin in (dict, Mapping) and isinstance(seg, str):
            return args[1] if len(args) == 2 else Any
        if origin in (list, tuple, Sequence) and isinstance(seg, int):
            return args[0] if args else Any
    return None


def is_sequence(shape: Any) -> bool:
    """Whether ``shape`` is a list type (``--set`` can change its items, not create them)."""
    return any(get_origin(c) in (list, tuple, Sequence) for c in _candidates(shape))


def field_names(shape: Any) -> list[str]:
    """The keys a mapping of type ``shape`` accepts, when it is a model (else empty)."""
    names: list[str] = []
    for cand in _candidates(shape):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for name, info in cand.model_fields.items():
                names += [n for n in _names(name, info.alias, info.validation_alias) if n]
    return list(dict.fromkeys(n for n in names if not n.endswith("_") or n == "from_"))


def _names(name: str, alias: str | None, validation_alias: Any) -> tuple[str, ...]:
    found = [alias or name]
    if isinstance(validation_alias, AliasChoices):
        found += [c for c in validation_alias.choices if isinstance(c, str)]
    elif isinstance(validation_alias, str):
        found.append(validation_alias)
    return tuple(dict.fromkeys([*found, name]))


def _candidates(shape: Any) -> list[Any]:
    if shape is None:
        return []
    origin = get_origin(shape)
    if origin is Annotated:
        return _candidates(get_args(shape)[0])
    if origin in (Union, types.UnionType):
        return [c for arg in get_args(shape) if arg is not type(None) for c in _candidates(arg)]
    return [shape]


def apply_override(data: dict[str, Any], item: str, *, path: str) -> list[Loc]:
    """Apply one ``dotted.key=value`` item (the CLI's ``--set``) to a file's plain data.

    The value is parsed as YAML; list items are addressed by index; missing mappings on the
    way are created when the pipeline format has them there.

    Returns:
        The places set or created (errors under them are reported as the override's).

    Raises:
        ConfigError: a malformed item, a path the format doesn't have, a bad YAML value.
    """

    def fail(message: str) -> ConfigError:
        return ConfigError(f"--set {item}: {message}", path=path)

    key, sep, raw = item.partition("=")
    segments = key.strip().split(".")
    if not sep or not all(segments):
        raise fail("expected dotted.key=value, e.g. limits.max_steps=10")
    try:
        value = plain_data(load_yaml(raw, typ="safe"))
    except (YAMLError, ValueError, ReusedAnchorWarning) as exc:
        raise fail(f"value does not parse as YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise fail("value is nested too deeply") from None
    node: Any = data
    loc: Loc = ()
    touched: list[Loc] = []
    for i, seg in enumerate(segments):
        step: str | int = int(seg) if isinstance(node, list) and seg.lstrip("-").isdigit() else seg
        if isinstance(node, list) and not (isinstance(step, int) and 0 <= step < len(node)):
            raise fail(f"{dotted(loc)} has no item {seg} (it has {len(node)})")
        if step_shape(shape_at(loc), step) is None:
            names = field_names(shape_at(loc))
            where = f"{dotted(loc)} has" if loc else "a pipeline has"
            raise fail(f"{where} no key {seg!r}{did_you_mean(seg, names)}")
        here = (*loc, step)
        if i == len(segments) - 1:
            node[step] = value
            return [*touched, here]
        child = node.get(step) if isinstance(node, dict) else node[int(step)]
        if child is None:
            if is_sequence(step_shape(shape_at(loc), step)):
                raise fail(f"{dotted(here)} has no items to change")
            child = node[step] = {}
            touched.append(here)
        if not isinstance(child, dict | list):
            raise fail(f"{dotted(here)} is a single value, not a mapping")
        node, loc = child, here
    return touched  # not reached: the loop returns at the last segment
