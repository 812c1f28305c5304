"""The public surface is deliberate: every exported name resolves, nothing else leaks."""

from __future__ import annotations

import orchestrator

EXPECTED = {
    "Agent",
    "ExpressionError",
    "SchemaIssue",
    "Usage",
    "make_agent",
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
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(orchestrator.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in orchestrator.__all__:
        assert getattr(orchestrator, name) is not None, name
