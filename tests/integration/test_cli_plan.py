"""`bicameral plan` through a real subprocess: JSON, --write then serve --dry-run, bad configs
(exit 2, one line), a model that does not fit (exit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "model_configs"
SCOUT = CONFIGS / "llama4_scout_17b_16e_instruct.json"
R1 = CONFIGS / "deepseek_v3_r1.json"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_json_for_a_planner_reasoner_pair(tmp_path: Path) -> None:
    result = _cli(
        "plan", "--model", f"planner={SCOUT}", "--model", f"reasoner={R1}",
        "--gpu", "h200", "--gpus", "8", "--context", "32768", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    planner, reasoner = data["roles"]
    assert planner["kv_bytes_per_token_global"] == 12 * 4096
    assert planner["layers"] == {
        "global": 12, "windowed": 36, "window": 8192, "window_kind": "chunked"
    }  # fmt: skip
    assert reasoner["attention"] == "mla" and reasoner["kv_bytes_per_token"] == 70_272
    assert reasoner["tensor_parallel_size"] == 8 and reasoner["fits"]
    assert reasoner["vllm_flags"][:4] == ["--tensor-parallel-size", "8", "--max-model-len", "32768"]
    rows = {r["role"]: r for r in data["comparison"]["roles"]}
    assert set(rows["reasoner"]["sequences"]) == {"8192", "32768", "131072"}
    gqa = rows["reasoner"]["mla_savings"][0]
    assert gqa["bytes_per_token"] == 2 * 8 * 128 * 61 * 2  # the planner's 8 x 128 KV heads


def test_rich_table_on_stdout(tmp_path: Path) -> None:
    result = _cli("plan", "--model", str(R1), "--gpu", "h200", "--gpus", "8", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "70,272 B/token" in result.stdout and "--tensor-parallel-size 8" in result.stdout


def test_write_then_serve_dry_run_uses_the_flags(tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        "# served pair\n"
        "models:\n"
        "  planner: {base_url: 'http://127.0.0.1:8000/v1', model: scout}  # Llama 4\n"
        "  reasoner:\n"
        "    base_url: http://127.0.0.1:8001/v1\n"
        "    model: r1\n"
        "    serve: {max_model_len: 65536}  # long reasoning traces\n"
    )
    result = _cli(
        "plan", str(pipeline), "--model", f"planner={SCOUT}", "--model", f"reasoner={R1}",
        "--gpu", "h200", "--gpus", "8", "--kv-cache-dtype", "fp8", "--write", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "wrote serve: settings" in result.stdout
    text = pipeline.read_text()
    assert "# served pair" in text and "# long reasoning traces" in text
    dry = _cli("serve", str(pipeline), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    planner, reasoner = dry.stdout.strip().splitlines()
    assert "--tensor-parallel-size 2" in planner and "--kv-cache-dtype fp8" in planner
    assert "--max-model-len 32768" in planner
    # the reasoner keeps its own context from the file, and the plan sized seqs for it
    assert "--tensor-parallel-size 8 --max-model-len 65536" in reasoner
    assert "--max-num-seqs" in reasoner and "--gpu-memory-utilization 0.9" in reasoner


def test_missing_field_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = json.loads(R1.read_text())
    del cfg["kv_lora_rank"], cfg["num_hidden_layers"]
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(cfg))
    result = _cli("plan", "--model", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {bad}: field 'num_hidden_layers' is missing")
    assert "Traceback" not in result.stderr


def test_unknown_attention_kind_is_refused(tmp_path: Path) -> None:
    cfg = json.loads(SCOUT.read_text())
    cfg["text_config"]["layer_types"] = ["linear_attention"] * 48
    bad = tmp_path / "hybrid.json"
    bad.write_text(json.dumps(cfg))
    result = _cli("plan", "--model", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "refusing to guess" in result.stderr


def test_pipeline_role_without_a_config_exits_2(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "models:\n"
        "  planner: {base_url: 'http://127.0.0.1:8000/v1', model: meta-llama/x}\n"
        "  reasoner: {base_url: 'http://127.0.0.1:8001/v1', model: r1}\n"
    )
    result = _cli("plan", str(pipeline), "--model", f"reasoner={R1}", cwd=tmp_path)
    assert result.returncode == 2
    assert "--model planner=PATH" in result.stderr and "nothing is downloaded" in result.stderr
    typo = _cli("plan", str(pipeline), "--model", f"planer={SCOUT}", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'planner'" in typo.stderr


def test_model_that_does_not_fit_exits_1_and_says_by_how_much(tmp_path: Path) -> None:
    result = _cli("plan", "--model", f"r1={R1}", "--gpu", "h100", "--gpus", "8", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    (role,) = json.loads(result.stdout)["roles"]
    assert not role["fits"] and "short by 10.4 GiB" in role["reason"]
    assert "16 GPUs (--tensor-parallel-size 16)" in role["suggestions"]
    assert result.stderr.startswith("error: r1 does not fit: weights need 78.4 GiB")
    assert "Traceback" not in result.stderr


def test_context_beyond_the_model_is_a_usage_error(tmp_path: Path) -> None:
    result = _cli("plan", "--model", str(R1), "--context", "200000", cwd=tmp_path)
    assert result.returncode == 2
    assert "exceeds the model's max_position_embeddings (163,840)" in result.stderr


def test_pipeline_reads_a_local_model_directory_and_its_real_size(tmp_path: Path) -> None:
    model = tmp_path / "models" / "smol"
    model.mkdir(parents=True)
    (model / "config.json").write_text((CONFIGS / "smollm2_135m.json").read_text())
    (model / "model.safetensors").write_bytes(b"\0" * 4096)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "models:\n"
        "  planner:\n"
        "    base_url: http://127.0.0.1:8000/v1\n"
        "    model: smol\n"
        "    serve: {model: models/smol}\n"
        "  reasoner: {provider: local}\n"
    )
    result = _cli("plan", str(pipeline), "--gpu", "rtx4090", "--context", "512", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (planner,) = json.loads(result.stdout)["roles"]  # the local reasoner has no server
    assert planner["weights_from_files"] and planner["weight_bytes"] == 4096
    # RTX 4090 (under 70 GiB): vLLM's default --max-num-seqs is 256, the plan's cap
    assert planner["serve"]["max_num_seqs"] == 256


def test_presets_by_name(tmp_path: Path) -> None:
    result = _cli("plan", "--model", "planner=llama4-scout", "--model", "reasoner=deepseek-r1",
                  "--gpu", "h200", "--gpus", "8", "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    planner, reasoner = json.loads(result.stdout)["roles"]
    assert planner["kv_bytes_per_token_global"] == 49_152
    assert reasoner["kv_bytes_per_token"] == 70_272
    unknown = _cli("plan", "--model", "llama5", cwd=tmp_path)
    assert unknown.returncode == 2 and "no preset of that name (presets: " in unknown.stderr
