"""The failure classes real servers added (issue 13), for the schema benchmark.

* ``double-encoded``: the value, or one object/array inside it, sent as a JSON string whose
  content is the JSON (sometimes fenced, sometimes after a think block inside the string);
* ``reasoning-only``: a reasoning model whose think block never closed: the whole reply is
  reasoning and the value is at its end (vLLM's R1 parser returns ``content: null``);
* ``truncated``: the reply cut off by ``max_tokens`` inside the value or inside a tool call;
  nothing may be accepted from it and no cut tool call may come back valid.
"""

from __future__ import annotations

import json
import random
from typing import Any

from langchain_core.messages import AIMessageChunk

from orchestrator.exceptions import SchemaValidationError
from orchestrator.models._reply import ReplyContext, decode_completion
from orchestrator.models._sse import StreamDecoder
from orchestrator.schema import parse_output

NEW_CLASSES = ["double-encoded", "reasoning-only"]
_CONTAINER_KEYS = frozenset({"steps", "tests", "arguments", "result", "items"})


def render_double_encoded(value: Any, rng: random.Random, prose: str) -> str:
    """``value`` with itself, or one object/array inside it, encoded as a JSON string."""
    # only where the benchmark's schemas want a container: encoding a list the schema wants
    # as a string (an invalid instance) would make it valid, not double-encoded
    inner = [k for k, v in value.items() if k in _CONTAINER_KEYS and isinstance(v, dict | list)]
    if inner and rng.random() < 0.5:
        key = rng.choice(inner)
        copy = dict(value)
        copy[key] = json.dumps(value[key])
        text = json.dumps(copy, indent=rng.choice([None, 2]))
    else:
        body = json.dumps(value, indent=rng.choice([None, 2]))
        wrap = rng.randrange(3)
        if wrap == 1:
            body = "```json\n" + body + "\n```"
        elif wrap == 2:
            body = f"<think>{prose}</think>\n" + body
        text = json.dumps(body)
    if rng.random() < 0.5:
        text = f"<think>\n{prose}\n</think>\n\n" + text
    return text


def render_reasoning_only(value: Any, rng: random.Random, prose: str) -> str:
    """A think block that never closes, with the value at its end."""
    body = json.dumps(value, indent=rng.choice([None, 2]))
    style = rng.randrange(3)
    if style == 1:
        body = "```json\n" + body + "\n```"
    elif style == 2:
        body = "So the final answer is:\n" + body
    return f"<think>\n{prose}\n\n{body}"


def truncated_refusals(
    corpus: list[tuple[str, dict[str, Any], Any]], rng: random.Random
) -> dict[str, Any]:
    """Cut each rendering inside its JSON; with ``finish_reason: "length"`` (no repair)
    nothing may be accepted."""
    accepted = []
    for _, schema, value in corpus:
        body = json.dumps(value, indent=2)
        cut = rng.randrange(1, len(body) - 1)
        text = "<think>\nworking\n</think>\n" + body[:cut]
        try:
            got = parse_output(text, schema, allow_repair=False).value
        except SchemaValidationError:
            continue
        accepted.append({"text": text[-200:], "value": got})
    return {"total": len(corpus), "accepted": len(accepted), "examples": accepted[:3]}


def truncated_tool_calls(
    corpus: list[tuple[str, dict[str, Any], Any]], rng: random.Random
) -> dict[str, Any]:
    """Tool calls cut by the token limit, as text (hermes markup in content) and as native
    calls, in JSON replies and streams: how many come back as valid calls (target 0)."""
    ctx = ReplyContext(frozenset({"read_file"}), True)
    executed = total = 0
    for _, _, value in corpus:
        arguments = json.dumps(value)
        markup = '<tool_call>\n{"name": "read_file", "arguments": ' + arguments + "}\n</tool_call>"
        text_cut = markup[: rng.randrange(12, len(markup) - len("</tool_call>"))]
        native_cut = arguments[: rng.randrange(0, len(arguments))]
        for content, native in ((text_cut, None), ("", native_cut)):
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if native is not None:
                function = {"name": "read_file", "arguments": native}
                message["tool_calls"] = [{"id": "c1", "type": "function", "function": function}]
            data = {"choices": [{"message": message, "finish_reason": "length"}]}
            reply = decode_completion(data, ctx, url="bench", latency_s=0.0)
            executed += len(reply.tool_calls)
            executed += len(_streamed(message, ctx).tool_calls)
            total += 2
    return {"total": total, "executed": executed}


def _streamed(message: dict[str, Any], ctx: ReplyContext) -> AIMessageChunk:
    decoder = StreamDecoder(ctx, url="bench", started=0.0)
    delta: dict[str, Any] = {"content": message["content"]}
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        delta["tool_calls"] = [{"index": 0, "id": call["id"], "function": call["function"]}]
    chunks = []
    for payload in (
        {"choices": [{"index": 0, "delta": delta}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
    ):
        chunks += decoder.feed_line("data: " + json.dumps(payload))
        chunks += decoder.feed_line("")
    chunks += decoder.feed_line("data: [DONE]")
    chunks += decoder.feed_line("")
    chunks += decoder.finish()
    merged = chunks[0].message
    for chunk in chunks[1:]:
        merged = merged + chunk.message
    assert isinstance(merged, AIMessageChunk)
    return merged
