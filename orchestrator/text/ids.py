"""Tool-call ids: the one function that names a call that came without an id."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["call_id"]


def call_id(index: int, name: str, arguments: Any) -> str:
    """A stable id for the ``index``-th call of a reply: ``call_<index>_<hash>``, the hash over
    the name and the arguments (a dict, or their JSON text), so a replayed reply gets the same
    ids and two calls of one reply never share one.

    Example:
        >>> call_id(0, "add", {"a": 1}) == call_id(0, "add", {"a": 1})
        True
    """
    canonical = json.dumps([name, arguments], sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return f"call_{index}_{digest[:10]}"
