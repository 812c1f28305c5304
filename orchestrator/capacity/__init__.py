"""Capacity planning: what fits on which GPUs, from the models' own ``config.json``.

Modules: :mod:`~orchestrator.capacity.model_config` (reading a config: attention kind,
layer kinds, experts), :mod:`~orchestrator.capacity.weights` (parameters and weight bytes),
:mod:`~orchestrator.capacity.kv_cache` (KV bytes per token and per sequence),
:mod:`~orchestrator.capacity.gpus` (GPU table), :mod:`~orchestrator.capacity.fit` (budget to
tokens, sequences and tensor-parallel size), :mod:`~orchestrator.capacity.flags` (``vllm
serve`` settings), :mod:`~orchestrator.capacity.report` (tables and JSON),
:mod:`~orchestrator.capacity.serve_yaml` (``--write``) and
:mod:`~orchestrator.cli.plan_command` (the ``bicameral plan`` command).
"""

from orchestrator.capacity.fit import Hardware, PlanOptions, RolePlan, plan_model
from orchestrator.capacity.gpus import GpuSpec, find_gpu
from orchestrator.capacity.kv_cache import KVCacheDtype, KVCacheShape, kv_shape, mla_baselines
from orchestrator.capacity.model_config import (
    AttentionKind,
    LayerKind,
    ModelConfig,
    load_model_config,
)
from orchestrator.capacity.weights import WeightFormat, count_parameters, estimate_weights

__all__ = [
    "AttentionKind",
    "GpuSpec",
    "Hardware",
    "KVCacheDtype",
    "KVCacheShape",
    "LayerKind",
    "ModelConfig",
    "PlanOptions",
    "RolePlan",
    "WeightFormat",
    "count_parameters",
    "estimate_weights",
    "find_gpu",
    "kv_shape",
    "load_model_config",
    "mla_baselines",
    "plan_model",
]
