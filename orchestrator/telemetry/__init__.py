"""OpenTelemetry traces of runs: one trace per run, spans for nodes, model calls, tool calls
and schema-enforcement attempts, with GenAI semantic-convention attributes.

Optional (extra ``otel``). When a pipeline has no tracing, every hook below is a look-up of a
context variable that finds nothing: no OpenTelemetry import, no allocation. Turn it on with
a ``telemetry:`` section in the pipeline file, ``--otlp-endpoint``, the standard
``OTEL_EXPORTER_OTLP_*`` variables, or from Python::

    >>> from opentelemetry.sdk.trace import TracerProvider  # doctest: +SKIP
    >>> Pipeline(planner=model, tracer_provider=TracerProvider())  # doctest: +SKIP

The hooks are called where the work happens (``instrumented`` nodes, ``invoke_role``, the
enforcement loop, ``run_tool_call``, ``Pipeline``); spans nest through ``contextvars``, so
parallel ``delegate`` subtasks appear side by side under the run.
"""

from orchestrator.telemetry._hooks import (
    attempt_rejected,
    enforcement_attempt,
    model_call,
    model_call_failed,
    node,
    role,
    run,
    tool_call,
)
from orchestrator.telemetry.settings import TelemetrySettings, Tracing, tracing_for

__all__ = [
    "TelemetrySettings",
    "Tracing",
    "attempt_rejected",
    "enforcement_attempt",
    "model_call",
    "model_call_failed",
    "node",
    "role",
    "run",
    "tool_call",
    "tracing_for",
]
