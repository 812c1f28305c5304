"""Foundations shared by the pipeline spec models (private; use :mod:`orchestrator.config.spec`).

The base model class, the error a cross-field check raises (:class:`SpecIssue`, a
``ValueError`` that knows where, relative to the validated object, the problem is), relative
path resolution against the pipeline file, and the JSON Schema field type.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, WithJsonSchema
from ruamel.yaml import YAML
from ruamel.yaml.error import ReusedAnchorWarning, YAMLError

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
    "load_yaml",
    "plain_data",
    "read_small_bytes",
    "read_small_file",
    "resolve_path",
    "resolve_referenced_file",
]

MAX_FILE_BYTES = 1 << 20
"""Largest prompt or schema file read (1 MiB); a pipeline file has its own cap."""

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


class FileRefused(OSError):
    """A file that is not read: not a regular file, or too large."""

    def __str__(self) -> str:
        return self.strerror or "refused"


def read_small_bytes(path: Path, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Opens without blocking and checks the opened file, so a FIFO (which would block
    forever), a device such as ``/dev/zero`` (endless) or a directory is refused rather
    than read.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: a directory.
        FileRefused: not a regular file, or larger than ``limit``.
        OSError: any other reason it cannot be read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise FileRefused(errno.EFBIG, f"larger than {limit} bytes ({info.st_size})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(errno.EFBIG, f"larger than {limit} bytes")
    return data


def read_small_file(path: Path, *, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (see
    :func:`read_small_bytes`).

    Raises:
        UnicodeDecodeError: not UTF-8; and what :func:`read_small_bytes` raises.
    """
    return read_small_bytes(path, limit=limit).decode("utf-8-sig")


def resolve_referenced_file(value: str, info: ValidationInfo, what: str) -> Path:
    """A file a pipeline refers to (prompt, schema, template), confined to the file's folder.

    When the validation context has ``confine`` true (how :func:`load_spec` validates unless
    told otherwise), the resolved path, symlinks followed, must lie inside
    :func:`base_dir`: a pipeline file from elsewhere cannot make Bicameral read
    ``/proc/self/environ`` or ``~/.ssh/id_rsa`` and send it to a model server.

    Raises:
        SpecIssue: the path leaves the folder.
    """
    path = resolve_path(value, info).resolve()
    context = info.context if isinstance(info.context, Mapping) else {}
    if context.get("confine"):
        root = base_dir(info).resolve()
        if not path.is_relative_to(root):
            raise SpecIssue(
                f"{what} {value!r} is outside the pipeline's folder {str(root)!r} "
                "(pass --allow-outside-files to allow it)"
            )
    return path


MAX_VALUES = 100_000
"""Most keys, items and scalars one YAML document may expand to (aliases multiply them)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""


def plain_data(value: Any, *, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of parsed YAML/JSON as plain dicts, lists and scalars, within bounds.

    YAML aliases let a few hundred bytes stand for billions of values (an "alias bomb"), and a
    self-referencing alias makes a cycle; copying with a budget turns either into a
    ``ValueError`` after at most ``max_values`` steps. Dates become ISO strings.

    Raises:
        ValueError: too many values, too deep, or a value of an unsupported type.
    """
    count = 0

    def copy(node: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > max_values:
            raise ValueError(f"expands to over {max_values} values (YAML aliases?)")
        if depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            return {str(k): copy(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [copy(v, depth + 1) for v in node]
        if isinstance(node, datetime.date):
            return node.isoformat()
        if node is None or isinstance(node, str | int | float | bool):
            return node
        raise ValueError(f"unsupported value of type {type(node).__name__}")

    return copy(value, 0)


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _load_json_schema(value: Any, info: ValidationInfo) -> Any:
    origin: str | None = None
    if isinstance(value, str):
        origin, path = value, resolve_referenced_file(value, info, "schema file")
        try:
            text = read_small_file(path)
        except FileNotFoundError:
            raise SpecIssue(f"schema file {origin!r} not found (looked for {path})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecIssue(f"cannot read schema file {origin!r}: {exc}") from None
        try:
            value = plain_data(
                load_yaml(text, typ="safe")
                if path.suffix in (".yaml", ".yml")
                else json.loads(text)
            )
        except (ValueError, YAMLError, ReusedAnchorWarning) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecIssue(f"schema file {origin!r} does not parse: {first}") from None
        except RecursionError:
            raise SpecIssue(f"schema file {origin!r} is nested too deeply") from None
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


def load_yaml(text: str, *, typ: str) -> Any:
    """Parse YAML with ruamel; an anchor defined twice is an error, not a printed warning.

    Raises:
        ReusedAnchorWarning: as an exception (its message names both places).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReusedAnchorWarning)
        return YAML(typ=typ, pure=True).load(text) if typ == "safe" else YAML(typ=typ).load(text)
