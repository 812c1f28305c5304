"""Store planned ``vllm serve`` settings in a pipeline file's ``serve:`` sections.

The file is edited with ruamel.yaml's round-trip mode, so comments, key order and quoting
survive; only the planned keys of ``models.<role>.serve`` change (a key whose planned value
is None, vLLM's default, is removed). The result is validated as a pipeline before it
replaces the file, so a write never leaves a file ``bicameral`` cannot load.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from orchestrator.capacity.flags import ServeSettings
from orchestrator.exceptions import ConfigError

__all__ = ["write_serve_settings"]


def write_serve_settings(
    path: str | os.PathLike[str], settings: Mapping[str, ServeSettings]
) -> str:
    """Update ``models.<role>.serve`` in the pipeline at ``path`` for each role in ``settings``.

    Returns:
        The new file text.

    Raises:
        ConfigError: the file cannot be read or parsed, a role is not a mapping in it, or the
            edited file would not validate (the file is then left unchanged).
    """
    from orchestrator.config.loading import parse_spec

    file = Path(path)
    try:
        original = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=str(file)) from None
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    try:
        root = yaml.load(original)
    except YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(file)) from None
    models = root.get("models") if isinstance(root, CommentedMap) else None
    if not isinstance(models, CommentedMap):
        raise ConfigError("no models: mapping to write serve settings into", path=str(file))
    for role, values in settings.items():
        model = models.get(role)
        if not isinstance(model, CommentedMap):
            raise ConfigError(f"models.{role} is not a mapping; cannot add serve:", path=str(file))
        serve = model.get("serve")
        if serve is None:
            serve = CommentedMap()
            model.fa.set_block_style()  # a one-line {…} model becomes a block to hold serve:
            model["serve"] = serve
        if not isinstance(serve, CommentedMap):
            raise ConfigError(f"models.{role}.serve is not a mapping", path=str(file))
        for key, value in values.serve_keys().items():
            if value is None:
                serve.pop(key, None)
            else:
                serve[key] = value
    out = io.StringIO()
    yaml.dump(root, out)
    text = out.getvalue()
    parse_spec(text, path=str(file), base_dir=file.resolve().parent)
    file.write_text(text, encoding="utf-8")
    return text
