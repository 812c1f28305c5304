"""The async client's aiohttp transport over real sockets: bytes, errors and lifetime."""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import pytest

from orchestrator.models._aiohttp_transport import AiohttpTransport
from tests.fake_openai_server import ChatReply, FakeOpenAIServer, Fault
from tests.integration.conftest import ModelFactory

BODY = b'{"model": "smol", "messages": [{"role": "user", "content": "hi"}]}'


async def post(server: FakeOpenAIServer, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=AiohttpTransport(4), trust_env=False) as client:
        response = await client.post(
            f"{server.base_url}/chat/completions",
            content=BODY,
            headers={"content-type": "application/json", "authorization": "Bearer k"},
            **kwargs,  # type: ignore[arg-type]
        )
        await response.aread()
        return response


async def test_request_and_response_bytes_arrive_intact(server: FakeOpenAIServer) -> None:
    server.enqueue(ChatReply("héllo"))
    response = await post(server)
    assert response.status_code == 200
    assert response.reason_phrase == "OK"
    assert response.json()["choices"][0]["message"]["content"] == "héllo"
    request = server.requests[-1]
    assert request.body == BODY
    assert request.headers["content-length"] == str(len(BODY))
    assert request.headers["authorization"] == "Bearer k"
    assert request.headers["content-type"] == "application/json"


async def test_a_stream_arrives_event_by_event(server: FakeOpenAIServer) -> None:
    server.enqueue(ChatReply("a streamed answer"))
    async with httpx.AsyncClient(transport=AiohttpTransport(), trust_env=False) as client:
        body = BODY.replace(b"}]}", b'}], "stream": true}')
        async with client.stream(
            "POST", f"{server.base_url}/chat/completions", content=body
        ) as response:
            lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert "".join(lines).count("data: ") >= 3


async def test_a_reset_before_the_reply_is_a_transport_error(server: FakeOpenAIServer) -> None:
    server.enqueue(Fault("reset"))
    with pytest.raises(httpx.TransportError):
        await post(server)


async def test_a_body_read_until_close_is_returned_as_it_came(server: FakeOpenAIServer) -> None:
    """No length, no chunking: HTTP/1.1 says the body ends when the connection does, so half
    a JSON document is a complete body; judging it is the client's job (a response error)."""
    server.enqueue(Fault("truncated_body"))
    response = await post(server)
    assert response.status_code == 200
    assert response.content.startswith(b'{"id"') and not response.content.endswith(b"}")


@pytest.mark.parametrize(
    ("kind", "error"),
    [("cut_mid_stream", httpx.RemoteProtocolError), ("reset_mid_stream", httpx.TransportError)],
)
async def test_a_stream_broken_mid_way_is_a_transport_error(
    server: FakeOpenAIServer, kind: str, error: type[Exception]
) -> None:
    server.enqueue(Fault(kind, after=2))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=AiohttpTransport(), trust_env=False) as client:
        body = BODY.replace(b"}]}", b'}], "stream": true}')
        async with client.stream(
            "POST", f"{server.base_url}/chat/completions", content=body
        ) as response:
            assert response.status_code == 200
            with pytest.raises(error):
                async for _ in response.aiter_bytes():
                    pass


async def test_a_server_that_speaks_no_http_is_a_protocol_error() -> None:
    async def junk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(junk, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport(), trust_env=False) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"http://127.0.0.1:{port}/v1/chat/completions", content=BODY)
    finally:
        server.close()


async def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with httpx.AsyncClient(transport=AiohttpTransport(), trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/v1/chat/completions", content=BODY)


async def test_a_slow_server_is_a_read_timeout(server: FakeOpenAIServer) -> None:
    server.enqueue(ChatReply("late", latency_ms=2000))
    with pytest.raises(httpx.ReadTimeout):
        await post(server, timeout=httpx.Timeout(5.0, read=0.2))


def test_a_pool_nobody_closed_closes_with_its_loop(
    server: FakeOpenAIServer, make_model: ModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """``asyncio.run(model.ainvoke(...))`` without ``aclose``: the loop's shutdown closes
    the aiohttp session, so its connections are released and aiohttp logs no complaint."""
    server.enqueue(ChatReply("one"), ChatReply("two"))
    model = make_model()
    sessions = []

    async def call() -> str:
        message = await model.ainvoke("hi")
        client = await model._connection()._async_client()
        assert isinstance(client._transport, AiohttpTransport)
        sessions.append(client._transport._session)
        return message.text

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        assert asyncio.run(call()) == "one"
        assert asyncio.run(call()) == "two"  # a new loop gets a new pool
        del call
    assert len(sessions) == 2 and sessions[0] is not sessions[1]
    assert all(session is not None and session.closed for session in sessions)
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]
