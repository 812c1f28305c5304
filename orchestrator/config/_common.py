"""Foundations shared by the pipeline spec models (private; use :mod:`orchestrator.config.spec`).

The base model class, the error a cross-field check raises (:class:`SpecIssue`, a
``ValueError`` that knows where, relative to the validated object, the problem is), relative
path resolution against the pipeline file, and the JSON Schema field type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, WithJsonSchema
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from orchestrator.exceptions import ConfigError, SchemaDefinitionError
from orchestrator.text.suggest import did_you_mean

__all__ = [
    "IDENTIFIER",
    "JsonSchema",
    "SpecIssue",
    "SpecModel",
    "StrTuple",
    "base_dir",
    "did_you_mean",
    "resolve_path",
]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SpecIssue(ValueError):
    """A problem found by a spec validator, with its place relative to the validated object.

    Attributes:
        loc: keys and indexes from the validated object down to the offending value.
        at_key: point at the key rather than at the value.
        error_type: the ConfigError subclass to raise for it.
    """

    def __init__(
        self,
        message: str,
        *,
        loc: tuple[str | int, ...] = (),
        at_key: bool = False,
        error_type: type[ConfigError] = ConfigError,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.at_key = at_key
        self.error_type = error_type


def base_dir(info: ValidationInfo) -> Path:
    """The directory relative paths are resolved against (validation context ``base_dir``)."""
    context = info.context if isinstance(info.context, Mapping) else {}
    return Path(context.get("base_dir") or Path.cwd())


def resolve_path(value: str, info: ValidationInfo) -> Path:
    """``value`` as a path, ``~`` expanded, relative ones joined to :func:`base_dir`."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir(info) / path).resolve()


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _load_json_schema(value: Any, info: ValidationInfo) -> Any:
    origin: str | None = None
    if isinstance(value, str):
        origin, path = value, resolve_path(value, info)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecIssue(f"schema file {origin!r} not found (looked for {path})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecIssue(f"cannot read schema file {origin!r}: {exc}") from None
        try:
            value = (
                YAML(typ="safe", pure=True).load(text)
                if path.suffix in (".yaml", ".yml")
                else json.loads(text)
            )
        except (ValueError, YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecIssue(f"schema file {origin!r} does not parse: {first}") from None
    if not isinstance(value, dict):
        raise SpecIssue(
            "output_schema must be a JSON Schema object or the path of a schema file",
            error_type=SchemaDefinitionError,
        )
    try:
        Draft202012Validator.check_schema(value)
    except JsonSchemaError as exc:
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        if origin is not None:
            raise SpecIssue(
                f"invalid JSON Schema in {origin!r} at {where}: {exc.message}",
                error_type=SchemaDefinitionError,
            ) from None
        raise SpecIssue(
            f"invalid JSON Schema at {where}: {exc.message}",
            loc=tuple(exc.path),
            error_type=SchemaDefinitionError,
        ) from None
    return value


JsonSchema = Annotated[
    dict[str, Any],
    BeforeValidator(_load_json_schema),
    WithJsonSchema(
        {
            "anyOf": [{"type": "object"}, {"type": "string"}],
            "description": "A JSON Schema (Draft 2020-12), inline or as a .json/.yaml file path.",
        }
    ),
]
"""A JSON Schema given inline or as a file path; loaded and checked (Draft 2020-12)."""

_STR_OR_LIST = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
    ]
}
StrTuple = Annotated[tuple[str, ...], BeforeValidator(_as_tuple), WithJsonSchema(_STR_OR_LIST)]
"""One string or a list of them."""


class SpecModel(BaseModel):
    """Base of every spec model: frozen, unknown keys refused, field docstrings documented."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        protected_namespaces=(),
        validate_by_alias=True,
        validate_by_name=True,
    )
