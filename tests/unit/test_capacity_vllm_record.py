"""`bicameral plan` against vLLM itself, replayed from recorded fixtures.

tests/fixtures/vllm_kv_cache/smollm2_cpu.json holds the log lines of a real vLLM 0.32.0 start-up
on CPU serving SmolLM2-135M in float32 with VLLM_CPU_KVCACHE_SPACE=2 (a 2 GiB KV budget) and
--max-model-len 2048; the model's config.json is tests/fixtures/model_configs/smollm2_135m.json.
tests/fixtures/vllm_kv_cache/vllm_accounting.json holds what vLLM 0.32.0's KV-cache sizing code
computes for the layer layouts of Llama 4 Scout (hybrid: 12 global + 36 chunked layers) and
DeepSeek-V3/R1 (MLA), recorded by record_vllm_accounting.py next to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.capacity.fit import Hardware, PlanOptions, plan_model
from orchestrator.capacity.gpus import find_gpu
from orchestrator.capacity.kv_cache import KVCacheDtype, kv_shape
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


ACCOUNTING = json.loads((ROOT / "tests/fixtures/vllm_kv_cache/vllm_accounting.json").read_text())
LAYOUTS = {
    "scout_tp2": ("llama4_scout_17b_16e_instruct.json", 2),
    "deepseek_r1_tp8": ("deepseek_v3_r1.json", 8),
}


@pytest.mark.parametrize(
    "record", ACCOUNTING["records"], ids=lambda r: f"{r['layout']}-{r['max_model_len']}"
)
def test_concurrency_matches_vllms_own_accounting(record: dict[str, Any]) -> None:
    name, tp = LAYOUTS[record["layout"]]
    cfg = load_model_config(ROOT / "tests/fixtures/model_configs" / name)
    kv = kv_shape(cfg, KVCacheDtype.AUTO, tp)
    budget, ctx = record["budget_bytes"], record["max_model_len"]
    assert kv.group_size == record["group_sizes"][0]
    assert budget // kv.block_bytes(16) == record["num_blocks"]
    concurrency = kv.concurrency(budget, ctx, 16, record["max_num_batched_tokens"])
    assert concurrency == pytest.approx(record["max_concurrency"], rel=1e-12)
    assert int(concurrency * ctx) == record["kv_cache_tokens"]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_recorded_budgets_are_the_plans_on_8_h200(layout: str) -> None:
    name, tp = LAYOUTS[layout]
    cfg = load_model_config(ROOT / "tests/fixtures/model_configs" / name)
    plan = plan_model(
        layout,
        cfg,
        lambda fmt: estimate_weights(cfg, fmt),
        Hardware(find_gpu("h200"), 8),
        PlanOptions(context=32768),
    )
    record = next(
        r for r in ACCOUNTING["records"] if r["layout"] == layout and r["max_model_len"] == 32768
    )
    assert plan.tp == tp and plan.kv_budget == record["budget_bytes"]
    assert plan.kv_tokens == record["kv_cache_tokens"]
    assert plan.sequences == int(record["max_concurrency"])
