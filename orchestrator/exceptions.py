"""The one error hierarchy of Bicameral.

Every error the framework raises on purpose derives from :class:`BicameralError`. The tree
separates *user mistakes* (bad configuration, bad arguments: fix the input) from *model and
transport faults* (a server misbehaved: retry, re-point, or resume) and from *schema faults*
(a model's output never matched its schema within budget)::

    BicameralError
    ├── ConfigError                  bad YAML, bad flag, bad model path (file:line:col: message)
    │   └── SchemaDefinitionError    a JSON Schema that is itself invalid
    ├── ModelError                   anything that went wrong talking to a model
    │   ├── ModelConnectionError     unreachable server after retries (names URL and last cause)
    │   ├── ModelHTTPError           non-retryable HTTP status (4xx), or 5xx after retries
    │   └── ModelResponseError       non-JSON / truncated body, SSE cut mid-stream
    ├── SchemaValidationError        output still invalid after repair and re-asks
    ├── ToolError                    a tool refused or failed (sent back to the model as text)
    │   ├── ToolArgumentError        arguments did not match the tool's JSON schema
    │   └── WorkspaceEscapeError     a path that leaves the run's workspace
    ├── ToolServerError              an MCP server did not start, stopped answering or died
    ├── BudgetExhaustedError         a run limit (steps, tokens, wall time, cost) was hit
    ├── ExpressionError              a graph condition or template failed at run time
    └── EvalError                    the evaluation harness could not load or judge a dataset

User-facing commands catch ``BicameralError`` and print one line; nothing here should reach a
user as a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.types import SchemaIssue

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from orchestrator.usage import Usage

__all__ = [
    "BicameralError",
    "BudgetExhaustedError",
    "ConfigError",
    "EvalError",
    "ExpressionError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelResponseError",
    "SchemaDefinitionError",
    "SchemaValidationError",
    "ToolArgumentError",
    "ToolError",
    "ToolServerError",
    "WorkspaceEscapeError",
]


class BicameralError(Exception):
    """Base class of every error Bicameral raises on purpose."""


class ConfigError(BicameralError):
    """A user mistake in configuration: YAML, CLI flags, model paths.

    ``str(err)`` is one line, ``path:line:col: message`` when a location is known.

    Example:
        >>> str(ConfigError("unknown key 'modles'", path="p.yaml", line=3, col=1))
        "p.yaml:3:1: unknown key 'modles'"
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.col = col
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        loc = self.path
        if self.line is not None:
            loc += f":{self.line}"
            if self.col is not None:
                loc += f":{self.col}"
        return f"{loc}: {self.message}"


class SchemaDefinitionError(ConfigError):
    """A JSON Schema that is itself invalid; raised when a pipeline loads, not mid-run."""


class ModelError(BicameralError):
    """Talking to a model failed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class ModelConnectionError(ModelError):
    """The server could not be reached after all retries and all base URLs."""


class ModelHTTPError(ModelError):
    """The server answered with an error status that retries did not cure."""

    def __init__(self, message: str, *, url: str | None = None, status: int = 0) -> None:
        self.status = status
        super().__init__(message, url=url)


class ModelResponseError(ModelError):
    """The server's body was not what the API promises (non-JSON, truncated, cut stream).

    ``excerpt`` holds a short piece of what was received.
    """

    def __init__(self, message: str, *, url: str | None = None, excerpt: str = "") -> None:
        self.excerpt = excerpt
        super().__init__(message, url=url)


# The old name of ``orchestrator.types.SchemaIssue`` (a value, not an exception); kept for
# code written against it, and left out of ``__all__``.
SchemaError = SchemaIssue


class SchemaValidationError(BicameralError):
    """A model output that does not match its schema, after repair and re-asks.

    Attributes:
        errors: the last validation errors, each a JSON path and a message.
        raw: the last raw output.
        tried: what was tried on the last output (e.g. ``["strict", "repair"]``).
        attempts: how many model calls were made (1 for a bare ``coerce``).
        usage: the :class:`~orchestrator.usage.Usage` summed over the attempts (``None`` when
            no model was called).
        replies: every reply the model returned, in order (so callers can account for them).
    """

    def __init__(
        self,
        message: str,
        *,
        errors: list[SchemaIssue] | None = None,
        raw: str = "",
        tried: list[str] | None = None,
        attempts: int = 1,
        usage: Usage | None = None,
        replies: list[BaseMessage] | None = None,
        tool: str | None = None,
    ) -> None:
        self.errors = list(errors or [])
        self.raw = raw
        self.tried = list(tried or [])
        self.attempts = attempts
        self.usage = usage
        self.replies = list(replies or [])
        self.tool = tool
        super().__init__(message)

    def describe(self) -> str:
        """The message plus every error on its own line (what a re-ask sends back)."""
        lines = [str(self)]
        lines.extend(f"- {e}" for e in self.errors)
        return "\n".join(lines)


class ToolError(BicameralError):
    """A tool refused its input or failed; the text goes back to the model."""

    def __init__(self, message: str, *, tool: str | None = None, details: Any = None) -> None:
        self.tool = tool
        self.details = details
        super().__init__(message)


class ToolArgumentError(ToolError):
    """Arguments that do not match the tool's JSON schema."""


class WorkspaceEscapeError(ToolError):
    """A path that would leave the run's workspace."""


class ToolServerError(BicameralError):
    """An external tool server (an MCP server) could not start, stopped answering or died.

    Unlike a :class:`ToolError` this is not the model's to handle: the run ends ``failed``
    (its checkpoint kept, so it can be resumed once the server is back).
    """

    def __init__(self, message: str, *, server: str) -> None:
        self.server = server
        super().__init__(message)


class BudgetExhaustedError(BicameralError):
    """A limit (steps, tokens, wall time, cost) was reached."""

    def __init__(self, message: str, *, limit: str) -> None:
        self.limit = limit
        super().__init__(message)


class ExpressionError(BicameralError):
    """A graph condition or template could not be evaluated on a run's state (a missing
    name, an operation on the wrong types). Compile-time mistakes are ``ConfigError``."""


class EvalError(BicameralError):
    """The evaluation harness could not load a dataset or judge an item."""
