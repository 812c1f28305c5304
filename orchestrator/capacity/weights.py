"""Weight memory: parameters counted from the config, or the checkpoint's real size.

:func:`count_parameters` counts the text decoder's parameters from its config: embeddings,
output head (unless tied), attention (MHA/GQA projections, or MLA's compressed projections),
dense MLPs, routed and shared experts and their routers, norms. :func:`weight_bytes` prices
them in a weight format: 16-bit, fp8 (block scales included), or int4 AWQ/GPTQ (group scales
included); quantized formats apply to the decoder's linear layers, while embeddings, output
head, norms and routers stay 16-bit, as vLLM loads them. :func:`safetensors_bytes` reads the
real size of a model directory's checkpoint instead.

Example:
    >>> weights = estimate_weights(cfg, WeightFormat.AUTO)  # doctest: +SKIP
    >>> round(weights.params.total / 1e9)
    671
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from orchestrator.capacity.model_config import AttentionKind, ModelConfig

__all__ = [
    "ParamCount",
    "WeightEstimate",
    "WeightFormat",
    "checkpoint_format",
    "count_parameters",
    "estimate_weights",
    "safetensors_bytes",
    "weight_bytes",
]

_FP8_BLOCK_SCALE = 4 / (128 * 128)
"""fp32 scale per 128×128 block (DeepSeek-V3's ``weight_block_size``), per parameter."""
_INT4_GROUP_SCALE = (2 + 0.5) / 128
"""fp16 scale and packed 4-bit zero point per group of 128 weights (AWQ/GPTQ), per parameter."""


class WeightFormat(StrEnum):
    """How the decoder's linear weights are stored."""

    AUTO = "auto"
    """As the checkpoint stores them (``quantization_config``, else ``torch_dtype``)."""
    BF16 = "bf16"
    FP16 = "fp16"
    FP32 = "fp32"
    FP8 = "fp8"
    """8-bit floats: a fp8 checkpoint, or ``--quantization fp8`` on a 16-bit one."""
    INT4 = "int4"
    """4-bit integers with group scales: an AWQ or GPTQ checkpoint."""


@dataclass(frozen=True)
class ParamCount:
    """Parameters by part.

    Attributes:
        embedding: input embedding matrix.
        lm_head: output head (0 when tied to the embedding).
        attention: attention projections, all layers.
        dense_mlp: MLPs of the dense layers.
        routed_experts: every routed expert of every MoE layer.
        shared_experts: shared experts of the MoE layers.
        routers: router (gate) matrices.
        norms: RMSNorm weights and MLA's latent norms.
    """

    embedding: int
    lm_head: int
    attention: int
    dense_mlp: int
    routed_experts: int
    shared_experts: int
    routers: int
    norms: int

    @property
    def total(self) -> int:
        """All parameters."""
        return (
            self.embedding
            + self.lm_head
            + self.attention
            + self.dense_mlp
            + self.routed_experts
            + self.shared_experts
            + self.routers
            + self.norms
        )

    @property
    def linear(self) -> int:
        """Parameters in the decoder's linear layers (what weight quantization applies to)."""
        return self.attention + self.dense_mlp + self.routed_experts + self.shared_experts


@dataclass(frozen=True)
class WeightEstimate:
    """Weight memory of one model in one format.

    Attributes:
        params: parameters counted from the config.
        format: the format priced (never AUTO: resolved to the checkpoint's).
        bytes: total weight bytes over all GPUs.
        from_files: True when ``bytes`` is the real checkpoint size, not an estimate.
    """

    params: ParamCount
    format: WeightFormat
    bytes: int
    from_files: bool = False


def count_parameters(cfg: ModelConfig) -> ParamCount:
    """Count the text decoder's parameters from its config."""
    h, att = cfg.hidden_size, cfg.attention
    if att.kind is AttentionKind.MLA:
        qk = att.qk_nope_head_dim + att.qk_rope_head_dim
        q = (
            h * cfg.q_lora_rank + cfg.q_lora_rank * att.num_heads * qk
            if cfg.q_lora_rank
            else h * att.num_heads * qk
        )
        kv = h * (att.kv_lora_rank + att.qk_rope_head_dim) + att.kv_lora_rank * att.num_heads * (
            att.qk_nope_head_dim + att.v_head_dim
        )
        per_layer_attn = q + kv + att.num_heads * att.v_head_dim * h
        per_layer_norms = 2 * h + att.kv_lora_rank + (cfg.q_lora_rank or 0)
    else:
        q_out = att.num_heads * att.k_head_dim
        kv_out = att.kv_heads * (att.k_head_dim + att.v_head_dim)
        per_layer_attn = h * q_out + h * kv_out + att.num_heads * att.v_head_dim * h
        per_layer_norms = 2 * h
    moe = cfg.moe
    moe_layers = set(moe.moe_layers) if moe else set()
    dense_layers = cfg.num_layers - len(moe_layers)
    routed = shared = routers = 0
    if moe:
        n = len(moe_layers)
        routed = n * moe.routed_experts * 3 * h * moe.expert_intermediate
        shared = n * moe.shared_experts * 3 * h * moe.shared_intermediate
        routers = n * moe.routed_experts * h
    return ParamCount(
        embedding=cfg.vocab_size * h,
        lm_head=0 if cfg.tie_word_embeddings else cfg.vocab_size * h,
        attention=cfg.num_layers * per_layer_attn,
        dense_mlp=dense_layers * 3 * h * cfg.intermediate_size,
        routed_experts=routed,
        shared_experts=shared,
        routers=routers,
        norms=cfg.num_layers * per_layer_norms + h,
    )


def checkpoint_format(cfg: ModelConfig) -> WeightFormat:
    """The format the checkpoint itself stores its linear weights in."""
    if cfg.quant_method is not None:
        if cfg.quant_bits == 4:
            return WeightFormat.INT4
        if cfg.quant_bits == 8:
            return WeightFormat.FP8
    return {4.0: WeightFormat.FP32}.get(
        cfg.dtype_bytes, WeightFormat.FP16 if cfg.dtype == "float16" else WeightFormat.BF16
    )


def weight_bytes(cfg: ModelConfig, params: ParamCount, fmt: WeightFormat) -> int:
    """Bytes of the weights in ``fmt`` (AUTO: the checkpoint's own format)."""
    if fmt is WeightFormat.AUTO:
        fmt = checkpoint_format(cfg)
    unquantized = params.total - params.linear
    if fmt is WeightFormat.FP32:
        return 4 * params.total
    if fmt in (WeightFormat.BF16, WeightFormat.FP16):
        return 2 * params.total
    wide = 4 if cfg.dtype_bytes == 4 else 2
    per_linear = 1 + _FP8_BLOCK_SCALE if fmt is WeightFormat.FP8 else 0.5 + _INT4_GROUP_SCALE
    return round(wide * unquantized + per_linear * params.linear)


def safetensors_bytes(directory: str | Path) -> int | None:
    """The checkpoint's tensor bytes in a model directory, or None when it holds none.

    Uses ``model.safetensors.index.json``'s ``metadata.total_size`` when present, else the
    sum of the ``*.safetensors`` file sizes.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return None
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            total = json.loads(index.read_text(encoding="utf-8"))["metadata"]["total_size"]
            if isinstance(total, int) and total > 0:
                return total
        except (ValueError, KeyError, TypeError, OSError):
            pass
    files = sorted(folder.glob("*.safetensors"))
    return sum(f.stat().st_size for f in files) if files else None


def estimate_weights(
    cfg: ModelConfig, fmt: WeightFormat, *, directory: str | Path | None = None
) -> WeightEstimate:
    """Weight memory of ``cfg`` in ``fmt``; the real file size for AUTO with a directory."""
    params = count_parameters(cfg)
    resolved = checkpoint_format(cfg) if fmt is WeightFormat.AUTO else fmt
    if fmt is WeightFormat.AUTO and directory is not None:
        real = safetensors_bytes(directory)
        if real is not None:
            return WeightEstimate(params, resolved, real, from_files=True)
    return WeightEstimate(params, resolved, weight_bytes(cfg, params, resolved))
