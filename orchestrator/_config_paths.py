"""Walk the :class:`~orchestrator.spec.PipelineSpec` type tree by keys (private to config).

Used to check ``--set`` paths before applying them and to list the keys a mapping accepts
for did-you-mean hints.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel

from orchestrator.spec import PipelineSpec

__all__ = ["Loc", "dotted", "field_names", "is_sequence", "shape_at", "step_shape"]

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
