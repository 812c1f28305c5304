"""KV-cache bytes per token and per sequence, by attention kind and layer kind.

Per layer and token, on one GPU:

* MHA/GQA: ``2 × kv_heads × head_dim × bytes`` (keys and values); with tensor parallelism
  each GPU holds ``max(1, kv_heads // tp)`` heads, as vLLM shards (or replicates) them;
* MLA: ``(kv_lora_rank + qk_rope_head_dim) × bytes``: one compressed latent and one shared
  RoPE key, no per-head keys and values; every tensor-parallel rank holds the whole latent.

Global layers keep every token of the context; sliding-window and chunked-local layers keep
at most ``window`` tokens (Llama 4 Scout: 36 of 48 layers, chunks of 8,192), plus the tokens
of one scheduler batch in flight, which vLLM reserves too. vLLM pages the cache in blocks
(16 tokens by default), one block per group of layers (a hybrid model's layers are grouped by
kind, e.g. Scout's 12 global and 3 × 12 chunked), so a sequence occupies whole blocks.

Example:
    >>> shape = kv_shape(cfg, KVCacheDtype.AUTO)  # doctest: +SKIP
    >>> shape.bytes_per_token  # DeepSeek-V3/R1 in bf16: 61 × 576 × 2
    70272
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.capacity.model_config import AttentionKind, LayerKind, ModelConfig

__all__ = [
    "Baseline",
    "KVCacheDtype",
    "KVCacheShape",
    "kv_element_bytes",
    "kv_shape",
    "mla_baselines",
]


class KVCacheDtype(StrEnum):
    """vLLM's ``--kv-cache-dtype``."""

    AUTO = "auto"
    """The model's activation dtype (``torch_dtype``)."""
    FP8 = "fp8"
    """One byte per value."""


def kv_element_bytes(cfg: ModelConfig, dtype: KVCacheDtype) -> float:
    """Bytes per cached value."""
    return 1.0 if dtype is KVCacheDtype.FP8 else cfg.dtype_bytes


@dataclass(frozen=True)
class KVCacheShape:
    """The KV cache of one model on one GPU.

    Attributes:
        layer_bytes: bytes one layer caches per token on one GPU.
        global_layers: layers that keep the whole context.
        windowed_layers: sliding-window or chunked-local layers.
        window: tokens a windowed layer keeps (None when there are none).
        window_kind: sliding or chunked (None when there are none).
    """

    layer_bytes: float
    global_layers: int
    windowed_layers: int
    window: int | None
    window_kind: LayerKind | None

    @property
    def bytes_per_token(self) -> int:
        """Bytes per token over all layers, for tokens within the window."""
        return round(self.layer_bytes * (self.global_layers + self.windowed_layers))

    @property
    def global_bytes_per_token(self) -> int:
        """Bytes per token of the global layers: what grows past the window."""
        return round(self.layer_bytes * self.global_layers)

    @property
    def group_size(self) -> int:
        """Layers per vLLM KV-cache group: all of them, or the smaller kind's count."""
        if self.global_layers and self.windowed_layers:
            return min(self.global_layers, self.windowed_layers)
        return self.global_layers + self.windowed_layers

    def request_blocks(self, context: int, block_size: int = 1, in_flight: int = 0) -> int:
        """Pool blocks (one per group) one sequence of ``context`` tokens reserves.

        Windowed layers reserve their window plus the tokens in flight (one scheduler
        batch), as vLLM's admission check does; global layers reserve the whole context.
        """
        g = self.group_size
        full = -(-context // block_size)
        blocks = -(-self.global_layers // g) * full
        if self.windowed_layers and self.window is not None:
            if self.window_kind is LayerKind.SLIDING:
                held = -(-min(self.window - 1 + in_flight, context) // block_size) + 1
            else:
                held = -(-min(self.window + in_flight, context) // block_size)
            blocks += -(-self.windowed_layers // g) * held
        return blocks

    def block_bytes(self, block_size: int = 1) -> float:
        """Bytes of one pool block: ``block_size`` tokens of one group's layers."""
        return self.layer_bytes * self.group_size * block_size

    def sequence_bytes(self, context: int, block_size: int = 1, in_flight: int = 0) -> int:
        """Bytes one sequence of ``context`` tokens reserves, in whole blocks."""
        return round(
            self.block_bytes(block_size) * self.request_blocks(context, block_size, in_flight)
        )

    def concurrency(
        self, budget: float, context: int, block_size: int = 1, in_flight: int = 0
    ) -> float:
        """Sequences of ``context`` tokens ``budget`` bytes hold at once (vLLM's "Maximum
        concurrency"): whole pool blocks over the blocks one sequence reserves."""
        if budget <= 0:
            return 0.0
        blocks = budget // self.block_bytes(block_size)
        return blocks / self.request_blocks(context, block_size, in_flight)

    def max_context(self, budget: float, block_size: int = 1, in_flight: int = 0) -> int:
        """The longest single sequence ``budget`` bytes hold (0 when not even one block)."""

        def fits(n: int) -> bool:
            return self.concurrency(budget, n, block_size, in_flight) >= 1

        if not fits(block_size):
            return 0
        lo, hi = block_size, block_size * 2
        while fits(hi) and hi < 1 << 40:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        return lo // block_size * block_size


def kv_shape(cfg: ModelConfig, dtype: KVCacheDtype, tp: int = 1) -> KVCacheShape:
    """The per-GPU KV cache shape of ``cfg`` at tensor-parallel size ``tp``."""
    att, eb = cfg.attention, kv_element_bytes(cfg, dtype)
    if att.kind is AttentionKind.MLA:
        layer = (att.kv_lora_rank + att.qk_rope_head_dim) * eb
    else:
        heads = max(1, att.kv_heads // tp)
        layer = heads * (att.k_head_dim + att.v_head_dim) * eb
    windowed = att.count(LayerKind.SLIDING) + att.count(LayerKind.CHUNKED)
    kind = None
    if windowed:
        kind = LayerKind.CHUNKED if att.count(LayerKind.CHUNKED) else LayerKind.SLIDING
    return KVCacheShape(
        layer_bytes=layer,
        global_layers=att.count(LayerKind.GLOBAL),
        windowed_layers=windowed,
        window=att.window if windowed else None,
        window_kind=kind,
    )


@dataclass(frozen=True)
class Baseline:
    """A KV cache an MLA model is compared against.

    Attributes:
        name: what the baseline is.
        bytes_per_token: its bytes per token over the same number of layers.
        saving: the fraction MLA saves against it (0.93 = 93%).
    """

    name: str
    bytes_per_token: int
    saving: float


def mla_baselines(
    cfg: ModelConfig,
    dtype: KVCacheDtype = KVCacheDtype.AUTO,
    *,
    gqa_kv_heads: int = 8,
    gqa_head_dim: int = 128,
) -> list[Baseline]:
    """What MLA saves against caches of the same depth (empty for non-MLA models).

    Baselines: GQA with ``gqa_kv_heads`` × ``gqa_head_dim`` (Llama 4 Scout's 8 × 128 by
    default); MHA over the model's own heads with its decoupled key width
    (``qk_nope + qk_rope``) and value width, what the same heads would cache without the
    latent; and MHA with ``2 × n_heads × qk_nope_head_dim``, the formula of the DeepSeek-V2
    paper's Table 1.
    """
    att = cfg.attention
    if att.kind is not AttentionKind.MLA:
        return []
    eb, layers = kv_element_bytes(cfg, dtype), cfg.num_layers
    mla = round((att.kv_lora_rank + att.qk_rope_head_dim) * eb * layers)
    rows = [
        (f"GQA {gqa_kv_heads}×{gqa_head_dim}, {layers} layers", 2 * gqa_kv_heads * gqa_head_dim),
        (
            f"MHA {att.num_heads}×({att.qk_nope_head_dim + att.qk_rope_head_dim}+"
            f"{att.v_head_dim}), {layers} layers",
            att.num_heads * (att.qk_nope_head_dim + att.qk_rope_head_dim + att.v_head_dim),
        ),
        (
            f"MHA 2×{att.num_heads}×{att.qk_nope_head_dim}, {layers} layers",
            2 * att.num_heads * att.qk_nope_head_dim,
        ),
    ]
    out = []
    for name, per_layer in rows:
        base = round(per_layer * eb * layers)
        out.append(Baseline(name, base, 1 - mla / base))
    return out
