"""Bounds on what one planner turn may ask for, applied before any tool runs.

A model's reply is untrusted input: it may hold thousands of tool calls, or arguments nested
thousands of levels deep or megabytes long. Such calls would run for hours, fail to
checkpoint (msgpack refuses deep nesting) or be echoed into results and checkpoints. This
module turns a reply into one the rest of the graph can handle:

* calls past ``Limits.max_tool_calls_per_turn`` are dropped, and the reply says so (the
  model sees the note on its next turn);
* a call whose arguments are deeper than :data:`MAX_ARGUMENT_DEPTH` or longer than
  ``Limits.max_tool_argument_chars`` becomes an invalid call, its arguments cut to an excerpt;
* a reply whose calls are all invalid is an invalid turn (the planner is asked again and the
  run fails after ``max_invalid_tool_calls`` such turns), never a silent empty answer.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, InvalidToolCall, ToolCall
from langchain_core.messages.tool import invalid_tool_call

from orchestrator.graph.routing import INVALID_TURN_KEY
from orchestrator.limits import Limits

__all__ = ["MAX_ARGUMENT_DEPTH", "GuardedTurn", "argument_problem", "guard_turn"]

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


class GuardedTurn:
    """A planner reply after :func:`guard_turn`: the reply to keep and any note to add.

    Attributes:
        reply: the reply, with over-limit calls dropped or made invalid.
        note: a message for the planner when the whole turn was invalid, else None.
    """

    def __init__(self, reply: AIMessage, note: HumanMessage | None) -> None:
        self.reply = reply
        self.note = note

    @property
    def invalid(self) -> bool:
        """Whether the turn had calls and none of them can run."""
        return self.note is not None


def guard_turn(reply: AIMessage, limits: Limits) -> GuardedTurn:
    """Apply the per-turn bounds to a planner reply (see the module docstring)."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = list(reply.invalid_tool_calls)
    for call in reply.tool_calls:
        problem = argument_problem(call.get("args"), max_chars=limits.max_tool_argument_chars)
        if problem is None:
            calls.append(call)
        else:
            invalid.append(
                invalid_tool_call(
                    name=call.get("name"),
                    args=_excerpt(call.get("args")),
                    id=call.get("id"),
                    error=problem,
                )
            )
    cap = limits.max_tool_calls_per_turn
    content = reply.content
    if len(calls) > cap:
        dropped = len(calls) - cap
        calls = calls[:cap]
        note = (
            f"[bicameral: {dropped} more tool call(s) of this turn were not run: "
            f"at most {cap} per turn]"
        )
        content = f"{content}\n{note}".strip() if isinstance(content, str) else content
    changed = calls != reply.tool_calls or len(invalid) != len(reply.invalid_tool_calls)
    if not calls and invalid:
        errors = "\n".join(f"- {c.get('name') or '?'}: {c.get('error')}" for c in invalid[:10])
        extra = {**reply.additional_kwargs, INVALID_TURN_KEY: True}
        text = content if isinstance(content, str) else ""
        bad = AIMessage(
            content=text[:2000],
            additional_kwargs=extra,
            id=reply.id,
            response_metadata=reply.response_metadata,
            usage_metadata=reply.usage_metadata,
        )
        note_msg = HumanMessage("None of your tool calls could be run:\n" + errors)
        return GuardedTurn(bad, note_msg)
    if not changed and content == reply.content:
        return GuardedTurn(reply, None)
    update: dict[str, Any] = {
        "tool_calls": calls,
        "invalid_tool_calls": invalid,
        "content": content,
    }
    return GuardedTurn(reply.model_copy(update=update), None)
