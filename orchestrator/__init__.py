"""Bicameral: two-model agent pipelines on LangGraph.

A planner decides the next step and calls tools; a reasoner solves delegated math and code
subtasks; a schema-enforcement layer makes every output valid before anything acts on it.

Example:
    >>> from orchestrator import Pipeline, Limits
    >>> from orchestrator.models.testing import FakeChatModel
    >>> Pipeline(planner=FakeChatModel(responses=["hi"])).run("Say hi").answer
    'hi'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from orchestrator.events import (
    EnforcementAttempt,
    Event,
    EventKind,
    FinalEvent,
    InterruptEvent,
    ModelCallEvent,
    NodeEnd,
    NodeStart,
    TokenEvent,
    ToolCallEvent,
)
from orchestrator.exceptions import (
    BicameralError,
    BudgetExhaustedError,
    ConfigError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelResponseError,
    SchemaDefinitionError,
    SchemaValidationError,
    ToolArgumentError,
    ToolError,
    WorkspaceEscapeError,
)
from orchestrator.limits import Limits
from orchestrator.result import ErrorInfo, RunResult
from orchestrator.types import DelegateKind, Role, RunStatus, ToolMode
from orchestrator.usage import Price, RoleUsage

if TYPE_CHECKING:
    from orchestrator.loader import load_pipeline
    from orchestrator.models.openai_compat import OpenAICompatChatModel
    from orchestrator.models.testing import FakeChatModel, FunctionChatModel
    from orchestrator.pipeline import Pipeline
    from orchestrator.schema import EnforcementStats, aenforce, coerce, enforce

# Heavier names load on first use (PEP 562), so importing a light module such as
# ``orchestrator.limits`` never drags in the graph, the clients or the agents.
_LAZY = {
    "Pipeline": "orchestrator.pipeline",
    "load_pipeline": "orchestrator.loader",
    "OpenAICompatChatModel": "orchestrator.models.openai_compat",
    "FakeChatModel": "orchestrator.models.testing",
    "FunctionChatModel": "orchestrator.models.testing",
    "EnforcementStats": "orchestrator.schema",
    "aenforce": "orchestrator.schema",
    "coerce": "orchestrator.schema",
    "enforce": "orchestrator.schema",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "BicameralError",
    "BudgetExhaustedError",
    "ConfigError",
    "DelegateKind",
    "EnforcementAttempt",
    "EnforcementStats",
    "ErrorInfo",
    "Event",
    "EventKind",
    "FakeChatModel",
    "FinalEvent",
    "FunctionChatModel",
    "InterruptEvent",
    "Limits",
    "ModelCallEvent",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelResponseError",
    "NodeEnd",
    "NodeStart",
    "OpenAICompatChatModel",
    "Pipeline",
    "Price",
    "Role",
    "RoleUsage",
    "RunResult",
    "RunStatus",
    "SchemaDefinitionError",
    "SchemaValidationError",
    "TokenEvent",
    "ToolArgumentError",
    "ToolCallEvent",
    "ToolError",
    "ToolMode",
    "WorkspaceEscapeError",
    "__version__",
    "aenforce",
    "coerce",
    "enforce",
    "load_pipeline",
]
