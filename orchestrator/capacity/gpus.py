"""Built-in GPU memory table, and ``--gpu-mem`` for anything else.

Capacities are the vendors' marketed sizes, read as GiB. What ``nvidia-smi`` reports as
``memory.total`` can differ slightly from the marketed size; pass that figure with
``--gpu-mem`` when you want the exact budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.exceptions import ConfigError

__all__ = ["GIB", "GPUS", "GpuSpec", "find_gpu", "gpu_names", "vllm_scheduler_defaults"]

GIB = 1024**3


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model.

    Attributes:
        name: table key, e.g. ``h100``.
        label: what to print, e.g. ``H100 80GB``.
        memory_gib: memory per GPU.
    """

    name: str
    label: str
    memory_gib: float

    @property
    def memory_bytes(self) -> int:
        """Memory per GPU in bytes."""
        return int(self.memory_gib * GIB)


GPUS: dict[str, GpuSpec] = {
    g.name: g
    for g in (
        GpuSpec("h100", "H100 80GB", 80.0),
        GpuSpec("h200", "H200 141GB", 141.0),
        GpuSpec("b200", "B200 180GB", 180.0),
        GpuSpec("a100-80", "A100 80GB", 80.0),
        GpuSpec("a100-40", "A100 40GB", 40.0),
        GpuSpec("l40s", "L40S 48GB", 48.0),
        GpuSpec("rtx4090", "RTX 4090 24GB", 24.0),
    )
}
"""The built-in table, by name."""

_ALIASES = {"a100": "a100-80", "4090": "rtx4090", "rtx-4090": "rtx4090", "h100-80": "h100"}


def gpu_names() -> list[str]:
    """The names ``--gpu`` accepts."""
    return list(GPUS)


def find_gpu(name: str | None, memory_gib: float | None = None) -> GpuSpec:
    """The GPU called ``name`` (default h100), or a custom one of ``memory_gib`` GiB.

    Raises:
        ConfigError: an unknown name, or a non-positive memory size.
    """
    if memory_gib is not None:
        if memory_gib <= 0:
            raise ConfigError(f"--gpu-mem must be positive, got {memory_gib:g}")
        label = f"{name or 'custom'} {memory_gib:g}GiB"
        return GpuSpec(name or "custom", label, memory_gib)
    key = (name or "h100").lower().replace("_", "-").replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in GPUS:
        known = ", ".join(GPUS)
        raise ConfigError(f"unknown GPU {name!r}; use one of {known}, or --gpu-mem GiB")
    return GPUS[key]


def vllm_scheduler_defaults(gpu: GpuSpec | None) -> tuple[int, int]:
    """vLLM's default ``(max_num_batched_tokens, max_num_seqs)`` for ``vllm serve`` on ``gpu``.

    As vLLM 0.32's ``EngineArgs`` sets them (``vllm/engine/arg_utils.py``): 16,384 and 1,024
    from 160 GiB of GPU memory, 8,192 and 1,024 from 70 GiB (A100 excepted), else 2,048 and
    256; on CPU (``gpu`` None) 2,048 and 128.
    """
    if gpu is None:
        return 2048, 128
    if gpu.memory_gib >= 160:
        return 16384, 1024
    if gpu.memory_gib >= 70 and "a100" not in gpu.name:
        return 8192, 1024
    return 2048, 256
