"""Usage from a reply: the server's counts, completed by labelled estimates where missing.

Pure functions. Servers differ in what they count: llama.cpp's server streams no usage even
when asked (``stream_options.include_usage``), and vLLM's R1 reasoning parser reports 0
reasoning tokens for a think block that never closed. Estimates are named in the reply's
``response_metadata["usage_estimated"]`` so budgets and reports can say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.messages.ai import UsageMetadata

if TYPE_CHECKING:
    from orchestrator.models._reply import ReplyContext

__all__ = ["estimate_tokens", "estimated_usage", "usage_metadata"]


def estimate_tokens(text: str) -> int:
    """A token count estimated from text length (about four characters a token for English
    with BPE tokenizers): for when a server reports none. Always labelled as estimated."""
    return -(-len(text) // 4) if text else 0


def estimated_usage(
    usage: Any, ctx: ReplyContext, content: str, reasoning: str | None, calls_text: str
) -> tuple[UsageMetadata | None, list[str]]:
    """``UsageMetadata`` from the server's ``usage``, completed by estimates where it is
    missing, and the names of the estimated fields.

    A stream without usage (llama.cpp's server) gets prompt and completion tokens estimated;
    reasoning that the server counted as 0 reasoning tokens (vLLM's R1 parser when the
    model never closes its think block) gets its reasoning tokens estimated. A server that
    reports no reasoning count at all is left alone.
    """
    meta = usage_metadata(usage)
    estimated: list[str] = []
    if meta is None:
        if not (content or reasoning or calls_text):
            return None, []
        prompt = -(-ctx.prompt_chars // 4)
        completion = estimate_tokens(content) + estimate_tokens(reasoning or "")
        completion += estimate_tokens(calls_text)
        meta = UsageMetadata(
            input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
        )
        estimated = ["input_tokens", "output_tokens"]
    details = meta.get("output_token_details") or {}
    if reasoning and (estimated or details.get("reasoning") == 0):
        guess = min(estimate_tokens(reasoning), meta["output_tokens"] or estimate_tokens(reasoning))
        meta["output_token_details"] = {"reasoning": guess}
        estimated.append("reasoning_tokens")
    return meta, estimated


def usage_metadata(usage: Any) -> UsageMetadata | None:
    """OpenAI ``usage`` -> langchain ``UsageMetadata`` (reasoning and cached tokens if given)."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    meta = UsageMetadata(input_tokens=prompt, output_tokens=completion, total_tokens=total)
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
        meta["output_token_details"] = {"reasoning": int(details["reasoning_tokens"])}
    cached = usage.get("prompt_tokens_details")
    if isinstance(cached, dict) and cached.get("cached_tokens") is not None:
        meta["input_token_details"] = {"cache_read": int(cached["cached_tokens"])}
    return meta
