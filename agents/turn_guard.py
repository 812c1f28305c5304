"""Bounds on what one planner turn may ask for, applied before any tool runs.

A model's reply is untrusted input: it may hold thousands of tool calls, or arguments nested
thousands of levels deep or megabytes long. Such calls would run for hours, fail to
checkpoint (msgpack refuses deep nesting) or be echoed into results and checkpoints. This
module turns a reply into one the rest of the graph can handle:

* calls past ``Limits.max_tool_calls_per_turn`` are dropped, and the reply says so (the
  model sees the note on its next turn);
* a call whose arguments are deeper than :data:`MAX_ARGUMENT_DEPTH` or longer than
  ``Limits.max_tool_argument_chars`` becomes an invalid call, its arguments cut to an excerpt;
* invalid calls (these, and those the model client could not read) become calls the act node
  answers with an error (:func:`agents.invalid_calls.calls_that_can_run`), so the planner
  is told and asked again, never left with a silent empty answer.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call

from agents.invalid_calls import calls_that_can_run
from orchestrator.limits import Limits

__all__ = ["MAX_ARGUMENT_DEPTH", "argument_problem", "guard_turn"]

MAX_ARGUMENT_DEPTH = 32
"""Deepest nesting of tool-call arguments accepted (no real tool needs more)."""
_EXCERPT = 200


def argument_problem(
    args: Any, *, max_chars: int, max_depth: int = MAX_ARGUMENT_DEPTH
) -> str | None:
    """Why ``args`` are refused (too deep, too long), or None. Iterative: no recursion limit."""
    budget = max_chars
    stack: list[tuple[Any, int]] = [(args, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return f"arguments are nested deeper than {max_depth} levels"
        if isinstance(node, dict):
            budget -= 2 + len(node)
            for key, value in node.items():
                budget -= len(str(key)) + 3
                stack.append((value, depth + 1))
        elif isinstance(node, list | tuple):
            budget -= 2 + len(node)
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            budget -= len(node) + 2
        else:
            budget -= 8
        if budget < 0:
            return f"arguments are longer than {max_chars} characters"
    return None


def _excerpt(args: Any) -> str:
    try:
        text = json.dumps(args, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(args))
    return text[:_EXCERPT]


def guard_turn(reply: AIMessage, limits: Limits) -> AIMessage:
    """Apply the per-turn bounds to a planner reply (see the module docstring)."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = list(reply.invalid_tool_calls)
    for call in reply.tool_calls:
        problem = argument_problem(call.get("args"), max_chars=limits.max_tool_argument_chars)
        if problem is None:
            calls.append(call)
            continue
        bad = invalid_tool_call(
            name=call.get("name"), args=_excerpt(call.get("args")), id=call.get("id"), error=problem
        )
        invalid.append(bad)
    if len(calls) != len(reply.tool_calls):
        reply = reply.model_copy(update={"tool_calls": calls, "invalid_tool_calls": invalid})
    reply = calls_that_can_run(reply)
    cap = limits.max_tool_calls_per_turn
    if len(reply.tool_calls) <= cap:
        return reply
    dropped = len(reply.tool_calls) - cap
    note = f"[bicameral: {dropped} more tool call(s) of this turn were not run: at most {cap}]"
    content: Any = reply.content
    content = f"{content}\n{note}".strip() if isinstance(content, str) else content
    return reply.model_copy(update={"tool_calls": reply.tool_calls[:cap], "content": content})
