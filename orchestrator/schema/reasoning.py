"""A chat message's reasoning and content (the splitter itself: ``orchestrator.text.think``).

R1-style models think inside ``<think>...</think>`` before answering. Chat templates often put
the opening ``<think>`` in the prompt, so the reply holds only ``...</think> answer``; a reply
cut off while thinking holds ``<think>...`` with no end. vLLM's reasoning parser moves the
thinking into a ``reasoning`` field (``reasoning_content`` on older servers).

Example:
    >>> split_reasoning("<think>2 + 2 = 4</think> {\\"answer\\": 4}")
    ('2 + 2 = 4', '{"answer": 4}')
    >>> split_reasoning("plain answer")
    (None, 'plain answer')
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage

from orchestrator.text.think import split_reasoning

__all__ = ["message_parts", "split_reasoning"]

_REASONING_KEYS = ("reasoning", "reasoning_content")


def message_parts(message: BaseMessage) -> tuple[str | None, str]:
    """(reasoning, content) of a chat message, from its text and its reasoning fields.

    Reasoning comes from ``additional_kwargs["reasoning"]`` (or ``"reasoning_content"``),
    from reasoning content blocks, and from think tags left in the text.
    """
    parts: list[str] = []
    for key in _REASONING_KEYS:
        value = message.additional_kwargs.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
            break
    if isinstance(message.content, list):
        parts.extend(_reasoning_blocks(message.content))
    tagged, content = split_reasoning(message.text)
    if tagged:
        parts.append(tagged)
    return ("\n\n".join(parts) if parts else None), content


def _reasoning_blocks(blocks: list[Any]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") in ("reasoning", "thinking"):
            value = block.get("reasoning") or block.get("thinking")
            if isinstance(value, str) and value.strip():
                out.append(value.strip())
    return out
