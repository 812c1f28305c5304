"""The ``telemetry:`` section: OpenTelemetry traces of runs, sent over OTLP/HTTP.

Private; import these names from :mod:`orchestrator.config.spec`.
"""

from __future__ import annotations

import os

from pydantic import Field

from orchestrator.config._common import SpecModel

__all__ = ["TelemetrySpec"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class TelemetrySpec(SpecModel):
    """Where traces go and what they contain (extra ``otel``)::

    telemetry:
      endpoint: http://127.0.0.1:4318          # OTLP/HTTP (Jaeger, Tempo, Langfuse, Phoenix)
      headers_env: {Authorization: OTLP_AUTH}  # header values read from the environment
      service_name: bicameral
      capture_content: false
    """

    enabled: bool = True
    """Set false to turn tracing off even when ``OTEL_EXPORTER_OTLP_*`` variables are set."""
    endpoint: str | None = None
    """OTLP/HTTP endpoint: a base URL (``/v1/traces`` is appended) or the full traces URL;
    default: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    headers_env: dict[str, str] = Field(default_factory=dict)
    """HTTP headers by name, each the name of an environment variable holding the value (values
    never go in the file)."""
    service_name: str = "bicameral"
    """``service.name`` of the traces."""
    capture_content: bool = False
    """Record prompt and completion text on spans (off: only sizes, tokens and names)."""
    provider_names: dict[str, str] = Field(default_factory=dict)
    """``gen_ai.provider.name`` per role; default ``vllm`` for servers, ``llama.cpp`` for the
    embedded model."""
    timeout_s: float = Field(default=3.0, gt=0)
    """Per-export timeout: a collector that is down costs at most this, once."""

    def headers(self) -> dict[str, str]:
        """The header values from the environment (unset variables are skipped)."""
        return {k: os.environ[v] for k, v in self.headers_env.items() if os.environ.get(v)}
