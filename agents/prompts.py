"""Prompt templates shipped with the code (``agents/prompts/*.md``), versioned with it."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["load_prompt"]


@cache
def load_prompt(name: str) -> str:
    """The text of ``agents/prompts/<name>.md``.

    Example:
        >>> load_prompt("planner").startswith("You are the planner")
        True
    """
    return resources.files("agents").joinpath("prompts", f"{name}.md").read_text("utf-8").strip()
