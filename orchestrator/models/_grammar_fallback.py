"""Which response format a server takes, learnt from its rejections (once per client).

The request goes out in the form of the configured :class:`GrammarBackend` (the schema cut
to what that backend implements, :mod:`orchestrator.models.constrained`). A server that
rejects the form deterministically (vLLM's HTTP 400 ``Grammar error``, llama-cpp-python's
answer to ``json_schema``, an error event at the start of a stream) names the response
format, grammar or schema in its error: the client then steps down one form (``json_schema``
-> ``json_object`` with a schema -> ``json_object`` -> none, where the prompt and client-side
validation carry the schema) and keeps using it. Each step is recorded and shows in the
replies' ``response_metadata["grammar_fallback"]``.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from orchestrator.exceptions import ModelConnectionError, ModelError
from orchestrator.models.constrained import (
    GrammarBackend,
    constrained_schema,
    next_backend,
    response_format_as,
)

__all__ = ["GrammarState", "names_response_format", "rewrite_constraints"]

_GRAMMARS = (GrammarBackend.VLLM, GrammarBackend.LLAMA_CPP)
_FORMAT_WORDS = re.compile(
    r"response_format|json_schema|json schema|grammar|structured.output|schema", re.IGNORECASE
)


def names_response_format(message: str) -> bool:
    """Whether a server's error message is about the response format (then it is
    deterministic: the same request will be rejected again, so it is not retried)."""
    return _FORMAT_WORDS.search(message) is not None


class GrammarState:
    """The response-format form a client currently sends, and how it got there."""

    def __init__(self, backend: GrammarBackend) -> None:
        self._lock = threading.Lock()
        self.backend = backend
        self.fallbacks: list[dict[str, str]] = []

    def fall_back(self, error: ModelError) -> bool:
        """Step down one form if ``error`` rejected the current one; False when it did not
        or no simpler form is left."""
        if isinstance(error, ModelConnectionError) or not names_response_format(str(error)):
            return False
        with self._lock:
            nxt = next_backend(self.backend)
            if nxt is None:
                return False
            self.fallbacks.append(
                {"from": self.backend.value, "to": nxt.value, "reason": str(error)[:300]}
            )
            self.backend = nxt
            return True

    def note(self) -> dict[str, Any] | None:
        """What replies record: the form in use and the steps taken (None: no fallback)."""
        with self._lock:
            if not self.fallbacks:
                return None
            return {"backend": self.backend.value, "steps": list(self.fallbacks)}


def rewrite_constraints(body: dict[str, Any], state: GrammarState) -> dict[str, Any] | None:
    """Rewrite a request body's constraints (in place) for the state's backend.

    ``response_format`` takes the backend's form; ``structured_outputs.json`` and strict
    tools' ``parameters`` are cut to what the backend's grammar implements. Returns the
    fallback note for the reply's metadata, or None.
    """
    backend = state.backend
    # tools still go out without a response format; cut them to the smallest set then
    grammar = backend if backend in _GRAMMARS else GrammarBackend.LLAMA_CPP
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        rewritten = response_format_as(response_format, backend)
        if rewritten is None:
            del body["response_format"]
        else:
            body["response_format"] = rewritten
    structured = body.get("structured_outputs")
    if isinstance(structured, dict) and isinstance(structured.get("json"), dict):
        if backend is GrammarBackend.NONE:
            del body["structured_outputs"]
        else:
            body["structured_outputs"] = {
                **structured,
                "json": constrained_schema(structured["json"], grammar),
            }
    tools = body.get("tools")
    if isinstance(tools, list):
        body["tools"] = [_cut_tool(t, grammar) for t in tools]
    return state.note()


def _cut_tool(tool: Any, grammar: GrammarBackend) -> Any:
    function = tool.get("function") if isinstance(tool, dict) else None
    if not (isinstance(function, dict) and isinstance(function.get("parameters"), dict)):
        return tool
    cut = constrained_schema(function["parameters"], grammar)
    return {**tool, "function": {**function, "parameters": cut}}
