"""The ``tools:`` section of a pipeline file: built-in tools, user tool modules, approval.

Private; import these names from :mod:`orchestrator.config.spec`.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from orchestrator.config._common import SpecIssue, SpecModel, StrTuple, did_you_mean
from orchestrator.types import BUILTIN_TOOL_NAMES

__all__ = ["ToolsSpec", "module_problem"]


_MODULE_REF = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?")
_REFUSED_PACKAGES = frozenset(sys.stdlib_module_names) | {"builtins", "__main__", "_pytest"}
"""Top-level packages ``tools.modules`` may not name: the standard library's (``os:system``,
``subprocess:getoutput`` would be unsandboxed tools in the orchestrator's own process)."""


def module_problem(entry: str) -> str | None:
    """Why a ``tools.modules`` entry is refused, or None: syntax, or a standard-library module."""
    if not _MODULE_REF.fullmatch(entry):
        return f"{entry!r} is not a module path (pkg.mod) or a tool (pkg.mod:attr)"
    top = entry.partition(":")[0].partition(".")[0]
    if top in _REFUSED_PACKAGES or top.startswith("_"):
        return (
            f"{entry!r}: standard-library and private modules cannot be tools (they would run "
            "unsandboxed in the orchestrator); write a typed function in your own module"
        )
    return None


class ToolsSpec(SpecModel):
    """Which tools a pipeline may use."""

    builtin: StrTuple = Field(
        default=BUILTIN_TOOL_NAMES, validation_alias=AliasChoices("builtin", "allow")
    )
    """Built-in tools enabled (default: all): read_file, write_file, list_files, apply_edit,
    run_python, run_tests, evaluate, simplify, check_equal, search, repo_map, git_diff,
    localise."""
    modules: StrTuple = ()
    """Allow-list for user tools: ``pkg.mod`` allows every ``pkg.mod[.sub]:attr`` reference;
    a ``pkg.mod:attr`` entry also enables that tool for the default planner."""
    require_approval: StrTuple = ()
    """Tools (built-in names or ``module:attr``) that pause the run for human approval before
    each call; continue with ``bicameral resume THREAD --approve`` or ``--deny``."""

    @model_validator(mode="before")
    @classmethod
    def _list_means_builtin(cls, data: Any) -> Any:
        """``tools: [evaluate, check_equal]`` is short for ``tools: {builtin: [...]}``."""
        return {"builtin": data} if isinstance(data, list) else data

    @field_validator("builtin")
    @classmethod
    def _known_builtins(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for i, name in enumerate(names):
            if name not in BUILTIN_TOOL_NAMES:
                hint = did_you_mean(name, BUILTIN_TOOL_NAMES)
                raise SpecIssue(f"unknown built-in tool {name!r}{hint}", loc=(i,))
        return tuple(dict.fromkeys(names))

    @field_validator("modules")
    @classmethod
    def _module_syntax(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        for i, entry in enumerate(entries):
            problem = module_problem(entry)
            if problem is not None:
                raise SpecIssue(problem, loc=(i,))
        return entries

    @model_validator(mode="after")
    def _approval_names_known(self) -> ToolsSpec:
        for i, name in enumerate(self.require_approval):
            problem = self.problem(name)
            if problem is not None:
                raise SpecIssue(problem, loc=("require_approval", i))
        return self

    @property
    def enabled(self) -> tuple[str, ...]:
        """The tools the default planner gets: enabled built-ins plus ``module:attr`` entries."""
        return self.builtin + tuple(m for m in self.modules if ":" in m)

    def allows(self, ref: str) -> bool:
        """Whether the user tool ``module:attr`` is covered by the allow-list."""
        module = ref.partition(":")[0]
        for entry in self.modules:
            if entry == ref or (":" not in entry and (module + ".").startswith(entry + ".")):
                return True
        return False

    def problem(self, ref: str) -> str | None:
        """Why ``ref`` (a built-in name or ``module:attr``) can't be used, or None if it can."""
        if ":" in ref:
            if not _MODULE_REF.fullmatch(ref):
                return f"user tool {ref!r} must be written module:attribute"
            if not self.allows(ref):
                module = ref.partition(":")[0]
                return f"user tool {ref!r}: module {module!r} is not allow-listed in tools.modules"
            return module_problem(ref)
        if ref in self.builtin:
            return None
        if ref in BUILTIN_TOOL_NAMES:
            return f"tool {ref!r} is not enabled in tools.builtin"
        known = dict.fromkeys([*BUILTIN_TOOL_NAMES, *self.enabled])
        return f"unknown tool {ref!r}{did_you_mean(ref, known)}"
