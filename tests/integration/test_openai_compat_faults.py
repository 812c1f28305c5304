"""The client against a misbehaving server over real sockets: retries and clear errors."""

from __future__ import annotations

import socket

import pytest

from orchestrator.exceptions import ModelConnectionError, ModelHTTPError, ModelResponseError
from tests.fake_openai_server import (
    ChatReply,
    ErrorReply,
    FakeOpenAIServer,
    Fault,
    SSEReply,
)
from tests.integration.conftest import ModelFactory, RecordingSleep
from tests.integration.test_openai_compat_server import MODES, call


def dead_url() -> str:
    """A loopback URL where nothing listens (the port was just freed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("mode", MODES)
async def test_500_then_success(
    server: FakeOpenAIServer, make_model: ModelFactory, waits: RecordingSleep, mode: str
) -> None:
    server.enqueue(ErrorReply(500), ErrorReply(502, "Bad Gateway"), ChatReply("recovered"))
    message = await call(make_model(), mode)
    assert message.content == "recovered"
    assert len(server.chat_requests) == 3
    assert waits.delays == [0.0, 0.0]


@pytest.mark.parametrize("mode", MODES)
async def test_429_with_retry_after_then_success(
    server: FakeOpenAIServer, make_model: ModelFactory, waits: RecordingSleep, mode: str
) -> None:
    server.enqueue(ErrorReply(429, "rate limited", retry_after="3"), ChatReply("ok"))
    assert (await call(make_model(), mode)).content == "ok"
    assert waits.delays == [3.0]


@pytest.mark.parametrize("mode", MODES)
async def test_connection_reset_before_reply_is_retried(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(Fault("reset"), ChatReply("ok"))
    assert (await call(make_model(), mode)).content == "ok"


@pytest.mark.parametrize("mode", MODES)
async def test_400_is_not_retried(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(ErrorReply(400, "This model's maximum context length is 2048 tokens"))
    with pytest.raises(ModelHTTPError) as err:
        await call(make_model(), mode)
    assert err.value.status == 400
    assert "maximum context length is 2048" in str(err.value)
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_5xx_until_the_budget_is_spent(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(*[ErrorReply(503, "overloaded")] * 3)
    with pytest.raises(ModelHTTPError, match="overloaded") as err:
        await call(make_model(max_retries=2), mode)
    assert err.value.status == 503


@pytest.mark.parametrize("mode", MODES)
async def test_unreachable_server(make_model: ModelFactory, mode: str) -> None:
    url = dead_url()
    with pytest.raises(ModelConnectionError) as err:
        await call(make_model(base_urls=[url], max_retries=1), mode)
    assert url in str(err.value)
    assert "ConnectError" in str(err.value)


@pytest.mark.parametrize("mode", MODES)
async def test_failover_to_the_next_base_url(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(ChatReply("from the second"))
    message = await call(make_model(base_urls=[dead_url(), server.base_url], max_retries=0), mode)
    assert message.content == "from the second"
    assert message.response_metadata["base_url"] == server.base_url


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
@pytest.mark.parametrize("kind", ["garbage", "truncated_body"])
async def test_bad_bodies_are_response_errors(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str, kind: str
) -> None:
    server.enqueue(Fault(kind))  # type: ignore[arg-type]
    with pytest.raises(ModelResponseError) as err:
        await call(make_model(), mode)
    expected = "502 Bad Gateway" if kind == "garbage" else '"object": "chat.completion"'
    assert expected in err.value.excerpt
    assert len(err.value.excerpt) <= 200
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("kind", ["reset_mid_stream", "cut_mid_stream"])
async def test_stream_broken_mid_way(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str, kind: str
) -> None:
    server.enqueue(Fault(kind, after=3))  # type: ignore[arg-type]
    with pytest.raises(ModelResponseError, match="cut mid-stream"):
        await call(make_model(), mode)


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_truncated_sse_without_done_or_finish(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    events = ChatReply("never finished").render_events({"model": "smol"})[:3]
    server.enqueue(SSEReply(events, done=False))
    with pytest.raises(ModelResponseError, match="ended before") as err:
        await call(make_model(), mode)
    assert "chat.completion.chunk" in err.value.excerpt


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_garbage_in_a_stream(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    server.enqueue(SSEReply(["<html>oops</html>"]))
    with pytest.raises(ModelResponseError, match="not JSON") as err:
        await call(make_model(), mode)
    assert err.value.excerpt == "<html>oops</html>"


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_server_error_event_mid_stream(
    server: FakeOpenAIServer, make_model: ModelFactory, mode: str
) -> None:
    error = {"error": {"object": "error", "message": "engine died", "code": 500}}
    server.enqueue(SSEReply([error]))
    with pytest.raises(ModelResponseError, match="engine died"):
        await call(make_model(), mode)


@pytest.mark.parametrize("mode", MODES)
async def test_no_reply_queued_fails_loudly(make_model: ModelFactory, mode: str) -> None:
    with pytest.raises(ModelHTTPError, match="no reply queued"):
        await call(make_model(), mode)
