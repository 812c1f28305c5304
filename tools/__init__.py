"""Bicameral's tools: langchain-core tools with JSON-schema parameters, and the Toolset.

The public surface::

    from tools import Toolset, ToolContext, build_tools, BUILTIN_TOOLS
    from tools import SandboxLimits, run_python, run_tests, apply_edits

File tools are confined to the run's workspace; code runs in a limited subprocess
(:mod:`tools.sandbox`); math runs on sympy in the same sandbox (:mod:`tools.math`).
"""

from __future__ import annotations

__bicameral_package__ = True  # see orchestrator/_companions.py

# The orchestrator package imports tools.base while it loads; loading it completely first
# means that cycle always starts on its side, whichever package a program imports first.
import orchestrator  # noqa: F401  (import order, see above)
from tools._cgroup import ProcessLimit, process_limit_mode
from tools._context import ToolContext
from tools._limits import SandboxLimits
from tools.base import (
    BUILTIN_TOOLS,
    ToolFactory,
    Toolset,
    build_tools,
    require_approval,
    tool_from_function,
)
from tools.files import apply_edit, apply_edits, list_files, read_file, write_file
from tools.math import EqualityResult, check_equal, evaluate, simplify
from tools.sandbox import KillReason, SandboxResult, run_python, run_sandboxed
from tools.tests import TestFailure, TestReport, run_tests

__all__ = [
    "BUILTIN_TOOLS",
    "EqualityResult",
    "KillReason",
    "ProcessLimit",
    "SandboxLimits",
    "SandboxResult",
    "TestFailure",
    "TestReport",
    "ToolContext",
    "ToolFactory",
    "Toolset",
    "apply_edit",
    "apply_edits",
    "build_tools",
    "check_equal",
    "evaluate",
    "list_files",
    "process_limit_mode",
    "read_file",
    "require_approval",
    "run_python",
    "run_sandboxed",
    "run_tests",
    "simplify",
    "tool_from_function",
    "write_file",
]
