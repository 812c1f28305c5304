"""The client over httpx.MockTransport: requests it sends, retries, failover, errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from orchestrator.exceptions import (
    ConfigError,
    ModelConnectionError,
    ModelHTTPError,
    ModelResponseError,
)
from orchestrator.models._retry import retry_after as _retry_after
from orchestrator.models.openai_compat import OpenAICompatChatModel, RetryPolicy

Handler = Callable[[httpx.Request], httpx.Response]


def reply(content: str = "ok", **message: Any) -> httpx.Response:
    body = {
        "id": "chatcmpl-1",
        "model": "smol",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    return httpx.Response(200, json=body)


class Recorder:
    """A MockTransport handler that plays scripted outcomes and records requests."""

    def __init__(self, *outcomes: httpx.Response | Exception) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else reply()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_model(
    handler: Handler, sleeps: Sleeps | None = None, max_retries: int = 2, **fields: Any
) -> OpenAICompatChatModel:
    sleeps = sleeps or Sleeps()
    policy = RetryPolicy(
        max_retries=max_retries,
        backoff_base=0.0,
        sleep=sleeps.sleep,
        asleep=sleeps.asleep,
    )
    fields.setdefault("base_urls", ["http://a.test/v1"])
    return OpenAICompatChatModel(
        model="smol", retry_policy=policy, transport=httpx.MockTransport(handler), **fields
    )


Invoke = Callable[[OpenAICompatChatModel, Any], Awaitable[AIMessage]]


async def sync_invoke(model: OpenAICompatChatModel, prompt: Any, **kw: Any) -> AIMessage:
    return model.invoke(prompt, **kw)


async def async_invoke(model: OpenAICompatChatModel, prompt: Any, **kw: Any) -> AIMessage:
    return await model.ainvoke(prompt, **kw)


both = pytest.mark.parametrize("call", [sync_invoke, async_invoke], ids=["sync", "async"])


# --- the request ------------------------------------------------------------------------------


def test_request_body_carries_params_extras_and_call_options() -> None:
    rec = Recorder()
    model = make_model(
        rec,
        temperature=0.2,
        max_tokens=64,
        extra_body={"top_k": 20, "chat_template_kwargs": {"enable_thinking": False}},
    )
    schema = {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}}
    model.invoke(
        "hi",
        stop=["\n\n"],
        response_format=schema,
        extra_body={"repetition_penalty": 1.1},
        structured_outputs={"json": {"type": "object"}},
        seed=7,
    )
    [body] = rec.bodies
    assert body == {
        "model": "smol",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "max_tokens": 64,
        "top_k": 20,
        "chat_template_kwargs": {"enable_thinking": False},
        "repetition_penalty": 1.1,
        "response_format": schema,
        "structured_outputs": {"json": {"type": "object"}},
        "seed": 7,
        "stop": ["\n\n"],
    }
    assert rec.requests[0].url == "http://a.test/v1/chat/completions"
    assert rec.requests[0].headers["content-type"] == "application/json"
    assert "authorization" not in rec.requests[0].headers


def test_guided_json_is_never_sent() -> None:
    rec = Recorder()
    make_model(rec).invoke("hi", guided_json={"type": "object"})
    [body] = rec.bodies
    assert "guided_json" not in body
    assert body["structured_outputs"] == {"json": {"type": "object"}}


def get_weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_bind_tools_sends_strict_tools_and_tool_choice(choice: str, wire: Any) -> None:
    rec = Recorder()
    make_model(rec).bind_tools([get_weather], tool_choice=choice).invoke("weather?")
    [body] = rec.bodies
    assert body["tool_choice"] == wire
    [tool] = body["tools"]
    assert tool["function"]["strict"] is True
    assert tool["function"]["parameters"]["additionalProperties"] is False
    assert "strict" not in body


def test_bind_tools_strict_can_be_turned_off() -> None:
    rec = Recorder()
    make_model(rec, strict_tools=False).bind_tools([get_weather]).invoke("weather?")
    make_model(rec).bind_tools([get_weather], strict=False).invoke("weather?")
    for body in rec.bodies:
        assert "strict" not in body["tools"][0]["function"]
        assert "tool_choice" not in body


def test_named_tool_choice_must_be_offered() -> None:
    with pytest.raises(ValueError, match="not among the tools"):
        make_model(Recorder()).bind_tools([get_weather], tool_choice="get_time")


def test_requests_are_byte_identical_prefixes_across_steps() -> None:
    """Step N+1 re-sends step N's conversation byte for byte (vLLM prefix caching)."""
    rec = Recorder()
    model = make_model(rec).bind_tools([get_weather], tool_choice="auto")
    history: list[Any] = [HumanMessage("weather in Paris and Rome?")]
    call = {"name": "get_weather", "args": {"city": "Paris", "unit": "C"}, "id": "c1"}
    model.invoke(history)
    history += [AIMessage("", tool_calls=[call]), ToolMessage("sunny", tool_call_id="c1")]
    model.invoke(history)
    reordered = {**call, "args": {"unit": "C", "city": "Paris"}}
    history[1] = AIMessage("", tool_calls=[reordered])
    model.invoke(history)
    first, second, third = (r.content for r in rec.requests)
    assert second == third
    prefix = first.split(b'"messages":[')[1].split(b"]")[0]
    assert second.split(b'"messages":[')[1].startswith(prefix)
    assert b'"tools":[' in first and first.split(b'"tools":')[1] == second.split(b'"tools":')[1]


def test_per_call_timeout_and_default_timeout() -> None:
    rec = Recorder()
    model = make_model(rec, timeout=9.0)
    model.invoke("a")
    model.invoke("b", timeout=2.5)
    make_model(rec, timeout=120).invoke("c")
    timeouts = [r.extensions["timeout"] for r in rec.requests]
    assert timeouts[0] == {"connect": 9.0, "read": 9.0, "write": 9.0, "pool": 9.0}
    assert timeouts[1] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert timeouts[2] == {"connect": 10.0, "read": 120, "write": 120, "pool": 120}
    assert "timeout" not in rec.bodies[1]


def test_api_key_comes_from_the_named_env_var_and_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BICAMERAL_TEST_KEY", "sk-secret-123")
    rec = Recorder()
    model = make_model(rec, api_key_env="BICAMERAL_TEST_KEY")
    model.invoke("hi")
    assert rec.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    for text in (repr(model), str(model.model_dump()), json.dumps(model.model_dump(mode="json"))):
        assert "sk-secret-123" not in text


def test_missing_api_key_env_var_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BICAMERAL_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="BICAMERAL_TEST_KEY"):
        make_model(Recorder(), api_key_env="BICAMERAL_TEST_KEY").invoke("hi")


def test_base_urls_accepts_one_string_and_refuses_none() -> None:
    model = OpenAICompatChatModel(base_urls="http://h/v1", model="m")  # type: ignore[arg-type]
    assert model.base_urls == ["http://h/v1"]
    with pytest.raises(ValueError, match="at least one"):
        OpenAICompatChatModel(base_urls=[], model="m")
    assert OpenAICompatChatModel.supports_response_format is True


# --- retries, failover, errors -------------------------------------------------------------


@both
async def test_5xx_then_success_retries(call: Invoke) -> None:
    sleeps = Sleeps()
    rec = Recorder(httpx.Response(500), httpx.Response(503), reply("fine"))
    msg = await call(make_model(rec, sleeps), "hi")
    assert msg.content == "fine"
    assert len(rec.requests) == 3
    assert sleeps.delays == [0.0, 0.0]


@both
async def test_429_retry_after_is_honoured(call: Invoke) -> None:
    sleeps = Sleeps()
    limited = httpx.Response(429, headers={"retry-after": "7"}, json={"error": "slow down"})
    rec = Recorder(limited, httpx.Response(408), reply("fine"))
    assert (await call(make_model(rec, sleeps), "hi")).content == "fine"
    assert sleeps.delays == [7.0, 0.0]


@both
async def test_connect_and_read_errors_are_retried(call: Invoke) -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.ReadError("reset"), reply("fine"))
    assert (await call(make_model(rec), "hi")).content == "fine"


@both
@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_fail_at_once(call: Invoke, status: int) -> None:
    body = {"object": "error", "message": "max_tokens is too large", "code": status}
    rec = Recorder(httpx.Response(status, json=body))
    with pytest.raises(ModelHTTPError) as err:
        await call(make_model(rec), "hi")
    assert err.value.status == status
    assert "max_tokens is too large" in str(err.value)
    assert "http://a.test/v1" in str(err.value)
    assert len(rec.requests) == 1


@both
async def test_5xx_after_all_retries_is_an_http_error(call: Invoke) -> None:
    rec = Recorder(*[httpx.Response(502, text="bad gateway")] * 5)
    with pytest.raises(ModelHTTPError, match="after 3 attempt") as err:
        await call(make_model(rec, max_retries=2), "hi")
    assert err.value.status == 502
    assert "bad gateway" in str(err.value)


@both
async def test_unreachable_names_url_and_last_cause(call: Invoke) -> None:
    rec = Recorder(*[httpx.ConnectError("Connection refused")] * 10)
    with pytest.raises(ModelConnectionError) as err:
        await call(make_model(rec, max_retries=1), "hi")
    message = str(err.value)
    assert "http://a.test/v1" in message
    assert "ConnectError: Connection refused" in message
    assert "2 attempt" in message
    assert err.value.url == "http://a.test/v1"


@both
async def test_timeouts_are_retried_then_reported(call: Invoke) -> None:
    rec = Recorder(*[httpx.ReadTimeout("timed out")] * 3)
    with pytest.raises(ModelConnectionError, match="ReadTimeout"):
        await call(make_model(rec, max_retries=2), "hi")
    assert len(rec.requests) == 3


@both
async def test_failover_tries_base_urls_in_order(call: Invoke) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "a.test":
            raise httpx.ConnectError("down")
        return reply("from b")

    model = make_model(handler, base_urls=["http://a.test/v1", "http://b.test/v1/"])
    msg = await call(model, "hi")
    assert msg.content == "from b"
    assert msg.response_metadata["base_url"] == "http://b.test/v1"


@both
async def test_garbage_body_is_a_response_error(call: Invoke) -> None:
    rec = Recorder(httpx.Response(200, text="<html>proxy error</html>"))
    with pytest.raises(ModelResponseError) as err:
        await call(make_model(rec), "hi")
    assert err.value.excerpt == "<html>proxy error</html>"
    assert len(rec.requests) == 1


@both
async def test_reply_parts_reach_the_message(call: Invoke) -> None:
    tool_call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    rec = Recorder(reply("<think>hm</think>42", tool_calls=[tool_call]))
    msg = await call(make_model(rec), "hi")
    assert msg.content == "42"
    assert msg.additional_kwargs == {"reasoning": "hm"}
    assert msg.tool_calls[0]["name"] == "f"
    assert msg.usage_metadata == {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
    assert msg.response_metadata["latency_s"] >= 0


# --- the policy -------------------------------------------------------------------------------


def test_backoff_grows_caps_and_jitters() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0, jitter=0.5, random=lambda: 1.0)
    assert [policy.delay(n, None) for n in range(5)] == [0.25, 0.5, 1.0, 1.5, 1.5]
    steady = RetryPolicy(backoff_base=0.5, backoff_max=3.0, jitter=0.5, random=lambda: 0.0)
    assert [steady.delay(n, None) for n in range(4)] == [0.5, 1.0, 2.0, 3.0]
    assert steady.delay(0, 120.0) == 60.0
    assert steady.delay(0, 2.0) == 2.0


def test_retryable_statuses() -> None:
    policy = RetryPolicy()
    assert [
        s for s in (400, 401, 404, 408, 409, 422, 429, 500, 502, 599) if policy.retryable(s)
    ] == [
        408,
        429,
        500,
        502,
        599,
    ]


def test_retry_after_parsing() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert _retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert 25 < (_retry_after(httpx.Headers({"retry-after": later})) or 0) <= 30
    assert _retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert _retry_after(httpx.Headers({})) is None


def test_the_suite_refuses_real_network() -> None:
    policy = RetryPolicy(max_retries=0)
    model = OpenAICompatChatModel(
        base_urls=["http://192.0.2.1:8000/v1"], model="m", retry_policy=policy
    )
    with pytest.raises(ModelConnectionError, match="tests may not use the network"):
        model.invoke("hi")


def test_invocation_and_tracing_params_match_langchain() -> None:
    model = make_model(Recorder(), temperature=0.3, max_tokens=9)
    ours = model._get_invocation_params(stop=["x"], tools=[])
    assert ours == BaseChatModel._get_invocation_params(model, stop=["x"], tools=[])
    assert model._get_ls_params(stop=["x"], temperature=0.5) == {
        "ls_provider": "openai_compat",
        "ls_model_name": "smol",
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 9,
        "ls_stop": ["x"],
    }


@pytest.mark.asyncio
async def test_async_calls_share_one_aiohttp_pool_per_loop() -> None:
    """httpcore's pool slows down quadratically with concurrency (encode/httpcore#1035);
    without an injected transport, async calls go through aiohttp's pool, one per loop."""
    from orchestrator.models._aiohttp_transport import AiohttpTransport
    from orchestrator.models._endpoint import Endpoint, RetryPolicy

    endpoint = Endpoint(["http://127.0.0.1:9/v1"], policy=RetryPolicy(), headers={}, timeout=1.0)
    clients = {id(await endpoint._async_client()) for _ in range(4)}
    assert len(clients) == 1
    client = await endpoint._async_client()
    assert isinstance(client._transport, AiohttpTransport)
    await endpoint.aclose()
    assert client.is_closed
