"""What ``bicameral plan`` prints: a rich table per role, a side-by-side comparison, or JSON.

:func:`plans_to_json` and :func:`render_plans` show the same facts: per role the memory split
(weights, overhead, KV budget per GPU), KV bytes per token (global and windowed layers), the
tokens and sequences that fit at the planned context, the ``vllm serve`` flags, or why it
does not fit and what would. With two or more roles, a comparison adds sequences at 8k, 32k
and 128k and, for MLA models, what the latent cache saves against GQA and MHA baselines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from orchestrator.capacity.fit import RolePlan
from orchestrator.capacity.gpus import GIB
from orchestrator.capacity.kv_cache import Baseline, KVCacheDtype, mla_baselines
from orchestrator.capacity.model_config import LayerKind

__all__ = ["COMPARE_CONTEXTS", "comparison", "plans_to_json", "render_plans"]

COMPARE_CONTEXTS = (8192, 32768, 131072)
"""Context lengths of the side-by-side table."""


def _gib(n: float) -> float:
    return round(n / GIB, 2)


def _baselines(plan: RolePlan, gqa: tuple[int, int]) -> list[Baseline]:
    return mla_baselines(
        plan.model, plan.options.kv_dtype, gqa_kv_heads=gqa[0], gqa_head_dim=gqa[1]
    )


def _gqa_reference(plans: Sequence[RolePlan]) -> tuple[int, int]:
    """KV heads × head dim of the first GQA role (the planner), else Scout's 8 × 128."""
    for plan in plans:
        att = plan.model.attention
        if att.kind.value in ("gqa", "mha"):
            return att.kv_heads, att.k_head_dim
    return 8, 128


def plan_to_dict(plan: RolePlan) -> dict[str, Any]:
    """One role's plan as JSON-ready data."""
    kv, cfg = plan.kv_model, plan.model
    return {
        "role": plan.role,
        "config": cfg.source,
        "model_type": cfg.model_type,
        "attention": cfg.attention.kind.value,
        "layers": {
            "global": kv.global_layers,
            "windowed": kv.windowed_layers,
            "window": kv.window,
            "window_kind": kv.window_kind.value if kv.window_kind else None,
        },
        "parameters": plan.weights.params.total,
        "weight_format": plan.weights.format.value,
        "weights_from_files": plan.weights.from_files,
        "weight_bytes": plan.weights.bytes,
        "kv_cache_dtype": plan.options.kv_dtype.value,
        "kv_bytes_per_token": kv.bytes_per_token,
        "kv_bytes_per_token_global": kv.global_bytes_per_token,
        "kv_bytes_per_token_per_gpu": plan.kv.bytes_per_token,
        "gpu": None if plan.hardware.kv_budget_gib is not None else plan.hardware.gpu.label,
        "gpus": plan.hardware.count,
        "tensor_parallel_size": plan.tp,
        "per_gpu": {
            "usable_gib": _gib(plan.usable_bytes),
            "weights_gib": _gib(plan.weights_per_gpu),
            "overhead_gib": None if plan.hardware.kv_budget_gib else plan.hardware.overhead_gib,
            "kv_budget_gib": _gib(plan.kv_budget),
        },
        "context": plan.options.context,
        "kv_tokens": plan.kv_tokens,
        "concurrency": round(plan.concurrency, 2),
        "max_num_batched_tokens": plan.options.in_flight_tokens,
        "sequences": plan.sequences,
        "fits": plan.fits,
        "reason": plan.reason,
        "suggestions": list(plan.suggestions),
        "notes": list(plan.notes),
        "vllm_flags": plan.settings.argv() if plan.settings else None,
        "serve": plan.settings.serve_keys() if plan.settings else None,
    }


def comparison(plans: Sequence[RolePlan]) -> dict[str, Any]:
    """The side-by-side facts: bytes per token, sequences at 8k/32k/128k, MLA savings."""
    gqa = _gqa_reference(plans)
    rows = []
    for plan in plans:
        limit = plan.model.max_position_embeddings
        rows.append(
            {
                "role": plan.role,
                "attention": plan.model.attention.kind.value,
                "kv_bytes_per_token": plan.kv_model.bytes_per_token,
                "kv_bytes_per_token_global": plan.kv_model.global_bytes_per_token,
                "sequences": {
                    str(c): (None if limit and c > limit else plan.sequences_at(c))
                    for c in COMPARE_CONTEXTS
                },
                "mla_savings": [
                    {"baseline": b.name, "bytes_per_token": b.bytes_per_token, "saving": b.saving}
                    for b in _baselines(plan, gqa)
                ],
            }
        )
    return {"contexts": list(COMPARE_CONTEXTS), "roles": rows}


def plans_to_json(plans: Sequence[RolePlan]) -> dict[str, Any]:
    """Everything ``--json`` prints."""
    out: dict[str, Any] = {"roles": [plan_to_dict(p) for p in plans]}
    if len(plans) > 1:
        out["comparison"] = comparison(plans)
    return out


def _kv_text(plan: RolePlan) -> str:
    kv = plan.kv_model
    per_gpu = ""
    if plan.kv.layer_bytes != kv.layer_bytes:
        per_gpu = f" (per GPU at tensor-parallel {plan.tp}: {round(plan.kv.layer_bytes):,}/layer)"
    if not kv.windowed_layers:
        return f"{kv.bytes_per_token:,} B/token ({kv.global_layers} layers){per_gpu}"
    kind = "chunked" if kv.window_kind is LayerKind.CHUNKED else "sliding"
    return (
        f"{round(kv.layer_bytes):,} B/token/layer; {kv.global_layers} global layers "
        f"({kv.global_bytes_per_token:,} B/token) + {kv.windowed_layers} {kind} layers "
        f"capped at {kv.window:,} tokens{per_gpu}"
    )


def render_plans(plans: Sequence[RolePlan], console: Console) -> None:
    """Print the per-role tables and, for two or more roles, the comparison."""
    for plan in plans:
        hw = plan.hardware
        table = Table(title=f"{plan.role}: {plan.model.source}", show_header=False)
        table.add_column("", style="bold")
        table.add_column("")
        fmt = plan.weights.format.value + (" (files)" if plan.weights.from_files else "")
        table.add_row(
            "model",
            f"{plan.model.model_type}, {plan.model.attention.kind.value.upper()}, "
            f"{plan.weights.params.total / 1e9:.1f}B parameters",
        )
        table.add_row("weights", f"{plan.weights.bytes / GIB:.1f} GiB {fmt}")
        kv_dtype = plan.options.kv_dtype
        dtype = plan.model.dtype if kv_dtype is KVCacheDtype.AUTO else kv_dtype.value
        table.add_row(f"KV cache ({dtype})", _kv_text(plan))
        if hw.kv_budget_gib is None:
            table.add_row("GPUs", f"{hw.count} × {hw.gpu.label}, tensor-parallel {plan.tp}")
            table.add_row(
                "per GPU",
                f"{plan.usable_bytes / GIB:.1f} GiB usable = {plan.weights_per_gpu / GIB:.1f} "
                f"weights + {hw.overhead_gib:g} overhead + {max(plan.kv_budget, 0) / GIB:.1f} KV",
            )
        else:
            table.add_row(
                "KV budget",
                f"{hw.kv_budget_gib:g} GiB per device (given), tensor-parallel {plan.tp}",
            )
        table.add_row(
            f"at {plan.options.context:,} tokens",
            f"{plan.kv_tokens:,} KV tokens; concurrency {plan.concurrency:.2f}x "
            f"({plan.sequences:,} whole sequences at once)",
        )
        if plan.settings:
            table.add_row("vllm serve", " ".join(plan.settings.argv()))
        else:
            table.add_row("[red]does not fit[/red]", plan.reason or "")
            for s in plan.suggestions:
                table.add_row("would fit", s)
        for note in plan.notes:
            table.add_row("note", note)
        console.print(table)
    if len(plans) > 1:
        _render_comparison(plans, console)


def _render_comparison(plans: Sequence[RolePlan], console: Console) -> None:
    data = comparison(plans)
    table = Table(title="side by side (sequences at each role's tensor-parallel size)")
    table.add_column("role")
    table.add_column("KV bytes/token")
    for c in COMPARE_CONTEXTS:
        table.add_column(f"seqs @ {c // 1024}k", justify="right")
    for row in data["roles"]:
        seqs = ["-" if v is None else f"{v:,}" for v in row["sequences"].values()]
        bpt = f"{row['kv_bytes_per_token']:,}"
        if row["kv_bytes_per_token_global"] != row["kv_bytes_per_token"]:
            bpt += f" ({row['kv_bytes_per_token_global']:,} global)"
        table.add_row(f"{row['role']} ({row['attention']})", bpt, *seqs)
    console.print(table)
    for row in data["roles"]:
        for b in row["mla_savings"]:
            console.print(
                f"{row['role']}: MLA {row['kv_bytes_per_token']:,} B/token vs {b['baseline']} "
                f"{b['bytes_per_token']:,} B/token: {b['saving']:.1%} smaller"
            )
