"""`bicameral plan` against a real vLLM start-up, replayed from a recorded fixture.

tests/fixtures/vllm_kv_cache/smollm2_cpu.json holds the log lines of vLLM 0.32.0 on CPU
serving SmolLM2-135M in float32 with VLLM_CPU_KVCACHE_SPACE=2 (a 2 GiB KV budget) and
--max-model-len 2048; the model's config.json is tests/fixtures/model_configs/smollm2_135m.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchestrator.capacity.fit import Hardware, PlanOptions, plan_model
from orchestrator.capacity.gpus import find_gpu
from orchestrator.capacity.model_config import load_model_config
from orchestrator.capacity.weights import estimate_weights

ROOT = Path(__file__).parents[2]
RECORD = json.loads((ROOT / "tests/fixtures/vllm_kv_cache/smollm2_cpu.json").read_text())


def _reported() -> tuple[int, float]:
    line = next(x for x in RECORD["log_lines"] if "KV cache size" in x)
    m = re.search(r"KV cache size: ([\d,]+) tokens, Maximum concurrency for ([\d,]+) tokens "
                  r"per request: ([\d.]+)x", line)  # fmt: skip
    assert m is not None, line
    assert int(m[2].replace(",", "")) == RECORD["max_model_len"]
    return int(m[1].replace(",", "")), float(m[3])


def test_plan_predicts_the_kv_cache_vllm_reported() -> None:
    tokens, concurrency = _reported()
    assert (tokens, concurrency) == (46_592, 22.75)
    cfg = load_model_config(ROOT / RECORD["model_config"])
    plan = plan_model(
        "smol",
        cfg,
        lambda fmt: estimate_weights(cfg, fmt),
        Hardware(find_gpu(None, 1.0), kv_budget_gib=RECORD["kv_budget_gib"]),
        PlanOptions(context=RECORD["max_model_len"]),
    )
    # 2 GiB / (30 layers x 2 x 3 KV heads x 64 x 4 bytes = 46,080 B/token), in 16-token blocks
    assert plan.kv.bytes_per_token == 46_080
    assert plan.kv_tokens == tokens
    assert plan.concurrency == concurrency  # 2,912 blocks of 16 tokens / 128 per request
    assert plan.sequences == int(concurrency)  # 22 whole sequences of 2,048 tokens
    assert plan.kv_tokens / RECORD["max_model_len"] == concurrency
    assert plan.settings is not None and plan.settings.gpu_memory_utilization is None
