"""Model endpoint specs: provider, URLs, sampling, price, vLLM launch settings.

Private; import these names from :mod:`orchestrator.config.spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator

from orchestrator.config._common import (
    SpecIssue,
    SpecModel,
    StrTuple,
    resolve_path,
    resolve_referenced_file,
)
from orchestrator.models.constrained import GrammarBackend
from orchestrator.usage import Price

__all__ = ["ModelSpec", "Price", "Provider", "ServeSpec", "infer_provider"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Provider(StrEnum):
    """Where a model runs: an OpenAI-compatible server (vLLM) or embedded llama.cpp."""

    OPENAI = "openai"
    LOCAL = "local"


def infer_provider(raw: Mapping[str, Any]) -> Provider:
    """The provider a model mapping means: its ``provider``, else openai iff it has a URL."""
    given = raw.get("provider")
    if isinstance(given, str) and given in {p.value for p in Provider}:
        return Provider(given)
    return Provider.OPENAI if raw.get("base_url") or raw.get("base_urls") else Provider.LOCAL


class ServeSpec(SpecModel):
    """How ``bicameral serve`` starts vLLM for this model (ignored when it isn't used)."""

    model: str | None = None
    """Checkpoint to load (Hugging Face id or path); default: the model's ``model``."""
    host: str = "127.0.0.1"
    """Interface to bind."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Port; default: the port of the first base_url, else 8000 (planner) / 8001 (reasoner)."""
    tensor_parallel_size: int = Field(default=1, ge=1)
    """GPUs to shard the model over (--tensor-parallel-size)."""
    pipeline_parallel_size: int = Field(default=1, ge=1)
    """Pipeline stages (--pipeline-parallel-size): the number of nodes for a model larger than
    one machine (tensor_parallel_size is then the GPUs per node)."""
    distributed_executor_backend: Literal["ray", "mp"] | None = None
    """--distributed-executor-backend; ``ray`` for a model served across nodes (vLLM runs on a
    Ray cluster started with ``ray start`` on each node)."""
    max_model_len: int | None = Field(default=None, ge=1)
    """Context length (--max-model-len); default: the model's own."""
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    """Fraction of GPU memory vLLM may use (--gpu-memory-utilization)."""
    quantization: str | None = None
    """--quantization method, e.g. fp8."""
    max_num_seqs: int | None = Field(default=None, ge=1)
    """Sequences scheduled at once (--max-num-seqs); default: vLLM's."""
    kv_cache_dtype: str | None = Field(default=None, pattern=r"^(auto|fp8(_[a-z0-9]+)*)$")
    """KV cache dtype (--kv-cache-dtype): auto or fp8 (fp8_e4m3, fp8_e5m2); default: auto."""
    chat_template: str | None = None
    """--chat-template: a file (relative to the pipeline file) or inline Jinja."""
    tool_call_parser: str | None = None
    """--tool-call-parser; default llama4_pythonic for the planner, none otherwise."""
    reasoning_parser: str | None = None
    """--reasoning-parser; default deepseek_r1 for the reasoner, none otherwise."""
    extra_args: StrTuple = ()
    """More arguments appended to the command line as given."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables for the server process (e.g. CUDA_VISIBLE_DEVICES)."""

    @field_validator("chat_template")
    @classmethod
    def _resolve_template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "{{" in value or "{%" in value:
            return value
        return str(resolve_referenced_file(value, info, "chat template"))


class ModelSpec(SpecModel):
    """One model: where it runs, how it samples, what it costs."""

    provider: Provider
    """openai (any OpenAI-compatible server, e.g. vLLM) or local (embedded llama.cpp);
    default: openai when base_url is given, else local."""
    base_urls: StrTuple = Field(default=(), validation_alias=AliasChoices("base_url", "base_urls"))
    """Server base URL(s), e.g. http://127.0.0.1:8000/v1; several are replicas of one model:
    requests go to the one with the fewest in flight, and a failing one is skipped a while."""
    model: str | None = None
    """Model name the server serves (required for openai)."""
    api_key_env: str | None = Field(default=None, pattern=_ENV_NAME)
    """Name of the environment variable holding the API key (the key never goes in the file)."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature; default: the server's."""
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling; default: the server's."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Completion token cap per request."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Per-request timeout in seconds."""
    max_retries: int = Field(default=3, ge=0)
    """Retries on connection errors, 429 and 5xx."""
    max_in_flight: int | None = Field(default=None, ge=1)
    """Most requests to this model at once from one process (excess calls wait in order)."""
    replica_cooldown_s: float = Field(default=5.0, ge=0)
    """Seconds a failed replica is tried last (a server's Retry-After overrides it)."""
    deadline_s: float | None = Field(default=None, gt=0)
    """Seconds one model call may take in all (attempts, retry waits, reading a stream);
    default timeout_s x (max_retries + 1). A server that trickles bytes is cut off here."""
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Largest reply body (or whole stream) read from the server; default 64 MiB."""
    seed: int | None = None
    """Sampling seed."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields (vLLM: top_k, repetition_penalty, chat_template_kwargs, ...)."""
    grammar: GrammarBackend = GrammarBackend.VLLM
    """How the server constrains output to a schema: vllm (json_schema, cut to what xgrammar
    takes), llama_cpp (json_object with a schema: llama-cpp-python's server), json_object or
    none. A server that rejects the form is detected and the client steps down once."""
    price: Price = Price()
    """Token prices for cost accounting."""
    model_path: str | None = None
    """local: GGUF file (relative to the pipeline file); default: the bundled small model."""
    n_ctx: int | None = Field(default=None, ge=1)
    """local: context window in tokens."""
    n_threads: int | None = Field(default=None, ge=1)
    """local: CPU threads."""
    serve: ServeSpec = ServeSpec()
    """vLLM launch settings for ``bicameral serve``."""

    @model_validator(mode="before")
    @classmethod
    def _default_provider(cls, data: Any) -> Any:
        if data is None:
            return {"provider": Provider.LOCAL.value}
        if isinstance(data, Mapping) and "provider" not in data:
            return {**data, "provider": infer_provider(data).value}
        return data

    @field_validator("base_urls")
    @classmethod
    def _check_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for i, url in enumerate(urls):
            try:
                parts = urlsplit(url)
                ok = parts.scheme in ("http", "https") and bool(parts.hostname)
                _ = parts.port
            except ValueError:
                ok = False
            if not ok:
                raise SpecIssue(
                    f"base_url {url!r} is not an http(s) URL such as http://127.0.0.1:8000/v1",
                    loc=(i,),
                )
        return tuple(url.rstrip("/") for url in urls)

    @field_validator("model_path")
    @classmethod
    def _check_model_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = resolve_path(value, info)
        if not path.is_file():
            raise SpecIssue(f"model file {value!r} not found (looked for {path})")
        return str(path)

    @model_validator(mode="after")
    def _check_provider_fields(self) -> ModelSpec:
        if self.provider is Provider.OPENAI:
            if not self.base_urls:
                raise SpecIssue(
                    "provider 'openai' needs base_url, e.g. http://127.0.0.1:8000/v1",
                    loc=("provider",) if "provider" in self.model_fields_set else (),
                )
            if not self.model:
                raise SpecIssue("provider 'openai' needs `model`, the name the server serves")
            for name in ("model_path", "n_ctx", "n_threads"):
                if name in self.model_fields_set:
                    raise SpecIssue(
                        f"{name} applies only to provider 'local'", loc=(name,), at_key=True
                    )
        elif self.base_urls:
            raise SpecIssue(
                "base_url applies only to provider 'openai'", loc=("base_url",), at_key=True
            )
        return self
