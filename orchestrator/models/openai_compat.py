"""A chat model for vLLM and any other OpenAI-compatible server, over raw HTTP (httpx).

The class is thin glue: :mod:`._request` builds each call's request (:mod:`._wire` turns
messages and tools into JSON, :mod:`._reply` turns replies back into ``AIMessage``);
:mod:`._sse` decodes streams; :mod:`._endpoint` owns the pooled clients (async ones on
aiohttp's pool, :mod:`._aiohttp_transport`) and :mod:`._retry` the retries and failover.
Sync and async paths share all of that and differ only in the call that does I/O.

Example:
    >>> model = OpenAICompatChatModel(
    ...     base_urls=["http://127.0.0.1:8000/v1"], model="meta-llama/Llama-4-Scout"
    ... )
    >>> planner = model.bind_tools([get_weather], tool_choice="auto")  # doctest: +SKIP
    >>> reply = planner.invoke("Weather in Paris?")  # doctest: +SKIP
    >>> reply.tool_calls, reply.additional_kwargs.get("reasoning")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, ClassVar

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.outputs.chat_generation import merge_chat_generation_chunks
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import Field, PrivateAttr, field_validator

from orchestrator.exceptions import ConfigError, ModelError
from orchestrator.models._bounded_io import BoundedLines
from orchestrator.models._endpoint import DEFAULT_MAX_RESPONSE_BYTES, Endpoint, RetryPolicy
from orchestrator.models._grammar_fallback import GrammarState
from orchestrator.models._request import Request, build_request
from orchestrator.models._sse import StreamDecoder
from orchestrator.models._wire import encode_tool_choice, encode_tools, tool_names
from orchestrator.models.constrained import GrammarBackend

__all__ = ["OpenAICompatChatModel", "RetryPolicy"]

_PATH = "/chat/completions"
_OFF_LOOP_BYTES = 64 * 1024  # replies larger than this are decoded in a worker thread


class OpenAICompatChatModel(BaseChatModel):
    """vLLM (or any OpenAI-compatible server) as a langchain chat model.

    Handles what vLLM really returns: native tool calls and calls left in ``content``
    (recovered for the offered tools), reasoning in ``reasoning`` / ``reasoning_content`` or
    inline ``<think>`` (always moved to ``additional_kwargs["reasoning"]``), usage with
    reasoning tokens, and streamed tool-call deltas. Failures retry with backoff and move
    across ``base_urls``; what cannot be cured raises a
    :class:`~orchestrator.exceptions.ModelError`.

    Attributes:
        base_urls: base URLs ending in ``/v1``: replicas of one model, least-loaded first.
        model: the served model name.
        api_key_env: name of the environment variable holding the API key (the key itself is
            never stored on the model, logged, or checkpointed).
        temperature: sampling temperature (server default when None).
        top_p: nucleus sampling (server default when None).
        max_tokens: completion token limit (server default when None).
        timeout: per-request timeout in seconds; a call may pass ``timeout=``.
        max_retries: extra rounds over ``base_urls`` after the first one fails.
        backoff_base: first retry delay in seconds (doubles each round).
        backoff_max: longest retry delay in seconds.
        retry_policy: a full :class:`RetryPolicy`, overriding the three fields above.
        extra_body: extra request fields (vLLM: ``top_k``, ``repetition_penalty``,
            ``chat_template_kwargs``, ``structured_outputs``...).
        strict_tools: send tools with ``"strict": true`` and closed object schemas.
        think_prefilled: the chat template opens ``<think>`` in the prompt and the server
            runs no reasoning parser, so replies start inside reasoning.
        max_connections: connection pool size per client.
        max_in_flight: at most this many requests to this model at once from this process,
            however many runs and parallel calls share it; excess calls wait in order
            (``None``: no bound).
        replica_cooldown_s: how long a replica that failed (connection error, 5xx, 429) is
            tried last; a ``Retry-After`` header sets it for that reply.
        max_response_bytes: largest reply body (or whole stream) read; a larger one raises
            :class:`~orchestrator.exceptions.ModelResponseError` (a hostile or broken server
            cannot make the client hold gigabytes).
        deadline: seconds one call may take in all (attempts, retry waits and reads);
            default ``timeout * (max_retries + 1)``. Per-read timeouts alone let a server
            that trickles bytes (or streams forever) hold a call open indefinitely.
        grammar_backend: how the server constrains decoding (``vllm``: JSON Schema cut to
            what xgrammar implements; ``llama_cpp``: ``json_object`` with a schema cut to
            what llama.cpp's grammar converter implements; ``json_object``; ``none``). A
            deterministic rejection of the format falls back one step, once per client, and
            is recorded in ``response_metadata["grammar_fallback"]``.
        transport: an httpx transport to use instead of the network (tests).

    Example:
        >>> m = OpenAICompatChatModel(base_urls="http://127.0.0.1:8000/v1", model="smol")
        >>> m.base_urls
        ['http://127.0.0.1:8000/v1']
    """

    base_urls: list[str]
    model: str
    api_key_env: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    timeout: float = 120.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    strict_tools: bool = True
    think_prefilled: bool = False
    max_connections: int = 100
    max_in_flight: int | None = Field(default=None, ge=1)
    replica_cooldown_s: float = Field(default=5.0, ge=0)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    deadline: float | None = None
    grammar_backend: GrammarBackend = GrammarBackend.VLLM
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = Field(
        default=None, exclude=True
    )

    supports_response_format: ClassVar[bool] = True

    _endpoint: Endpoint | None = PrivateAttr(default=None)
    _endpoint_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _grammar: GrammarState | None = PrivateAttr(default=None)

    @field_validator("base_urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and not value:
            raise ValueError("base_urls needs at least one URL")
        return value

    @property
    def _llm_type(self) -> str:
        return "openai-compat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_urls": self.base_urls,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "extra_body": self.extra_body,
        }

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        # what the base class returns, without its per-call detour through the deprecated
        # ``dict()`` and a warnings filter (measurable in benchmarks/client_overhead.py)
        return {**self._identifying_params, "_type": self._llm_type, "stop": stop, **kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="openai_compat", ls_model_name=self.model, ls_model_type="chat"
        )
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, int | float):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop:
            params["ls_stop"] = stop
        return params

    # --- binding -----------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer tools to the model.

        Args:
            tools: dicts in OpenAI format, pydantic classes, functions or ``BaseTool``\\ s.
            tool_choice: ``None`` (server default), ``"auto"``, ``"none"``, ``"required"``
                (``"any"``/``True`` too), or a tool name to force that tool.
            strict: override ``strict_tools`` for these tools.
            **kwargs: other request fields to bind.

        Raises:
            ValueError: ``tool_choice`` names a tool that is not offered.
        """
        use_strict = self.strict_tools if strict is None else strict
        formatted = encode_tools(tools, strict=use_strict)
        choice = encode_tool_choice(tool_choice)
        if isinstance(choice, dict):
            forced = choice.get("function", {}).get("name")
            if forced is not None and forced not in tool_names(formatted):
                raise ValueError(f"tool_choice names {forced!r}, which is not among the tools")
        return self.bind(tools=formatted, tool_choice=tool_choice, strict=use_strict, **kwargs)

    # --- request / connection ----------------------------------------------------------------

    def _prepare(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool,
    ) -> Request:
        return build_request(
            self, messages, stop, kwargs, stream=stream, grammar=self._grammar_state()
        )

    def _grammar_state(self) -> GrammarState:
        if self._grammar is None:
            self._grammar = GrammarState(self.grammar_backend)
        return self._grammar

    def _fall_back(self, request: Request, error: ModelError) -> bool:
        """Whether ``error`` rejected the request's response format and a simpler form is
        left to try (the client then uses it from now on)."""
        return request.constrained and self._grammar_state().fall_back(error)

    def _connection(self) -> Endpoint:
        if self._endpoint is not None:
            return self._endpoint
        with self._endpoint_lock:
            if self._endpoint is None:
                policy = self.retry_policy or RetryPolicy(
                    max_retries=self.max_retries,
                    backoff_base=self.backoff_base,
                    backoff_max=self.backoff_max,
                )
                self._endpoint = Endpoint(
                    self.base_urls,
                    headers=self._auth_headers(),
                    policy=policy,
                    timeout=self.timeout,
                    transport=self.transport,
                    max_connections=self.max_connections,
                    max_in_flight=self.max_in_flight,
                    replica_cooldown_s=self.replica_cooldown_s,
                    max_response_bytes=self.max_response_bytes,
                    deadline=self.deadline,
                )
            return self._endpoint

    def _auth_headers(self) -> dict[str, str]:
        if self.api_key_env is None:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"environment variable {self.api_key_env} (api_key_env) is not set")
        return {"authorization": f"Bearer {key}"}

    def close(self) -> None:
        """Close the sync connection pool (the model reopens one if used again)."""
        if self._endpoint is not None:
            self._endpoint.close()

    async def aclose(self) -> None:
        """Close this event loop's connection pool and the sync one."""
        if self._endpoint is not None:
            await self._endpoint.aclose()

    # --- the four entry points langchain calls -------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        while True:
            request = self._prepare(messages, stop, kwargs, stream=False)
            started = time.perf_counter()
            try:
                raw, url = self._connection().post(_PATH, request.body, timeout=request.timeout)
            except ModelError as err:
                if self._fall_back(request, err):
                    continue
                raise
            return request.result(raw, url, time.perf_counter() - started)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        while True:
            request = self._prepare(messages, stop, kwargs, stream=False)
            started = time.perf_counter()
            connection = self._connection()
            try:
                raw, url = await connection.apost(_PATH, request.body, timeout=request.timeout)
            except ModelError as err:
                if self._fall_back(request, err):
                    continue
                raise
            latency = time.perf_counter() - started
            if len(raw) > _OFF_LOOP_BYTES:  # decoding (and recovering calls) off the loop
                return await asyncio.to_thread(request.result, raw, url, latency)
            return request.result(raw, url, latency)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        while True:
            request = self._prepare(messages, stop, kwargs, stream=True)
            started = time.perf_counter()
            sent = False
            connection = self._connection()
            try:
                with connection.stream(_PATH, request.body, timeout=request.timeout) as (
                    response,
                    url,
                ):
                    decoder = StreamDecoder(request.ctx, url=url, started=started)
                    lines = connection.lines(response, url)
                    try:
                        for batch in lines:
                            if chunk := _one_chunk(decoder, batch, lines):
                                sent = True
                                yield chunk
                    except httpx.TransportError as exc:
                        raise decoder.cut(exc) from exc
                    yield from decoder.finish()
                    return
            except ModelError as err:
                # a rejection comes before any token (HTTP status or the first event)
                if sent or not self._fall_back(request, err):
                    raise

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        while True:
            request = self._prepare(messages, stop, kwargs, stream=True)
            started = time.perf_counter()
            connection = self._connection()
            sent = False
            try:
                async with connection.astream(_PATH, request.body, timeout=request.timeout) as (
                    response,
                    url,
                ):
                    decoder = StreamDecoder(request.ctx, url=url, started=started)
                    lines = connection.lines(response, url)
                    try:
                        async for batch in lines:
                            if chunk := _one_chunk(decoder, batch, lines):
                                sent = True
                                yield chunk
                    except httpx.TransportError as exc:
                        raise decoder.cut(exc) from exc
                    for chunk in decoder.finish():
                        yield chunk
                    return
            except ModelError as err:
                if sent or not self._fall_back(request, err):
                    raise


def _one_chunk(
    decoder: StreamDecoder, batch: list[str], lines: BoundedLines
) -> ChatGenerationChunk | None:
    """The message chunks of the lines one network read brought, merged into one.

    LangChain keeps every chunk of a streamed reply; merging what arrived together keeps a
    server that floods tiny events from costing ~2 KB of objects per event, and each chunk
    handed on is charged to the response cap.
    """
    chunks = [chunk for line in batch for chunk in decoder.feed_line(line)]
    if not chunks:
        return None
    lines.charge()
    return chunks[0] if len(chunks) == 1 else merge_chat_generation_chunks(chunks)


# langchain-core runs inspect.signature(self._generate) on every call to see whether it takes a
# run_manager; a precomputed __signature__ turns that into an attribute lookup (a tenth of the
# client's own overhead in benchmarks/client_overhead.py).
for _entry in (OpenAICompatChatModel._generate, OpenAICompatChatModel._agenerate):
    setattr(_entry, "__signature__", inspect.signature(_entry))  # noqa: B010
