"""What tracing a pipeline does: where spans go, what they may contain, who names providers.

Nothing here imports OpenTelemetry; :func:`tracing_for` does, and only when tracing is on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.exceptions import ConfigError
from orchestrator.usage import Price

__all__ = ["TelemetrySettings", "Tracing", "settings_from_env", "tracing_for"]

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass(frozen=True)
class TelemetrySettings:
    """Tracing settings (the ``telemetry:`` section of a pipeline file, resolved).

    Attributes:
        endpoint: OTLP/HTTP endpoint, a base (``http://localhost:4318``) or the full traces
            URL (``.../v1/traces``); ``None``: no exporter of our own.
        headers: HTTP headers for the exporter (values already read from the environment;
            never logged or stored).
        service_name: ``service.name`` of the resource.
        capture_content: record prompt and completion text on spans (off by default).
        provider_names: ``gen_ai.provider.name`` per role, overriding the default
            (``vllm`` for the OpenAI-compatible client, ``llama.cpp`` for the embedded model).
        timeout_s: per-export timeout, so a down collector never holds a run up for long.
    """

    endpoint: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    service_name: str = "bicameral"
    capture_content: bool = False
    provider_names: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 3.0

    def __repr__(self) -> str:  # headers may hold tokens
        return (
            f"TelemetrySettings(endpoint={self.endpoint!r}, headers=<{len(self.headers)}>, "
            f"service_name={self.service_name!r}, capture_content={self.capture_content})"
        )


def settings_from_env(
    settings: TelemetrySettings | None, env: Mapping[str, str] | None = None
) -> TelemetrySettings | None:
    """``settings``, or settings from ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` when they give
    no endpoint. The exporter reads ``OTEL_EXPORTER_OTLP_HEADERS`` itself."""
    env = os.environ if env is None else env
    if settings is not None and settings.endpoint:
        return settings
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return settings
    for name in _ENDPOINT_VARS:
        value = env.get(name)
        if value:
            endpoint = value if name.endswith("TRACES_ENDPOINT") else _traces_url(value)
            base = settings or TelemetrySettings(
                service_name=env.get("OTEL_SERVICE_NAME", "bicameral")
            )
            return TelemetrySettings(
                endpoint=endpoint,
                headers=base.headers,
                service_name=base.service_name,
                capture_content=base.capture_content,
                provider_names=base.provider_names,
                timeout_s=base.timeout_s,
            )
    return settings


def _traces_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


@dataclass
class Tracing:
    """What the hooks need during a run: a tracer and how to label what it records.

    Built by :func:`tracing_for`; ``Pipeline`` keeps one and hands it to each run.
    """

    tracer: Any
    capture_content: bool = False
    provider_names: dict[str, str] = field(default_factory=dict)
    model_names: dict[str, str] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    provider: Any = None
    """The tracer provider when Bicameral created it (flushed at exit); ``None`` otherwise."""

    def flush(self, timeout_s: float = 5.0) -> None:
        """Export what is buffered (a provider Bicameral created; others are the caller's)."""
        if self.provider is not None:
            self.provider.force_flush(int(timeout_s * 1000))


def tracing_for(
    settings: TelemetrySettings | None = None,
    *,
    tracer_provider: Any = None,
    provider_names: Mapping[str, str] | None = None,
    model_names: Mapping[str, str] | None = None,
    prices: Mapping[str, Price] | None = None,
) -> Tracing | None:
    """A ``Tracing`` for these settings or this tracer provider; ``None`` when tracing is off.

    Raises:
        ConfigError: tracing is asked for but the ``otel`` extra is not installed.
    """
    if tracer_provider is None and (settings is None or not settings.endpoint):
        return None
    settings = settings or TelemetrySettings()
    owned = None
    try:
        if tracer_provider is None:
            from orchestrator.telemetry._export import otlp_provider

            tracer_provider = owned = otlp_provider(settings)
        from orchestrator.telemetry._spans import tracer_of
    except ImportError as exc:
        raise ConfigError(
            f"tracing needs the extra: pip install 'bicameral[otel]' ({exc.name} is missing)"
        ) from None
    names = {**dict(provider_names or {}), **dict(settings.provider_names)}
    return Tracing(
        tracer=tracer_of(tracer_provider),
        capture_content=settings.capture_content,
        provider_names=names,
        model_names=dict(model_names or {}),
        prices=dict(prices or {}),
        provider=owned,
    )
