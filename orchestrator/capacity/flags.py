"""The ``vllm serve`` settings a plan leads to, as flags and as ``serve:`` keys.

The keys are :class:`~orchestrator.config.spec.ServeSpec` field names, so ``bicameral plan --write``
stores them in a pipeline and ``bicameral serve`` turns them back into these flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ServeSettings"]


@dataclass(frozen=True)
class ServeSettings:
    """Settings for one ``vllm serve``.

    Attributes:
        tensor_parallel_size: GPUs the model is sharded over.
        max_model_len: context length.
        max_num_seqs: sequences scheduled at once.
        gpu_memory_utilization: fraction of GPU memory vLLM may use (None: leave vLLM's).
        kv_cache_dtype: ``fp8`` or None (vLLM's ``auto``).
        quantization: ``fp8`` to quantize a 16-bit checkpoint at load, or None.
    """

    tensor_parallel_size: int
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float | None
    kv_cache_dtype: str | None
    quantization: str | None

    def argv(self) -> list[str]:
        """The flags, in ``vllm serve`` spelling."""
        args = [
            "--tensor-parallel-size",
            str(self.tensor_parallel_size),
            "--max-model-len",
            str(self.max_model_len),
            "--max-num-seqs",
            str(self.max_num_seqs),
        ]
        if self.gpu_memory_utilization is not None:
            args += ["--gpu-memory-utilization", f"{self.gpu_memory_utilization:g}"]
        if self.kv_cache_dtype:
            args += ["--kv-cache-dtype", self.kv_cache_dtype]
        if self.quantization:
            args += ["--quantization", self.quantization]
        return args

    def serve_keys(self) -> dict[str, Any]:
        """The ``serve:`` section keys; None values mean "remove, use vLLM's default"."""
        return {
            "tensor_parallel_size": self.tensor_parallel_size,
            "max_model_len": self.max_model_len,
            "max_num_seqs": self.max_num_seqs,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "kv_cache_dtype": self.kv_cache_dtype,
            "quantization": self.quantization,
        }
