"""An OTLP/HTTP tracer provider that never holds a run up and warns once when the collector
is unreachable (instead of a log line per failed batch)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from orchestrator.telemetry.settings import TelemetrySettings, _traces_url

__all__ = ["otlp_provider"]


class _WarnOnce(SpanExporter):
    """Wraps an exporter: a failed export prints one warning line, once per process."""

    def __init__(self, inner: SpanExporter, endpoint: str) -> None:
        self._inner = inner
        self._endpoint = endpoint
        self._warned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:  # an exporter must never take the run down
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS and not self._warned:
            self._warned = True
            print(
                f"warning: could not export traces to {self._endpoint} (is the collector up?)",
                file=sys.stderr,
            )
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def otlp_provider(settings: TelemetrySettings) -> TracerProvider:
    """A provider exporting in the background to ``settings.endpoint`` over OTLP/HTTP."""
    assert settings.endpoint is not None
    endpoint = _traces_url(settings.endpoint)
    # The exporter logs (and retries) every failed batch; _WarnOnce says it once instead.
    logging.getLogger("opentelemetry.exporter.otlp.proto.http").setLevel(logging.CRITICAL)
    logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter").setLevel(
        logging.CRITICAL
    )
    exporter = OTLPSpanExporter(
        endpoint=endpoint,
        headers=dict(settings.headers) or None,
        timeout=settings.timeout_s,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(
        BatchSpanProcessor(_WarnOnce(exporter, endpoint), export_timeout_millis=5000)
    )
    return provider
