"""From a GPU budget to tokens, sequences and a tensor-parallel size, or why it does not fit.

Per GPU, vLLM gives the KV cache what is left of ``memory × gpu_memory_utilization`` after
the weights (sharded over the tensor-parallel GPUs) and the activation/graph overhead it
measures at start-up; :func:`plan_model` models that overhead as ``overhead_gib``. A model
fits when one sequence of the requested context fits in that budget. The smallest
tensor-parallel size that fits is chosen; when none does, the plan says by how much and
what would fit: more GPUs, fp8 weights, fp8 KV cache, a shorter context.

Example:
    >>> plan = plan_model("reasoner", cfg, weights_for, Hardware(find_gpu("h200"), 8),
    ...                   PlanOptions(context=32768))  # doctest: +SKIP
    >>> plan.fits, plan.tp, plan.sequences
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from orchestrator.capacity.flags import ServeSettings
from orchestrator.capacity.gpus import GIB, GpuSpec, vllm_scheduler_defaults
from orchestrator.capacity.kv_cache import KVCacheDtype, KVCacheShape, kv_shape
from orchestrator.capacity.model_config import AttentionKind, ModelConfig
from orchestrator.capacity.weights import WeightEstimate, WeightFormat, checkpoint_format
from orchestrator.exceptions import ConfigError

__all__ = [
    "DEFAULT_OVERHEAD_GIB",
    "Hardware",
    "PlanOptions",
    "RolePlan",
    "WeightsFor",
    "plan_model",
    "tp_splits",
    "valid_tp_sizes",
]

DEFAULT_OVERHEAD_GIB = 4.0
"""Per-GPU memory assumed for activations, CUDA graphs and communication buffers. vLLM
measures the real figure at start-up (its log's "Available KV cache memory" line)."""
_MAX_TP = 64

WeightsFor = Callable[[WeightFormat], WeightEstimate]


@dataclass(frozen=True)
class Hardware:
    """GPUs available to one role.

    Attributes:
        gpu: the GPU model.
        count: GPUs available (the tensor-parallel size is chosen up to this).
        utilization: ``--gpu-memory-utilization``.
        overhead_gib: per-GPU memory that is neither weights nor KV cache.
        kv_budget_gib: a fixed KV budget per GPU (e.g. vLLM on CPU's
            ``VLLM_CPU_KVCACHE_SPACE``); when set, memory, weights and overhead are ignored.
    """

    gpu: GpuSpec
    count: int = 1
    utilization: float = 0.9
    overhead_gib: float = DEFAULT_OVERHEAD_GIB
    kv_budget_gib: float | None = None


@dataclass(frozen=True)
class PlanOptions:
    """What to plan for.

    Attributes:
        context: tokens per sequence (``--max-model-len``).
        weight_format: weight format (AUTO: the checkpoint's).
        kv_dtype: KV cache dtype.
        tp: a fixed tensor-parallel size (None: the smallest that fits).
        block_size: KV cache block size in tokens (vLLM's default is 16).
        in_flight_tokens: tokens of one scheduler batch (``--max-num-batched-tokens``) that
            windowed layers reserve on top of their window (None: vLLM's default).
        max_num_seqs_cap: the most ``--max-num-seqs`` written (None: vLLM's default).
    """

    context: int
    weight_format: WeightFormat = WeightFormat.AUTO
    kv_dtype: KVCacheDtype = KVCacheDtype.AUTO
    tp: int | None = None
    block_size: int = 16
    in_flight_tokens: int | None = None
    max_num_seqs_cap: int | None = None


@dataclass(frozen=True)
class RolePlan:
    """The plan for one role.

    Attributes:
        role: the role (or model) name.
        model: its config.
        weights: weight estimate in the planned format.
        hardware: the GPUs planned on.
        options: what was asked for.
        tp: tensor-parallel size planned (the largest tried when nothing fits).
        kv: the per-GPU KV cache shape at ``tp``.
        kv_model: the model's whole KV cache shape (as at tensor-parallel size 1).
        usable_bytes: per-GPU memory vLLM may use.
        weights_per_gpu: weight bytes per GPU.
        kv_budget: per-GPU KV budget (negative when the weights alone do not fit).
        kv_tokens: concurrency × context, what vLLM logs as its "KV cache size" in tokens.
        concurrency: sequences of ``options.context`` tokens the budget holds (vLLM's
            "Maximum concurrency").
        sequences: whole sequences of ``options.context`` tokens that fit at once.
        fits: whether at least one sequence fits.
        reason: why it does not fit, with the shortfall.
        suggestions: settings that would fit, each as one phrase.
        settings: the ``vllm serve`` settings (None when it does not fit).
    """

    role: str
    model: ModelConfig
    weights: WeightEstimate
    hardware: Hardware
    options: PlanOptions
    tp: int
    kv: KVCacheShape
    kv_model: KVCacheShape
    usable_bytes: int
    weights_per_gpu: int
    kv_budget: int
    kv_tokens: int
    concurrency: float
    sequences: int
    fits: bool
    reason: str | None = None
    suggestions: tuple[str, ...] = ()
    settings: ServeSettings | None = None
    notes: tuple[str, ...] = field(default=())

    def sequences_at(self, context: int) -> int:
        """Sequences of ``context`` tokens this plan's budget holds at once."""
        o = self.options
        return int(
            self.kv.concurrency(self.kv_budget, context, o.block_size, o.in_flight_tokens or 0)
        )


def tp_splits(cfg: ModelConfig, tp: int) -> bool:
    """Whether vLLM can shard ``cfg`` over ``tp`` GPUs: the attention heads split evenly, and
    GQA key/value heads split evenly or are replicated evenly."""
    att = cfg.attention
    heads_ok = att.num_heads % tp == 0
    kv_ok = att.kind is AttentionKind.MLA or att.kv_heads % tp == 0 or tp % att.kv_heads == 0
    return heads_ok and kv_ok


def valid_tp_sizes(cfg: ModelConfig, limit: int) -> list[int]:
    """Powers of two up to ``limit`` that ``cfg`` can be sharded over (see :func:`tp_splits`)."""
    sizes, tp = [], 1
    while tp <= limit:
        if tp_splits(cfg, tp):
            sizes.append(tp)
        tp *= 2
    return sizes


def _evaluate(
    role: str, cfg: ModelConfig, weights: WeightEstimate, hw: Hardware, opts: PlanOptions, tp: int
) -> RolePlan:
    kv = kv_shape(cfg, opts.kv_dtype, tp)
    if hw.kv_budget_gib is not None:
        usable = budget = int(hw.kv_budget_gib * GIB)
        per_gpu = weights.bytes // tp
    else:
        usable = int(hw.gpu.memory_bytes * hw.utilization)
        per_gpu = -(-weights.bytes // tp)
        budget = usable - per_gpu - int(hw.overhead_gib * GIB)
    conc = kv.concurrency(budget, opts.context, opts.block_size, opts.in_flight_tokens or 0)
    seqs = int(conc)
    return RolePlan(
        role=role,
        model=cfg,
        weights=weights,
        hardware=hw,
        options=opts,
        tp=tp,
        kv=kv,
        kv_model=kv_shape(cfg, opts.kv_dtype, 1),
        usable_bytes=usable,
        weights_per_gpu=per_gpu,
        kv_budget=budget,
        kv_tokens=int(conc * opts.context),
        concurrency=conc,
        sequences=seqs,
        fits=seqs >= 1,
    )


def plan_model(
    role: str, cfg: ModelConfig, weights_for: WeightsFor, hw: Hardware, opts: PlanOptions
) -> RolePlan:
    """Plan one model on ``hw`` for ``opts``.

    Args:
        role: name shown in the report.
        cfg: the model's config.
        weights_for: weight estimate per format (see
            :func:`~orchestrator.capacity.weights.estimate_weights`).
        hw: the GPUs available.
        opts: context, formats, tensor-parallel size.

    Returns:
        The plan; ``fits`` False with ``reason`` and ``suggestions`` when nothing fits.

    Raises:
        ConfigError: ``opts.tp`` is not a tensor-parallel size the model can be split into.
    """
    batched, max_seqs = vllm_scheduler_defaults(None if hw.kv_budget_gib is not None else hw.gpu)
    opts = replace(
        opts,
        in_flight_tokens=batched if opts.in_flight_tokens is None else opts.in_flight_tokens,
        max_num_seqs_cap=opts.max_num_seqs_cap or max_seqs,
    )
    if opts.tp and not tp_splits(cfg, opts.tp):
        att = cfg.attention
        kv = "" if att.kind is AttentionKind.MLA else f" ({att.kv_heads} key/value heads)"
        raise ConfigError(
            f"{role}: tensor-parallel size {opts.tp} does not split {att.num_heads} attention "
            f"heads{kv} evenly; use one of "
            f"{', '.join(map(str, valid_tp_sizes(cfg, _MAX_TP)))}"
        )
    weights = weights_for(opts.weight_format)
    sizes = [opts.tp] if opts.tp else valid_tp_sizes(cfg, hw.count) or [1]
    tried = [_evaluate(role, cfg, weights, hw, opts, tp) for tp in sizes]
    chosen = next((p for p in tried if p.fits), None)
    if chosen is not None:
        return replace(chosen, settings=_settings(chosen), notes=_notes(chosen))
    worst = tried[-1]
    return replace(
        worst,
        reason=_shortfall(worst),
        suggestions=tuple(_suggestions(role, cfg, weights_for, hw, opts)),
        notes=_notes(worst),
    )


def _settings(plan: RolePlan) -> ServeSettings:
    opts, cfg = plan.options, plan.model
    quantization = None
    if opts.weight_format is WeightFormat.FP8 and checkpoint_format(cfg) is not WeightFormat.FP8:
        quantization = "fp8"
    return ServeSettings(
        tensor_parallel_size=plan.tp,
        max_model_len=opts.context,
        max_num_seqs=max(1, min(plan.sequences, opts.max_num_seqs_cap or plan.sequences)),
        gpu_memory_utilization=None
        if plan.hardware.kv_budget_gib is not None
        else plan.hardware.utilization,
        kv_cache_dtype="fp8" if opts.kv_dtype is KVCacheDtype.FP8 else None,
        quantization=quantization,
    )


def _notes(plan: RolePlan) -> tuple[str, ...]:
    notes = []
    cfg, fmt = plan.model, plan.options.weight_format
    if fmt is WeightFormat.INT4 and checkpoint_format(cfg) is not WeightFormat.INT4:
        notes.append("int4 needs an AWQ or GPTQ checkpoint; vLLM does not make one at load")
    if cfg.has_vision and not plan.weights.from_files:
        notes.append("the vision tower is not counted; give the model directory for real sizes")
    if cfg.attention.kind is AttentionKind.MLA and plan.tp > 1:
        notes.append("MLA's latent cache is replicated on every tensor-parallel GPU")
    return tuple(notes)


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def _shortfall(plan: RolePlan) -> str:
    hw, ctx = plan.hardware, plan.options.context
    if hw.kv_budget_gib is None:
        free = plan.usable_bytes - int(hw.overhead_gib * GIB)
        if plan.weights_per_gpu > free:
            return (
                f"weights need {_gib(plan.weights_per_gpu)} per GPU at tensor-parallel size "
                f"{plan.tp}, but {_gib(free)} is usable ({hw.gpu.label} × "
                f"{hw.utilization:g} minus {hw.overhead_gib:g} GiB overhead): short by "
                f"{_gib(plan.weights_per_gpu - free)}"
            )
    o = plan.options
    need = plan.kv.sequence_bytes(ctx, o.block_size, o.in_flight_tokens or 0)
    return (
        f"one sequence of {ctx:,} tokens needs {_gib(need)} of KV cache per GPU, but "
        f"{_gib(max(plan.kv_budget, 0))} is left at tensor-parallel size {plan.tp}: short by "
        f"{_gib(need - max(plan.kv_budget, 0))}"
    )


def _suggestions(
    role: str, cfg: ModelConfig, weights_for: WeightsFor, hw: Hardware, opts: PlanOptions
) -> list[str]:
    out: list[str] = []

    def fits(h: Hardware, o: PlanOptions) -> RolePlan | None:
        sizes = [o.tp] if o.tp else valid_tp_sizes(cfg, h.count) or [1]
        w = weights_for(o.weight_format)
        return next((p for tp in sizes if (p := _evaluate(role, cfg, w, h, o, tp)).fits), None)

    if hw.kv_budget_gib is None and not opts.tp:
        more = fits(replace(hw, count=_MAX_TP), opts)
        if more is not None and more.tp > hw.count:
            out.append(f"{more.tp} GPUs (--tensor-parallel-size {more.tp})")
    quantized = (WeightFormat.FP8, WeightFormat.INT4)
    if (
        hw.kv_budget_gib is None
        and opts.weight_format not in quantized
        and checkpoint_format(cfg) not in quantized
        and fits(hw, replace(opts, weight_format=WeightFormat.FP8))
    ):
        out.append("fp8 weights (--quantization fp8)")
    if opts.kv_dtype is KVCacheDtype.AUTO and fits(hw, replace(opts, kv_dtype=KVCacheDtype.FP8)):
        out.append("fp8 KV cache (--kv-cache-dtype fp8)")
    best = _evaluate(
        role, cfg, weights_for(opts.weight_format), hw, opts,
        opts.tp or (valid_tp_sizes(cfg, hw.count) or [1])[-1],
    )  # fmt: skip
    flight = opts.in_flight_tokens or 0
    longest = (
        best.kv.max_context(best.kv_budget, opts.block_size, flight) if best.kv_budget > 0 else 0
    )
    if longest > 0:
        out.append(f"a context of {longest:,} tokens (--max-model-len {longest})")
    return out
