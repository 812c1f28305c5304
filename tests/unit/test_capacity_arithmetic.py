"""Capacity arithmetic against values computed by hand from the published configs.

Fixtures: tests/fixtures/model_configs/ (each file's ``_source`` says where its fields come
from). The expected numbers are written out as the products they are, not recomputed by the
code under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.capacity.fit import Hardware, PlanOptions, plan_model, valid_tp_sizes
from orchestrator.capacity.gpus import GIB, find_gpu
from orchestrator.capacity.kv_cache import KVCacheDtype, kv_shape, mla_baselines
from orchestrator.capacity.model_config import (
    AttentionKind,
    LayerKind,
    load_model_config,
    parse_model_config,
)
from orchestrator.capacity.weights import (
    WeightFormat,
    count_parameters,
    estimate_weights,
    weight_bytes,
)
from orchestrator.exceptions import ConfigError

CONFIGS = Path(__file__).parents[1] / "fixtures" / "model_configs"
R1 = CONFIGS / "deepseek_v3_r1.json"
SCOUT = CONFIGS / "llama4_scout_17b_16e_instruct.json"
SMOL = CONFIGS / "smollm2_135m.json"


def _weights(path: Path):  # type: ignore[no-untyped-def]
    cfg = load_model_config(path)
    return cfg, (lambda fmt: estimate_weights(cfg, fmt))


def test_deepseek_mla_bytes_per_token() -> None:
    cfg = load_model_config(R1)
    assert cfg.attention.kind is AttentionKind.MLA
    assert kv_shape(cfg, KVCacheDtype.AUTO).bytes_per_token == 61 * (512 + 64) * 2 == 70_272
    assert kv_shape(cfg, KVCacheDtype.FP8).bytes_per_token == 61 * (512 + 64) * 1
    # the latent is not split by tensor parallelism: every GPU holds all of it
    assert kv_shape(cfg, KVCacheDtype.AUTO, tp=8).bytes_per_token == 70_272
    assert kv_shape(cfg, KVCacheDtype.AUTO).sequence_bytes(32_768) == 70_272 * 32_768


def test_deepseek_parameter_count_is_671b() -> None:
    cfg = load_model_config(R1)
    h, v, heads = 7168, 129_280, 128
    attn = (
        h * 1536 + 1536 * heads * (128 + 64)  # q_a, q_b
        + h * (512 + 64) + 512 * heads * (128 + 128)  # kv_a (latent + rope key), kv_b
        + heads * 128 * h  # o_proj
    )  # fmt: skip
    dense = 3 * (3 * h * 18_432)
    moe = 58 * (256 * 3 * h * 2048 + 1 * 3 * h * 2048 + 256 * h)
    norms = 61 * (2 * h + 512 + 1536) + h
    expected = 2 * v * h + 61 * attn + dense + moe + norms
    params = count_parameters(cfg)
    assert params.total == expected
    # tenstorrent/tt-metal models/demos/deepseek_v3/reference/README_WEIGHTS.md: 671B
    assert round(params.total / 1e9) == 671
    # the published checkpoint is fp8 with 128x128 block scales; embeddings/head stay bf16
    fp8 = estimate_weights(cfg, WeightFormat.AUTO)
    assert fp8.format is WeightFormat.FP8
    linear = params.linear
    assert fp8.bytes == round(2 * (params.total - linear) + linear * (1 + 4 / 128**2))


def test_scout_chunked_layers() -> None:
    cfg = load_model_config(SCOUT)
    att = cfg.attention
    assert att.kind is AttentionKind.GQA and (att.kv_heads, att.k_head_dim) == (8, 128)
    globals_ = [i for i, k in enumerate(att.layers) if k is LayerKind.GLOBAL]
    assert globals_ == list(range(3, 48, 4))  # no_rope_layers [] -> interval 4
    assert att.count(LayerKind.CHUNKED) == 36 and att.window == 8192
    kv = kv_shape(cfg, KVCacheDtype.AUTO)
    assert kv.layer_bytes == 8 * 128 * 2 * 2 == 4096
    assert kv.global_bytes_per_token == 12 * 4096
    assert kv.bytes_per_token == 48 * 4096
    assert kv.sequence_bytes(4096) == 48 * 4096 * 4096
    assert kv.sequence_bytes(131_072) == 4096 * (12 * 131_072 + 36 * 8192)
    # vLLM also reserves one scheduler batch in flight in each chunked layer
    assert kv.sequence_bytes(131_072, 16, 8192) == 4096 * (12 * 131_072 + 36 * 16_384)
    assert kv.sequence_bytes(8192, 16, 8192) == 4096 * 48 * 8192
    # tensor parallelism splits the 8 KV heads; past 8 GPUs each keeps one replicated head
    assert kv_shape(cfg, KVCacheDtype.AUTO, tp=2).layer_bytes == 4 * 128 * 2 * 2
    assert kv_shape(cfg, KVCacheDtype.AUTO, tp=16).layer_bytes == 1 * 128 * 2 * 2
    assert valid_tp_sizes(cfg, 64) == [1, 2, 4, 8]  # 40 heads: 16 does not divide


def test_scout_parameter_count() -> None:
    cfg = load_model_config(SCOUT)
    h, v = 5120, 202_048
    attn = h * 40 * 128 + 2 * h * 8 * 128 + 40 * 128 * h
    moe = 16 * 3 * h * 8192 + 3 * h * 8192 + 16 * h  # routed + shared + router
    expected = 2 * v * h + 48 * (attn + moe + 2 * h) + h
    assert count_parameters(cfg).total == expected
    assert 107e9 < expected < 109e9  # text decoder of the "109B total" model
    assert cfg.has_vision is False


def test_smollm2_matches_its_checkpoint() -> None:
    cfg = load_model_config(SMOL)
    assert (cfg.dtype, cfg.dtype_bytes, cfg.tie_word_embeddings) == ("float32", 4.0, True)
    assert kv_shape(cfg, KVCacheDtype.AUTO).bytes_per_token == 2 * 3 * 64 * 30 * 4 == 46_080
    params = count_parameters(cfg)
    h = 576
    assert params.total == 49_152 * h + 30 * (2 * h * h + 2 * h * 192 + 3 * h * 1536 + 2 * h) + h
    fp32 = weight_bytes(cfg, params, WeightFormat.AUTO)
    # the converted model.safetensors is 538,090,408 bytes: tensors plus a JSON header
    assert fp32 == 4 * params.total == 538_060_032
    assert 0 < 538_090_408 - fp32 < 64 * 1024


def test_weight_formats() -> None:
    cfg = load_model_config(SCOUT)
    p = count_parameters(cfg)
    assert weight_bytes(cfg, p, WeightFormat.BF16) == 2 * p.total
    assert weight_bytes(cfg, p, WeightFormat.FP8) == round(
        2 * (p.total - p.linear) + p.linear * (1 + 4 / 128**2)
    )
    assert weight_bytes(cfg, p, WeightFormat.INT4) == round(
        2 * (p.total - p.linear) + p.linear * (0.5 + 2.5 / 128)
    )


def test_safetensors_size_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(SMOL.read_text())
    (tmp_path / "model-00001.safetensors").write_bytes(b"x" * 1000)
    (tmp_path / "model-00002.safetensors").write_bytes(b"x" * 500)
    cfg = load_model_config(tmp_path)
    est = estimate_weights(cfg, WeightFormat.AUTO, directory=tmp_path)
    assert est.from_files and est.bytes == 1500
    assert not estimate_weights(cfg, WeightFormat.FP8, directory=tmp_path).from_files


def test_mla_baselines() -> None:
    cfg = load_model_config(R1)
    gqa, mha_decoupled, mha_paper = mla_baselines(cfg)
    assert gqa.bytes_per_token == 2 * 8 * 128 * 61 * 2 == 249_856
    assert gqa.saving == pytest.approx(1 - 70_272 / 249_856)  # 71.9%
    assert mha_decoupled.bytes_per_token == 128 * (192 + 128) * 61 * 2
    assert mha_paper.bytes_per_token == 2 * 128 * 128 * 61 * 2
    assert mha_paper.saving == pytest.approx(1 - 576 / 32_768)  # 98.2%
    assert mla_baselines(load_model_config(SCOUT)) == []


def test_the_93_percent_claim_is_deepseek_v2_at_6_bits_vs_deepseek_67b() -> None:
    # DeepSeek 67B (arXiv:2401.02954): 95 layers, 64 heads, 8 KV heads of 128, bf16 cache
    llm67b = parse_model_config(
        {"num_hidden_layers": 95, "hidden_size": 8192, "num_attention_heads": 64,
         "num_key_value_heads": 8, "vocab_size": 102_400, "intermediate_size": 22_016}
    )  # fmt: skip
    base = kv_shape(llm67b, KVCacheDtype.AUTO).bytes_per_token
    assert base == 2 * 8 * 128 * 95 * 2 == 389_120
    # our reconstruction of arXiv:2405.04434's 93.3%: DeepSeek-V2, 60 MLA layers, 6-bit cache
    v2_6bit = 60 * (512 + 64) * 6 / 8
    assert 1 - v2_6bit / base == pytest.approx(0.933, abs=5e-4)
    v2_bf16 = 60 * (512 + 64) * 2
    assert 1 - v2_bf16 / base == pytest.approx(0.822, abs=5e-4)  # without quantization


def test_layer_types_sliding_and_refusals() -> None:
    base = {"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 10, "intermediate_size": 8}  # fmt: skip
    cfg = parse_model_config(
        {**base, "sliding_window": 128,
         "layer_types": ["sliding_attention", "full_attention"] * 2}
    )  # fmt: skip
    kv = kv_shape(cfg, KVCacheDtype.AUTO)
    assert (kv.global_layers, kv.windowed_layers, kv.window) == (2, 2, 128)
    assert kv.sequence_bytes(1000) == kv.layer_bytes * (2 * 1000 + 2 * 128)
    mistral = parse_model_config({**base, "sliding_window": 4096})
    assert mistral.attention.count(LayerKind.SLIDING) == 4
    gemma2 = parse_model_config({**base, "model_type": "gemma2", "sliding_window": 4096})
    assert [k.value for k in gemma2.attention.layers] == ["sliding", "global"] * 2
    qwen = parse_model_config({**base, "sliding_window": 4096, "use_sliding_window": False})
    assert qwen.attention.count(LayerKind.GLOBAL) == 4
    with pytest.raises(ConfigError, match=r"'linear_attention'.*refusing to guess"):
        parse_model_config({**base, "layer_types": ["linear_attention"] * 4})
    with pytest.raises(ConfigError, match=r"mamba_d_state.*refuses to guess"):
        parse_model_config({**base, "mamba_d_state": 16})
    with pytest.raises(ConfigError, match=r"'index_topk' describes a sparse-attention indexer"):
        parse_model_config({**base, "kv_lora_rank": 512, "index_topk": 2048})
    missing = dict(base)
    del missing["num_hidden_layers"]
    with pytest.raises(ConfigError, match="'num_hidden_layers' is missing; it is needed"):
        parse_model_config(missing, source="m.json")
    with pytest.raises(ConfigError, match=r"'qk_rope_head_dim' is missing.*Latent"):
        parse_model_config({**base, "kv_lora_rank": 512})


def test_plan_fits_and_chooses_the_smallest_tensor_parallel_size() -> None:
    cfg, weights = _weights(SCOUT)
    plan = plan_model(
        "planner", cfg, weights, Hardware(find_gpu("h200"), 8), PlanOptions(context=32_768)
    )
    assert plan.fits and plan.tp == 2  # 200.7 GiB of bf16 weights: not on one 141 GB GPU
    budget = int(141 * GIB * 0.9) - -(-plan.weights.bytes // 2) - 4 * GIB
    assert plan.kv_budget == budget
    # vLLM's pool: blocks of 16 tokens for one group of 12 layers, 2,048 B/layer/token per GPU
    # (4 of the 8 KV heads); a sequence reserves 32,768 tokens in the global group and, in
    # each of the 3 chunked groups, its 8,192-token chunk plus one 8,192-token batch in flight
    blocks = budget // (2048 * 12 * 16)
    per_request = 32_768 // 16 + 3 * ((8192 + 8192) // 16)
    assert plan.concurrency == blocks / per_request
    assert plan.sequences == int(blocks / per_request) == 12
    assert plan.kv_tokens == int(blocks / per_request * 32_768)
    assert plan.settings is not None
    assert plan.settings.argv()[:6] == [
        "--tensor-parallel-size", "2", "--max-model-len", "32768", "--max-num-seqs",
        str(plan.sequences),
    ]  # fmt: skip


def test_plan_that_does_not_fit_says_by_how_much_and_what_would() -> None:
    cfg, weights = _weights(R1)
    plan = plan_model(
        "reasoner", cfg, weights, Hardware(find_gpu("h100"), 8), PlanOptions(context=32_768)
    )
    assert not plan.fits and plan.settings is None
    assert plan.reason is not None and "short by 10.4 GiB" in plan.reason
    assert "16 GPUs (--tensor-parallel-size 16)" in plan.suggestions
    short = plan_model(
        "reasoner", cfg, weights, Hardware(find_gpu("h200"), 8), PlanOptions(context=163_840)
    )
    assert short.fits  # 163,840 tokens x 70,272 B = 10.7 GiB < 44.5 GiB budget
    tiny = plan_model(
        "r", cfg, weights, Hardware(find_gpu(None, 100.0), 8), PlanOptions(context=163_840)
    )
    assert not tiny.fits
    assert any("fp8 KV cache" in s for s in tiny.suggestions)
    assert any(s.startswith("a context of ") for s in tiny.suggestions)


def test_a_tensor_parallel_size_that_does_not_split_the_heads_is_refused() -> None:
    cfg, weights = _weights(SCOUT)
    with pytest.raises(ConfigError, match=r"size 16 does not split 40 attention heads"):
        plan_model("p", cfg, weights, Hardware(find_gpu("h100"), 16), PlanOptions(8192, tp=16))


def test_presets_are_the_fixtures() -> None:
    from orchestrator.capacity.presets import PRESETS, preset_path

    shipped = {preset_path(name) for name in PRESETS}
    assert {p.name for p in shipped if p} == {
        "llama4-scout-17b-16e-instruct.json", "deepseek-v3-r1.json", "smollm2-135m.json"
    }  # fmt: skip
    for path in shipped:
        assert path is not None
        fixture = CONFIGS / path.name.replace("-", "_")
        assert fixture.read_text() == path.read_text(), path.name
