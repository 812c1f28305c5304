"""Planner replies whose tool calls cannot all run: cut off by the token limit, or unreadable.

A native reply may carry ``invalid_tool_calls`` (arguments that did not parse, a hermes call
whose arguments are a bare string, a call cut off by ``max_tokens``). Dropping them would end
the run with the raw markup as its answer; running them would execute a guess. Instead each
becomes a tool call whose only argument is :data:`~agents.tool_runner.INVALID_CALL_KEY` (the
reason), so the act node answers it with an error the planner can act on, while its valid
siblings run as usual. A reply cut off with no calls at all is a truncated answer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from langchain_core.messages import AIMessage, InvalidToolCall, ToolCall
from langchain_core.messages.tool import tool_call

from agents.tool_runner import INVALID_CALL_KEY

__all__ = ["LENGTH", "calls_that_can_run", "finish_reason"]

LENGTH = "length"
_CUT = (
    "your reply was cut off by the token limit (finish_reason: length) before this call was "
    "complete, so it was not run; make it again, shorter"
)
_RAW_CHARS = 300


def finish_reason(reply: AIMessage) -> str | None:
    """The server's finish reason for ``reply`` (``None`` when it gave none)."""
    reason = reply.response_metadata.get("finish_reason")
    return reason if isinstance(reason, str) else None


def calls_that_can_run(reply: AIMessage) -> AIMessage:
    """``reply`` with every invalid call turned into a call the act node answers with an error.

    Under ``finish_reason: "length"`` the last call is treated as cut off unless the model
    client already said so (the OpenAI-compatible client does; other chat models may not).
    """
    calls = list(reply.tool_calls)
    invalid = list(reply.invalid_tool_calls)
    cut_off = finish_reason(reply) == LENGTH
    if cut_off and calls and not invalid:
        last = calls.pop()
        invalid.append(
            InvalidToolCall(
                type="invalid_tool_call",
                name=last["name"],
                args=str(last["args"]),
                id=last["id"],
                error=_CUT,
            )
        )
    if not invalid:
        return reply
    for index, bad in enumerate(invalid):
        calls.append(_as_error_call(bad, index, cut_off=cut_off))
    return reply.model_copy(update={"tool_calls": calls, "invalid_tool_calls": []})


def _as_error_call(bad: InvalidToolCall, index: int, *, cut_off: bool) -> ToolCall:
    name = bad.get("name") or "unknown_tool"
    raw = str(bad.get("args") or "")[:_RAW_CHARS]
    reason = bad.get("error") or (_CUT if cut_off else "the arguments are not a JSON object")
    if cut_off and "finish_reason" not in reason:
        reason = _CUT
    message = f"invalid call to {name}: {reason}"
    if raw:
        message += f". Arguments as written: {raw}"
    args: dict[str, Any] = {INVALID_CALL_KEY: message}
    call_id = bad.get("id") or _call_id(name, raw, index)
    return tool_call(name=name, args=args, id=call_id)


def _call_id(name: str, raw: str, index: int) -> str:
    digest = hashlib.sha1(f"{name}\0{raw}\0{index}".encode(), usedforsecurity=False).hexdigest()
    return f"call_invalid_{digest[:12]}"
