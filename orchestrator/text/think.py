"""Separate a reasoning model's thinking from its answer: the one think-tag splitter.

R1-style models think inside ``<think>...</think>`` before answering. Chat templates often put
the opening ``<think>`` in the prompt, so the reply holds only ``...</think> answer``; a reply
cut off while thinking holds ``<think>...`` with no end. vLLM's reasoning parser moves the
thinking into a ``reasoning`` field (``reasoning_content`` on older servers). The streaming
client splits tags incrementally (``models/_sse.py``) with the same tags (:data:`OPEN`,
:data:`CLOSE`).

Example:
    >>> split_reasoning("<think>2 + 2 = 4</think> {\\"answer\\": 4}")
    ('2 + 2 = 4', '{"answer": 4}')
    >>> split_reasoning("plain answer")
    (None, 'plain answer')
"""

from __future__ import annotations

import re

__all__ = ["CLOSE", "OPEN", "answer_part", "split_reasoning"]

OPEN, CLOSE = "<think>", "</think>"
_TAG = re.compile(r"<(/?)(?:think|thinking)>", re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str | None, str]:
    """Split ``text`` into (reasoning, content).

    Handles ``<think>...</think>`` (several blocks are joined), a lone leading ``...</think>``
    (the opening tag was in the prompt), and an unterminated ``<think>`` (everything after it
    is reasoning, the content is what came before, usually empty). ``<thinking>`` works too.

    Args:
        text: a model's raw text.

    Returns:
        ``(reasoning, content)``, both stripped; reasoning is ``None`` when there was no tag
        and then content is ``text`` unchanged.
    """
    if "<" not in text:
        return None, text  # fast path: no tag can be present
    thoughts: list[str] = []
    answer: list[str] = []
    pos = 0
    open_at: int | None = None
    for m in _TAG.finditer(text):
        closing = m.group(1) == "/"
        if not closing and open_at is None:
            answer.append(text[pos : m.start()])
            open_at = m.end()
        elif closing and open_at is not None:
            thoughts.append(text[open_at : m.start()])
            open_at = None
            pos = m.end()
        elif closing and not thoughts and open_at is None and pos == 0:
            thoughts.append(text[: m.start()])  # opening tag was in the prompt
            pos = m.end()
    if open_at is not None:
        thoughts.append(text[open_at:])
    else:
        answer.append(text[pos:])
    if not thoughts:
        return None, text
    return "\n\n".join(t.strip() for t in thoughts), "".join(answer).strip()


def answer_part(text: str | None) -> str:
    """The answer of a reply, reasoning removed (what a judge grades)."""
    return split_reasoning(text or "")[1]
