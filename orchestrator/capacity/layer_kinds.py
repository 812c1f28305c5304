"""Which layers attend globally and which within a window, read from a ``config.json``.

:func:`layer_kinds` returns the kind of every decoder layer and the window of the windowed
ones, from (in this order) ``layer_types`` (``full_attention``, ``sliding_attention``,
``chunked_attention``), Llama 4's ``attention_chunk_size`` with ``no_rope_layers`` (1 = a
RoPE layer with chunked local attention, 0 = a NoPE global layer; empty means every
``no_rope_layer_interval``-th layer, 4 by default, is global), Gemma's
``sliding_window_pattern`` (Gemma 2: every other layer), or Mistral's ``sliding_window``
(unless ``use_sliding_window`` is false, as Qwen2 configs say).

:func:`refuse_unknown_attention` rejects configs whose layers are not attention at all
(state-space, linear attention) or carry another cache (a sparse-attention indexer): plan
does not guess their size.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from orchestrator.exceptions import ConfigError

__all__ = ["LayerKind", "layer_kinds", "refuse_unknown_attention"]

_UNSUPPORTED_MARKERS = {
    "mamba": "state-space (Mamba) layers",
    "ssm_": "state-space layers",
    "rwkv": "RWKV layers",
    "linear_attn": "linear-attention layers",
    "linear_num_key_heads": "linear-attention layers",
    "hybrid_override_pattern": "state-space layers",
    "attn_type_list": "linear-attention layers",
    "attn_layer_period": "state-space layers",
    "index_topk": "a sparse-attention indexer with its own cache",
}
"""Config keys of layers whose cache plan does not size, and what they are."""
_LAYER_TYPES = {
    "full_attention": "global",
    "attention": "global",
    "global_attention": "global",
    "sliding_attention": "sliding",
    "sliding_window_attention": "sliding",
    "chunked_attention": "chunked",
}


class LayerKind(StrEnum):
    """How far back a layer attends, which bounds its KV cache."""

    GLOBAL = "global"
    """Every earlier token: the cache grows with the context."""
    SLIDING = "sliding"
    """The last ``window`` tokens."""
    CHUNKED = "chunked"
    """Tokens of the current chunk of ``window`` tokens (Llama 4 local layers)."""


def refuse_unknown_attention(cfg: Mapping[str, Any], source: str) -> None:
    """Raise ConfigError when ``cfg`` has layers whose cache plan does not size."""
    for key in cfg:
        for marker, what in _UNSUPPORTED_MARKERS.items():
            if marker in key:
                raise ConfigError(
                    f"field {key!r} describes {what}, an attention kind plan does not size; "
                    "it refuses to guess",
                    path=source,
                )


def layer_kinds(
    cfg: Mapping[str, Any], num_layers: int, source: str
) -> tuple[tuple[LayerKind, ...], int | None]:
    """The kind of every layer, and the window of the windowed ones (None if none).

    Raises:
        ConfigError: an unknown layer type, a layer list of the wrong length, or a
            window size missing.
    """
    chunk = _opt_int(cfg.get("attention_chunk_size"))
    sliding = _opt_int(cfg.get("sliding_window"))
    types = cfg.get("layer_types")
    if isinstance(types, list) and types:
        kinds: list[LayerKind] = []
        for i, name in enumerate(types):
            mapped = _LAYER_TYPES.get(str(name))
            if mapped is None:
                raise ConfigError(
                    f"layer_types[{i}] is {name!r}, an attention kind plan does not know; "
                    "refusing to guess its KV cache",
                    path=source,
                )
            kinds.append(LayerKind(mapped))
        if len(kinds) != num_layers:
            raise ConfigError(
                f"layer_types lists {len(kinds)} layers but num_hidden_layers is {num_layers}",
                path=source,
            )
        return _with_window(tuple(kinds), chunk, sliding, source)
    if chunk is not None:
        nope = cfg.get("no_rope_layers")
        if isinstance(nope, list) and nope:
            # Llama 4: 1 = RoPE layer (chunked local attention), 0 = NoPE layer (global)
            flags = [bool(x) for x in nope]
        else:
            # empty or absent: transformers derives it from no_rope_layer_interval (default 4)
            interval = _opt_int(cfg.get("no_rope_layer_interval")) or 4
            flags = [(i + 1) % interval != 0 for i in range(num_layers)]
        if len(flags) != num_layers:
            raise ConfigError(
                f"no_rope_layers lists {len(flags)} layers but num_hidden_layers is {num_layers}",
                path=source,
            )
        kinds_t = tuple(LayerKind.CHUNKED if f else LayerKind.GLOBAL for f in flags)
        return kinds_t, chunk
    pattern = _opt_int(cfg.get("sliding_window_pattern"))
    if pattern is None and cfg.get("model_type") == "gemma2":
        pattern = 2  # Gemma 2 alternates sliding and global layers (older configs omit it)
    if sliding is not None and pattern:
        kinds_t = tuple(
            LayerKind.GLOBAL if (i + 1) % pattern == 0 else LayerKind.SLIDING
            for i in range(num_layers)
        )
        return kinds_t, sliding
    if sliding is not None and cfg.get("use_sliding_window", True) is not False:
        return (LayerKind.SLIDING,) * num_layers, sliding
    return (LayerKind.GLOBAL,) * num_layers, None


def _with_window(
    kinds: tuple[LayerKind, ...], chunk: int | None, sliding: int | None, source: str
) -> tuple[tuple[LayerKind, ...], int | None]:
    if LayerKind.CHUNKED in kinds:
        if chunk is None:
            raise ConfigError(
                "field 'attention_chunk_size' is missing; it is needed to bound the chunked "
                "layers' KV cache",
                path=source,
            )
        return kinds, chunk
    if LayerKind.SLIDING in kinds:
        if sliding is None:
            raise ConfigError(
                "field 'sliding_window' is missing; it is needed to bound the sliding layers' "
                "KV cache",
                path=source,
            )
        return kinds, sliding
    return kinds, None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
