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
from orchestrator.loader import load_pipeline
from orchestrator.models.openai_compat import OpenAICompatChatModel
from orchestrator.models.testing import FakeChatModel, FunctionChatModel
from orchestrator.pipeline import Pipeline
from orchestrator.result import ErrorInfo, RunResult
from orchestrator.schema import EnforcementStats, coerce, enforce, aenforce
from orchestrator.types import DelegateKind, Role, RunStatus, ToolMode
from orchestrator.usage import Price, RoleUsage

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
