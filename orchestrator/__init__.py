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

if TYPE_CHECKING:
    from agents.agent import Agent, make_agent
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
        ExpressionError,
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
    from orchestrator.loader import load_pipeline
    from orchestrator.models.openai_compat import OpenAICompatChatModel
    from orchestrator.models.testing import FakeChatModel, FunctionChatModel
    from orchestrator.pipeline import Pipeline
    from orchestrator.result import ErrorInfo, RunResult
    from orchestrator.schema import EnforcementStats, aenforce, coerce, enforce
    from orchestrator.types import DelegateKind, Role, RunStatus, SchemaIssue, ToolMode
    from orchestrator.usage import Price, RoleUsage, Usage

# Every name loads on first use (PEP 562): importing ``orchestrator.exceptions`` (as the CLI
# does before it knows which command runs) must not drag in LangGraph, pydantic or the clients.
_LAZY = {
    "SchemaIssue": "orchestrator.types",
    "ExpressionError": "orchestrator.exceptions",
    "Usage": "orchestrator.usage",
    "make_agent": "agents.agent",
    "Agent": "agents.agent",
    "BicameralError": "orchestrator.exceptions",
    "BudgetExhaustedError": "orchestrator.exceptions",
    "ConfigError": "orchestrator.exceptions",
    "DelegateKind": "orchestrator.types",
    "EnforcementAttempt": "orchestrator.events",
    "EnforcementStats": "orchestrator.schema",
    "ErrorInfo": "orchestrator.result",
    "Event": "orchestrator.events",
    "EventKind": "orchestrator.events",
    "FakeChatModel": "orchestrator.models.testing",
    "FinalEvent": "orchestrator.events",
    "FunctionChatModel": "orchestrator.models.testing",
    "InterruptEvent": "orchestrator.events",
    "Limits": "orchestrator.limits",
    "ModelCallEvent": "orchestrator.events",
    "ModelConnectionError": "orchestrator.exceptions",
    "ModelError": "orchestrator.exceptions",
    "ModelHTTPError": "orchestrator.exceptions",
    "ModelResponseError": "orchestrator.exceptions",
    "NodeEnd": "orchestrator.events",
    "NodeStart": "orchestrator.events",
    "OpenAICompatChatModel": "orchestrator.models.openai_compat",
    "Pipeline": "orchestrator.pipeline",
    "Price": "orchestrator.usage",
    "Role": "orchestrator.types",
    "RoleUsage": "orchestrator.usage",
    "RunResult": "orchestrator.result",
    "RunStatus": "orchestrator.types",
    "SchemaDefinitionError": "orchestrator.exceptions",
    "SchemaValidationError": "orchestrator.exceptions",
    "TokenEvent": "orchestrator.events",
    "ToolArgumentError": "orchestrator.exceptions",
    "ToolCallEvent": "orchestrator.events",
    "ToolError": "orchestrator.exceptions",
    "ToolMode": "orchestrator.types",
    "WorkspaceEscapeError": "orchestrator.exceptions",
    "aenforce": "orchestrator.schema",
    "coerce": "orchestrator.schema",
    "enforce": "orchestrator.schema",
    "load_pipeline": "orchestrator.loader",
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
    "Agent",
    "BicameralError",
    "BudgetExhaustedError",
    "ConfigError",
    "DelegateKind",
    "EnforcementAttempt",
    "EnforcementStats",
    "ErrorInfo",
    "Event",
    "EventKind",
    "ExpressionError",
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
    "SchemaIssue",
    "SchemaValidationError",
    "TokenEvent",
    "ToolArgumentError",
    "ToolCallEvent",
    "ToolError",
    "ToolMode",
    "Usage",
    "WorkspaceEscapeError",
    "__version__",
    "aenforce",
    "coerce",
    "enforce",
    "load_pipeline",
    "make_agent",
]
