"""Reference ``config.json`` files shipped with Bicameral, usable by name.

``bicameral plan --model planner=llama4-scout`` reads the preset when no file of that name
exists. Each file's ``_source`` says where every field came from; the same files are the test
fixtures under ``tests/fixtures/model_configs/`` (a test keeps them identical).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PRESETS", "preset_path"]

_HERE = Path(__file__).resolve().parent

PRESETS: dict[str, str] = {
    "llama4-scout-17b-16e-instruct": "llama4-scout-17b-16e-instruct.json",
    "llama4-scout": "llama4-scout-17b-16e-instruct.json",
    "deepseek-v3": "deepseek-v3-r1.json",
    "deepseek-r1": "deepseek-v3-r1.json",
    "smollm2-135m": "smollm2-135m.json",
}
"""Preset name -> file in this package."""


def preset_path(name: str) -> Path | None:
    """The shipped config called ``name`` (case-insensitive), or None."""
    file = PRESETS.get(name.lower())
    return _HERE / file if file else None
