"""Chat models for tests: scripted replies, or a function that decides.

Shipped with the package so that users can test their own pipelines without a model server
(the idea of pydantic-ai's ``TestModel`` and ``FunctionModel``). Both are ordinary langchain
chat models: ``invoke``/``ainvoke``/``stream``/``astream``, ``bind_tools`` and callbacks work.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> model = FakeChatModel(["Hello!", AIMessage(content="", tool_calls=[
    ...     {"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1"}])])
    >>> model.invoke("hi").content
    'Hello!'
    >>> model.invoke("add 1 and 2").tool_calls[0]["args"]
    {'a': 1, 'b': 2}
    >>> len(model.requests)
    2
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import threading
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr, field_validator

from orchestrator.exceptions import ModelError

__all__ = ["FakeChatModel", "FunctionChatModel"]

Reply = AIMessage | str
ReplyFn = Callable[[list[BaseMessage], dict[str, Any]], Reply | Awaitable[Reply]]

_PIECES = re.compile(r"\S+\s*|\s+")


def _words(text: str) -> int:
    return len(text.split())


def _finish(message: Reply, messages: list[BaseMessage], model_name: str) -> AIMessage:
    """A copy of the reply with usage (word counts) and metadata filled in where missing."""
    reply = AIMessage(content=message) if isinstance(message, str) else message.model_copy()
    if reply.usage_metadata is None:
        reasoning = reply.additional_kwargs.get("reasoning")
        prompt = sum(_words(m.text) for m in messages)
        completion = _words(reply.text) + (_words(reasoning) if isinstance(reasoning, str) else 0)
        reply.usage_metadata = UsageMetadata(
            input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
        )
    metadata = {
        "model_name": model_name,
        "finish_reason": "tool_calls" if reply.tool_calls else "stop",
        "latency_s": 0.0,
        **reply.response_metadata,
    }
    reply.response_metadata = metadata
    return reply


def _chunks(message: AIMessage) -> Iterator[ChatGenerationChunk]:
    """The reply as a stream: one chunk per word, then a last chunk with calls and usage."""
    if isinstance(message.content, str):
        for piece in _PIECES.findall(message.content):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))
        content: Any = ""
    else:
        content = message.content
    calls = [
        tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
        for i, c in enumerate(message.tool_calls)
    ]
    last = AIMessageChunk(
        content=content,
        additional_kwargs=dict(message.additional_kwargs),
        tool_call_chunks=calls,
        usage_metadata=message.usage_metadata,
        response_metadata=dict(message.response_metadata),
        id=message.id,
        chunk_position="last",
    )
    yield ChatGenerationChunk(message=last)


class _ScriptedChatModel(BaseChatModel):
    """What both test models share: request recording, tool binding, streaming."""

    __test__: ClassVar[bool] = False

    model_name: str = "fake"
    supports_response_format: bool = False
    requests: list[tuple[list[BaseMessage], dict[str, Any]]] = Field(
        default_factory=list, exclude=True
    )
    bound_tools: list[dict[str, Any]] = Field(default_factory=list, exclude=True)

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "fake-chat-model"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tools (as OpenAI dicts, in ``bound_tools``) and bind them."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        self.bound_tools = formatted
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _record(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        options = {**kwargs, **({"stop": stop} if stop else {})}
        with self._lock:
            self.requests.append((list(messages), options))
        return options

    @abstractmethod
    def _reply(self, messages: list[BaseMessage], options: dict[str, Any]) -> Reply:
        """The reply to ``messages`` (subclasses: scripted, or computed by a function)."""

    async def _areply(self, messages: list[BaseMessage], options: dict[str, Any]) -> Reply:
        return self._reply(messages, options)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply(messages, self._record(messages, stop, kwargs))
        message = _finish(reply, messages, self.model_name)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = await self._areply(messages, self._record(messages, stop, kwargs))
        message = _finish(reply, messages, self.model_name)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages, self._record(messages, stop, kwargs))
        yield from _chunks(_finish(reply, messages, self.model_name))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply = await self._areply(messages, self._record(messages, stop, kwargs))
        for chunk in _chunks(_finish(reply, messages, self.model_name)):
            yield chunk


class FakeChatModel(_ScriptedChatModel):
    """Replies with scripted responses, in order; records every request.

    Each response is an ``AIMessage`` (returned as is, plus word-count usage when it has
    none), a string (the reply's content), or an exception (raised). When the script runs
    out, the call raises :class:`~orchestrator.exceptions.ModelError`.

    Attributes:
        responses: the script.
        requests: ``(messages, options)`` of every call, in order; options hold the bound
            and call kwargs (``tools``, ``tool_choice``, ``response_format``, ``stop``...).
        bound_tools: the tools of the last ``bind_tools`` call, as OpenAI dicts.
        supports_response_format: what ``schema.enforce`` checks before passing
            ``response_format`` (False by default, settable).

    Example:
        >>> FakeChatModel(responses=["4"]).invoke("2 + 2?").content
        '4'
    """

    responses: list[Any] = Field(default_factory=list)

    _position: int = PrivateAttr(default=0)

    def __init__(self, responses: Sequence[Reply | BaseException] | None = None, /, **data: Any):
        if responses is not None:
            data["responses"] = list(responses)
        super().__init__(**data)

    @field_validator("responses")
    @classmethod
    def _known_kinds(cls, value: list[Any]) -> list[Any]:
        for item in value:
            if not isinstance(item, AIMessage | str | BaseException):
                raise TypeError(
                    f"a scripted response must be AIMessage, str or exception: {item!r}"
                )
        return value

    @property
    def remaining(self) -> int:
        """How many scripted responses are left."""
        return len(self.responses) - self._position

    def _reply(self, messages: list[BaseMessage], options: dict[str, Any]) -> Reply:
        with self._lock:
            position = self._position
            self._position += 1
        try:
            item = self.responses[position]
        except IndexError:
            raise ModelError(
                f"FakeChatModel has no scripted response left ({len(self.responses)} used)"
            ) from None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, AIMessage | str)
        return item


class FunctionChatModel(_ScriptedChatModel):
    """Replies with whatever a function returns for the messages and call options.

    ``fn(messages, options)`` returns an ``AIMessage`` or a string; it may be ``async``
    (then the sync entry points run it on a fresh event loop, outside any running one).

    Example:
        >>> echo = FunctionChatModel(lambda messages, options: messages[-1].text.upper())
        >>> echo.invoke("hello").content
        'HELLO'
    """

    fn: ReplyFn

    def __init__(self, fn: ReplyFn | None = None, /, **data: Any):
        if fn is not None:
            data["fn"] = fn
        super().__init__(**data)

    def _reply(self, messages: list[BaseMessage], options: dict[str, Any]) -> Reply:
        result = self.fn(messages, options)
        if inspect.isawaitable(result):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(_await(result))
            close = getattr(result, "close", None)
            if close is not None:
                close()
            raise ModelError("FunctionChatModel: an async fn needs ainvoke/astream here")
        return result

    async def _areply(self, messages: list[BaseMessage], options: dict[str, Any]) -> Reply:
        result = self.fn(messages, options)
        return await result if inspect.isawaitable(result) else result


async def _await(result: Awaitable[Reply]) -> Reply:
    return await result
