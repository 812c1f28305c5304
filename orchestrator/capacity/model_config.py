"""A Hugging Face ``config.json`` reduced to what memory planning needs.

:func:`load_model_config` reads a config file (or a model directory holding ``config.json``),
descends into ``text_config`` for multimodal configs (Llama 4), and works out:

* the attention kind: MHA/GQA (``num_key_value_heads`` × ``head_dim``) or Multi-head Latent
  Attention (``kv_lora_rank`` + ``qk_rope_head_dim``, DeepSeek-V2/V3/R1);
* the kind of every layer: global, sliding-window or chunked-local, from ``layer_types``,
  Llama 4's ``no_rope_layers`` / ``attention_chunk_size``, Gemma's ``sliding_window_pattern``
  or Mistral's ``sliding_window``;
* the mixture-of-experts layout (routed and shared experts, which layers are MoE).

Nothing is guessed: a missing field raises :class:`~orchestrator.exceptions.ConfigError`
naming the field and what it is needed for; an attention kind this module does not know
(state-space layers, linear attention) is refused.

Example:
    >>> cfg = load_model_config("tests/fixtures/model_configs/deepseek_v3.json")  # doctest: +SKIP
    >>> cfg.attention.kind, cfg.num_layers
    (<AttentionKind.MLA: 'mla'>, 61)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from orchestrator.capacity.layer_kinds import LayerKind, layer_kinds, refuse_unknown_attention
from orchestrator.exceptions import ConfigError

__all__ = [
    "AttentionKind",
    "AttentionLayout",
    "LayerKind",
    "ModelConfig",
    "MoeLayout",
    "load_model_config",
    "parse_model_config",
]

_DTYPE_BYTES = {
    "float32": 4.0,
    "float": 4.0,
    "float16": 2.0,
    "half": 2.0,
    "bfloat16": 2.0,
}


class AttentionKind(StrEnum):
    """What an attention layer caches per token."""

    MHA = "mha"
    """Multi-head attention: one key and value per query head."""
    GQA = "gqa"
    """Grouped-query attention: fewer key/value heads than query heads."""
    MLA = "mla"
    """Multi-head Latent Attention: one compressed latent plus a shared RoPE key."""


@dataclass(frozen=True)
class AttentionLayout:
    """What each layer's KV cache holds.

    Attributes:
        kind: MHA, GQA or MLA.
        num_heads: query heads.
        kv_heads: key/value heads (MHA/GQA); 1 for MLA (one latent shared by all heads).
        k_head_dim: key width per head (MHA/GQA).
        v_head_dim: value width per head (MHA/GQA; MLA: the decompressed value width).
        kv_lora_rank: MLA latent width.
        qk_rope_head_dim: MLA decoupled RoPE key width.
        qk_nope_head_dim: MLA per-head key width without RoPE.
        layers: the kind of every layer, in order.
        window: tokens a sliding or chunked layer keeps (None when every layer is global).
    """

    kind: AttentionKind
    num_heads: int
    kv_heads: int
    k_head_dim: int
    v_head_dim: int
    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    layers: tuple[LayerKind, ...]
    window: int | None = None

    def count(self, kind: LayerKind) -> int:
        """How many layers are of ``kind``."""
        return sum(1 for k in self.layers if k is kind)


@dataclass(frozen=True)
class MoeLayout:
    """Mixture-of-experts sizes.

    Attributes:
        routed_experts: experts per MoE layer chosen by the router.
        shared_experts: experts every token goes through (DeepSeek ``n_shared_experts``,
            Llama 4's one shared expert).
        expert_intermediate: hidden width of one expert's MLP.
        shared_intermediate: hidden width of one shared expert's MLP.
        moe_layers: indexes of the layers whose MLP is a MoE block.
        experts_per_token: routed experts each token uses.
    """

    routed_experts: int
    shared_experts: int
    expert_intermediate: int
    shared_intermediate: int
    moe_layers: tuple[int, ...]
    experts_per_token: int


@dataclass(frozen=True)
class ModelConfig:
    """The planning view of one model's ``config.json``.

    Attributes:
        source: the file read (for messages).
        model_type: ``model_type`` of the text model.
        hidden_size: model width.
        num_layers: decoder layers.
        vocab_size: vocabulary size.
        intermediate_size: dense MLP width (MoE models: of their dense layers).
        tie_word_embeddings: whether the output head reuses the embedding matrix.
        dtype: the checkpoint's activation dtype name (``torch_dtype``/``dtype``).
        dtype_bytes: bytes per value of that dtype (the KV cache's ``auto`` width).
        quant_method: ``quantization_config.quant_method`` when the checkpoint is quantized.
        quant_bits: bits per quantized weight (fp8: 8, awq/gptq: ``bits``).
        attention: the attention layout.
        moe: the MoE layout, None for dense models.
        max_position_embeddings: the longest context the config declares.
        q_lora_rank: MLA query compression width (None: full query projection).
        has_vision: the config also describes a vision tower (not counted in weights).
    """

    source: str
    model_type: str
    hidden_size: int
    num_layers: int
    vocab_size: int
    intermediate_size: int
    tie_word_embeddings: bool
    dtype: str
    dtype_bytes: float
    quant_method: str | None
    quant_bits: int | None
    attention: AttentionLayout
    moe: MoeLayout | None
    max_position_embeddings: int | None
    q_lora_rank: int | None = None
    has_vision: bool = False


def load_model_config(path: str | Path) -> ModelConfig:
    """Read a ``config.json`` file, or the one in a model directory.

    Raises:
        ConfigError: no such file, not JSON, a field missing, or an attention kind that is
            not supported.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "config.json"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "no such model config (a Hugging Face config.json)", path=str(file)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=str(file)) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON: {exc.msg}", path=str(file), line=exc.lineno) from None
    if not isinstance(raw, dict):
        raise ConfigError("a config.json must hold a JSON object", path=str(file))
    return parse_model_config(raw, source=str(file))


def parse_model_config(raw: Mapping[str, Any], *, source: str = "<config>") -> ModelConfig:
    """Like :func:`load_model_config`, for an already-parsed mapping.

    Raises:
        ConfigError: as for :func:`load_model_config`.
    """
    outer = raw
    text = raw.get("text_config")
    cfg: Mapping[str, Any] = text if isinstance(text, Mapping) else raw
    fields = _Fields(cfg, source)
    refuse_unknown_attention(cfg, source)
    num_layers = fields.int("num_hidden_layers", "to count layers for weights and KV cache")
    hidden = fields.int("hidden_size", "to size the weight matrices")
    num_heads = fields.int("num_attention_heads", "to size attention")
    dtype = _dtype_name(cfg, outer)
    quant = cfg.get("quantization_config") or outer.get("quantization_config")
    quant_method, quant_bits = _quantization(quant)
    attention = _attention(cfg, fields, num_layers, hidden, num_heads, source)
    return ModelConfig(
        source=source,
        model_type=str(cfg.get("model_type") or outer.get("model_type") or "unknown"),
        hidden_size=hidden,
        num_layers=num_layers,
        vocab_size=fields.int("vocab_size", "to size the embedding and output head"),
        intermediate_size=_dense_intermediate(cfg, fields),
        tie_word_embeddings=bool(
            cfg.get("tie_word_embeddings", outer.get("tie_word_embeddings", False))
        ),
        dtype=dtype,
        dtype_bytes=_DTYPE_BYTES.get(dtype, 2.0),
        quant_method=quant_method,
        quant_bits=quant_bits,
        attention=attention,
        moe=_moe(cfg, fields, num_layers),
        max_position_embeddings=_opt_int(cfg.get("max_position_embeddings")),
        q_lora_rank=_opt_int(cfg.get("q_lora_rank")),
        has_vision=isinstance(outer.get("vision_config"), Mapping),
    )


class _Fields:
    """Required-field access that says which field is missing and why it is needed."""

    def __init__(self, cfg: Mapping[str, Any], source: str) -> None:
        self.cfg = cfg
        self.source = source

    def int(self, name: str, why: str) -> int:
        value = self.cfg.get(name)
        if value is None:
            raise ConfigError(f"field {name!r} is missing; it is needed {why}", path=self.source)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(
                f"field {name!r} must be a non-negative integer, got {value!r}", path=self.source
            )
        return value


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dtype_name(cfg: Mapping[str, Any], outer: Mapping[str, Any]) -> str:
    for mapping in (cfg, outer):
        for key in ("torch_dtype", "dtype"):
            value = mapping.get(key)
            if isinstance(value, str):
                return value.removeprefix("torch.")
    return "bfloat16"


def _quantization(quant: Any) -> tuple[str | None, int | None]:
    if not isinstance(quant, Mapping):
        return None, None
    method = str(quant.get("quant_method") or quant.get("quant_type") or "unknown").lower()
    bits = quant.get("bits") or quant.get("w_bit") or quant.get("num_bits")
    if isinstance(bits, int):
        return method, bits
    return method, 8 if "fp8" in method or method in {"fbgemm_fp8", "modelopt"} else None


def _attention(
    cfg: Mapping[str, Any],
    fields: _Fields,
    num_layers: int,
    hidden: int,
    num_heads: int,
    source: str,
) -> AttentionLayout:
    layers, window = layer_kinds(cfg, num_layers, source)
    if cfg.get("kv_lora_rank") is not None:
        why = "for the Multi-head Latent Attention cache (kv_lora_rank is set)"
        rope = fields.int("qk_rope_head_dim", why)
        return AttentionLayout(
            kind=AttentionKind.MLA,
            num_heads=num_heads,
            kv_heads=1,
            k_head_dim=0,
            v_head_dim=fields.int("v_head_dim", "to size the MLA output projection"),
            kv_lora_rank=fields.int("kv_lora_rank", why),
            qk_rope_head_dim=rope,
            qk_nope_head_dim=fields.int("qk_nope_head_dim", "to size the MLA projections"),
            layers=layers,
            window=window,
        )
    kv_heads = cfg.get("num_key_value_heads")
    kv = num_heads if kv_heads is None else fields.int("num_key_value_heads", "")
    head_dim = _opt_int(cfg.get("head_dim"))
    if head_dim is None:
        if num_heads == 0 or hidden % num_heads:
            raise ConfigError(
                "field 'head_dim' is missing and hidden_size is not a multiple of "
                "num_attention_heads; it is needed to size the KV cache",
                path=source,
            )
        head_dim = hidden // num_heads
    if kv == 0 or num_heads % kv:
        raise ConfigError(
            f"num_attention_heads ({num_heads}) is not a multiple of num_key_value_heads ({kv})",
            path=source,
        )
    return AttentionLayout(
        kind=AttentionKind.MHA if kv == num_heads else AttentionKind.GQA,
        num_heads=num_heads,
        kv_heads=kv,
        k_head_dim=head_dim,
        v_head_dim=head_dim,
        kv_lora_rank=0,
        qk_rope_head_dim=0,
        qk_nope_head_dim=0,
        layers=layers,
        window=window,
    )


def _dense_intermediate(cfg: Mapping[str, Any], fields: _Fields) -> int:
    if cfg.get("intermediate_size_mlp") is not None:  # Llama 4: dense layers' width
        return fields.int("intermediate_size_mlp", "")
    return fields.int("intermediate_size", "to size the MLP weights")


def _moe(cfg: Mapping[str, Any], fields: _Fields, num_layers: int) -> MoeLayout | None:
    if cfg.get("n_routed_experts"):  # DeepSeek-V2/V3/R1
        why = "to size the experts (n_routed_experts is set)"
        first_dense = _opt_int(cfg.get("first_k_dense_replace")) or 0
        freq = _opt_int(cfg.get("moe_layer_freq")) or 1
        inter = fields.int("moe_intermediate_size", why)
        return MoeLayout(
            routed_experts=fields.int("n_routed_experts", why),
            shared_experts=_opt_int(cfg.get("n_shared_experts")) or 0,
            expert_intermediate=inter,
            shared_intermediate=inter,
            moe_layers=tuple(i for i in range(num_layers) if i >= first_dense and i % freq == 0),
            experts_per_token=_opt_int(cfg.get("num_experts_per_tok")) or 0,
        )
    if cfg.get("num_local_experts"):
        why = "to size the experts (num_local_experts is set)"
        experts = fields.int("num_local_experts", why)
        inter = fields.int("intermediate_size", why)
        is_llama4 = "intermediate_size_mlp" in cfg or "interleave_moe_layer_step" in cfg
        listed = cfg.get("moe_layers")
        if isinstance(listed, list) and listed:
            layers = tuple(int(i) for i in listed)
        elif is_llama4:
            step = _opt_int(cfg.get("interleave_moe_layer_step")) or 1
            layers = tuple(range(step - 1, num_layers, step))
        else:  # Mixtral-style: every layer
            layers = tuple(range(num_layers))
        return MoeLayout(
            routed_experts=experts,
            shared_experts=1 if is_llama4 else 0,
            expert_intermediate=inter,
            shared_intermediate=inter,
            moe_layers=layers,
            experts_per_token=_opt_int(cfg.get("num_experts_per_tok")) or 0,
        )
    return None
