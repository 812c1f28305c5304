"""The pipeline file format as a JSON Schema (``bicameral schema``), for editors.

Generated from the pydantic models in :mod:`orchestrator.config.spec`, then adjusted so it accepts
what a file may contain before the loader fills it in:

* alternative key names (``base_urls`` for ``base_url``, ``role`` for ``model``, ``allow``
  for ``builtin``);
* keys filled by defaults are not required (an agent's ``model``, a step's ``output``, the
  graph's ``entry``, a model's ``provider``), and ``models.<role>:`` / ``agents.<name>:`` may
  be left empty;
* a number or boolean may be written as a ``${VAR}`` reference, interpolated at load.

Point an editor at it with a first line ``# yaml-language-server: $schema=pipeline.schema.json``
after ``bicameral schema > pipeline.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AliasChoices, BaseModel

from orchestrator.config.spec import (
    AgentSpec,
    EdgeSpec,
    GraphSpec,
    ModelSpec,
    PipelineSpec,
    ServeSpec,
    StepSpec,
    ToolsSpec,
)

__all__ = ["ENV_REFERENCE", "pipeline_json_schema", "pipeline_json_schema_text"]

ENV_REFERENCE: dict[str, Any] = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "A ${VAR} or ${VAR:-default} reference, interpolated when the file loads.",
}
"""Schema of a string holding an environment reference."""

_MODELS: tuple[type[BaseModel], ...] = (
    PipelineSpec,
    ModelSpec,
    ServeSpec,
    ToolsSpec,
    AgentSpec,
    GraphSpec,
    StepSpec,
    EdgeSpec,
)
_DEFAULTED = {
    "AgentSpec": ("model",),
    "StepSpec": ("output",),
    "GraphSpec": ("entry",),
    "ModelSpec": ("provider",),
}
_NULLABLE_MAPS = ("models", "agents")
_NON_STRING = frozenset({"integer", "number", "boolean"})


def pipeline_json_schema() -> dict[str, Any]:
    """The JSON Schema (Draft 2020-12) of a pipeline file, as a dict."""
    schema = PipelineSpec.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = schema.get("$defs", {})
    for model in _MODELS:
        target = schema if model is PipelineSpec else defs.get(model.__name__)
        if target is not None:
            _add_aliases(target, model)
            _drop_required(target, _DEFAULTED.get(model.__name__, ()))
    for key in _NULLABLE_MAPS:
        prop = schema["properties"][key]
        prop["additionalProperties"] = {"anyOf": [prop["additionalProperties"], {"type": "null"}]}
    _allow_env_references(schema)
    _plain_descriptions(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Bicameral pipeline",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def pipeline_json_schema_text() -> str:
    """:func:`pipeline_json_schema` as indented JSON text with a final newline."""
    return json.dumps(pipeline_json_schema(), indent=2, ensure_ascii=False) + "\n"


def _plain_descriptions(node: Any) -> None:
    """Docstrings use reST ``literals``; editors show Markdown, so use single backticks."""
    if isinstance(node, list):
        for item in node:
            _plain_descriptions(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                node[key] = value.replace("``", "`")
            else:
                _plain_descriptions(value)


def _add_aliases(target: dict[str, Any], model: type[BaseModel]) -> None:
    props: dict[str, Any] = target.get("properties", {})
    for info in model.model_fields.values():
        if not isinstance(info.validation_alias, AliasChoices):
            continue
        names = [c for c in info.validation_alias.choices if isinstance(c, str)]
        primary = next((n for n in names if n in props), None)
        for alias in names:
            if primary is not None and alias not in props:
                props[alias] = props[primary]


def _drop_required(target: dict[str, Any], names: tuple[str, ...]) -> None:
    required = [n for n in target.get("required", []) if n not in names]
    if required:
        target["required"] = required
    else:
        target.pop("required", None)


def _allow_env_references(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _allow_env_references(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _allow_env_references(value)
    props = node.get("properties")
    if isinstance(props, dict):
        for name, prop in props.items():
            if _takes_non_string(prop):
                meta = {k: prop.pop(k) for k in _META if k in prop}
                props[name] = {**meta, "anyOf": [prop, ENV_REFERENCE]}


_META = ("title", "description", "default")


def _takes_non_string(prop: Any) -> bool:
    """Whether ``prop`` accepts a number or boolean but no string."""
    if not isinstance(prop, dict):
        return False
    members = [prop, *(m for m in prop.get("anyOf", []) if isinstance(m, dict))]
    types: set[str] = set()
    for member in members:
        kind = member.get("type")
        types |= set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()
    return bool(types & _NON_STRING) and "string" not in types
