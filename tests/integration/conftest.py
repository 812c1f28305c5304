"""Fixtures: the fake vLLM server on loopback, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestrator.models.openai_compat import OpenAICompatChatModel, RetryPolicy
from tests.fake_openai_server import FakeOpenAIServer


class RecordingSleep:
    """Retry waits, recorded instead of slept."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="session")
def _server_process() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def server(_server_process: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The shared fake server, emptied for this test."""
    _server_process.reset()
    yield _server_process
    _server_process.reset()


@pytest.fixture
def waits() -> RecordingSleep:
    return RecordingSleep()


ModelFactory = Callable[..., OpenAICompatChatModel]


@pytest.fixture
def make_model(server: FakeOpenAIServer, waits: RecordingSleep) -> ModelFactory:
    """Build a client for the fake server; retries never really wait."""

    def make(**fields: Any) -> OpenAICompatChatModel:
        policy = RetryPolicy(
            max_retries=fields.pop("max_retries", 2),
            backoff_base=0.0,
            sleep=waits.sleep,
            asleep=waits.asleep,
        )
        fields.setdefault("base_urls", [server.base_url])
        fields.setdefault("timeout", 10.0)
        return OpenAICompatChatModel(model="smol", retry_policy=policy, **fields)

    return make
