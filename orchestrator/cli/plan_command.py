"""``bicameral plan``: which GPUs each role needs, and the ``vllm serve`` flags that follow.

Two ways in: a pipeline file (every role served over HTTP is planned; its model config is
taken from ``--model ROLE=PATH`` or from a local ``serve.model``/``model`` directory), or
``--model [NAME=]PATH`` alone for one or more models. Configs are read, never downloaded.
Exit codes: 0 every role fits, 1 some role does not (the report says by how much and what
would fit), 2 a bad flag or config.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.capacity.fit import (
    DEFAULT_OVERHEAD_GIB,
    Hardware,
    PlanOptions,
    RolePlan,
    WeightsFor,
    plan_model,
)
from orchestrator.capacity.gpus import find_gpu, gpu_names
from orchestrator.capacity.kv_cache import KVCacheDtype
from orchestrator.capacity.model_config import ModelConfig, load_model_config
from orchestrator.capacity.weights import WeightEstimate, WeightFormat, estimate_weights
from orchestrator.exceptions import ConfigError

__all__ = ["register_plan"]

_DEFAULT_CONTEXT = 32768


@dataclass(frozen=True)
class _Target:
    role: str
    config: ModelConfig
    directory: Path | None
    context: int | None = None
    weight_format: WeightFormat | None = None
    kv_dtype: KVCacheDtype | None = None
    utilization: float | None = None


def register_plan(app: typer.Typer) -> None:
    """Add the ``plan`` command to the CLI."""

    @app.command("plan")
    def plan_command(
        file: Annotated[Path | None, typer.Argument(help="pipeline file")] = None,
        model: Annotated[
            list[str] | None,
            typer.Option(
                "--model", help="[ROLE=]PATH of a config.json or model directory, or a preset"
            ),
        ] = None,
        gpu: Annotated[
            str | None, typer.Option(help=f"GPU: {', '.join(gpu_names())} (default h100)")
        ] = None,
        gpu_mem: Annotated[float | None, typer.Option(help="GiB per GPU (custom GPU)")] = None,
        gpus: Annotated[int, typer.Option(help="GPUs available to each role", min=1)] = 1,
        tp: Annotated[int | None, typer.Option(help="fixed tensor-parallel size", min=1)] = None,
        context: Annotated[int | None, typer.Option(help="tokens per sequence", min=1)] = None,
        utilization: Annotated[
            float | None, typer.Option(help="--gpu-memory-utilization", min=0.05, max=1.0)
        ] = None,
        weights: Annotated[
            WeightFormat | None, typer.Option(help="weight format (auto: the checkpoint's)")
        ] = None,
        kv_cache_dtype: Annotated[KVCacheDtype | None, typer.Option(help="KV cache dtype")] = None,
        overhead_gib: Annotated[
            float, typer.Option(help="per-GPU activations/graphs overhead", min=0)
        ] = DEFAULT_OVERHEAD_GIB,
        kv_budget_gib: Annotated[
            float | None, typer.Option(help="fixed KV budget per GPU (ignores memory)", min=0)
        ] = None,
        block_size: Annotated[int, typer.Option(help="KV cache block size", min=1)] = 16,
        max_num_seqs: Annotated[
            int | None, typer.Option(help="cap on --max-num-seqs (default: vLLM's)", min=1)
        ] = None,
        batched_tokens: Annotated[
            int | None,
            typer.Option(help="--max-num-batched-tokens (default: vLLM's)", min=1),
        ] = None,
        write: Annotated[bool, typer.Option("--write", help="store flags in serve:")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Plan GPUs, context and concurrency per role from the models' config.json."""
        try:
            if file is None and not model:
                raise ConfigError("give a pipeline file or --model PATH")
            if write and file is None:
                raise ConfigError("--write needs a pipeline file")
            targets = _pipeline_targets(file, model or []) if file else _model_targets(model or [])
            hw_gpu = find_gpu(gpu, gpu_mem)
            plans = []
            for t in targets:
                ctx = context or t.context or _default_context(t.config)
                limit = t.config.max_position_embeddings
                if limit is not None and ctx > limit:
                    raise ConfigError(
                        f"{t.role}: a context of {ctx:,} tokens exceeds the model's "
                        f"max_position_embeddings ({limit:,}); vLLM refuses that --max-model-len"
                    )
                hw = Hardware(
                    gpu=hw_gpu,
                    count=max(gpus, tp or 1),
                    utilization=utilization or t.utilization or 0.9,
                    overhead_gib=overhead_gib,
                    kv_budget_gib=kv_budget_gib,
                )
                opts = PlanOptions(
                    context=ctx,
                    weight_format=weights or t.weight_format or WeightFormat.AUTO,
                    kv_dtype=kv_cache_dtype or t.kv_dtype or KVCacheDtype.AUTO,
                    tp=tp,
                    block_size=block_size,
                    in_flight_tokens=batched_tokens,
                    max_num_seqs_cap=max_num_seqs,
                )
                plans.append(plan_model(t.role, t.config, _weights_for(t), hw, opts))
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        _output(plans, as_json=as_json)
        misfits = [p for p in plans if not p.fits]
        for p in misfits:
            typer.echo(f"error: {p.role} does not fit: {p.reason}", err=True)
        if misfits:
            if write:
                typer.echo("nothing written", err=True)
            raise typer.Exit(1)
        if write and file is not None:
            from orchestrator.capacity.serve_yaml import write_serve_settings

            try:
                write_serve_settings(file, {p.role: p.settings for p in plans if p.settings})
            except ConfigError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            typer.echo(f"wrote serve: settings for {', '.join(p.role for p in plans)} to {file}")


def _output(plans: list[RolePlan], *, as_json: bool) -> None:
    from rich.console import Console

    from orchestrator.capacity.report import plans_to_json, render_plans

    if as_json:
        typer.echo(json.dumps(plans_to_json(plans), indent=2))
    else:
        render_plans(plans, Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120))


def _default_context(cfg: ModelConfig) -> int:
    limit = cfg.max_position_embeddings
    return min(limit, _DEFAULT_CONTEXT) if limit else _DEFAULT_CONTEXT


def _weights_for(target: _Target) -> WeightsFor:
    def weights_for(fmt: WeightFormat) -> WeightEstimate:
        return estimate_weights(target.config, fmt, directory=target.directory)

    return weights_for


def _split(item: str) -> tuple[str | None, str]:
    name, sep, path = item.partition("=")
    if sep and name and "/" not in name and "\\" not in name:
        return name, path
    return None, item


def _load(path: Path) -> tuple[ModelConfig, Path | None]:
    if not path.exists():
        from orchestrator.capacity.presets import PRESETS, preset_path

        preset = preset_path(str(path))
        if preset is not None:
            return load_model_config(preset), None
        if len(path.parts) == 1 and path.suffix != ".json":
            raise ConfigError(
                f"no file or directory {str(path)!r}, and no preset of that name "
                f"(presets: {', '.join(PRESETS)})"
            )
    return load_model_config(path), (path if path.is_dir() else None)


def _model_targets(items: list[str]) -> list[_Target]:
    targets: list[_Target] = []
    for item in items:
        name, raw = _split(item)
        path = Path(raw)
        cfg, directory = _load(path)
        default = path.name if path.is_dir() else (path.stem if path.stem != "config" else "")
        role = name or default or path.resolve().parent.name
        if any(t.role == role for t in targets):
            raise ConfigError(f"two models named {role!r}; name them with --model NAME=PATH")
        targets.append(_Target(role, cfg, directory))
    return targets


def _pipeline_targets(file: Path, items: list[str]) -> list[_Target]:
    from orchestrator.config.loading import load_spec
    from orchestrator.config.spec import Provider, did_you_mean

    spec = load_spec(file)
    given: dict[str, Path] = {}
    for item in items:
        name, raw = _split(item)
        if name is None:
            raise ConfigError(f"with a pipeline, name the role: --model ROLE={raw}")
        if name not in spec.models:
            raise ConfigError(f"no model named {name!r} in {file}{did_you_mean(name, spec.models)}")
        given[name] = Path(raw)
    base = file.resolve().parent
    targets = []
    for role, m in spec.models.items():
        if m.provider is not Provider.OPENAI:
            continue
        path = given.get(role) or _local_config(m.serve.model or m.model, base)
        if path is None:
            raise ConfigError(
                f"models.{role}: no local config.json for {m.serve.model or m.model!r}; pass "
                f"--model {role}=PATH (a config.json or model directory; nothing is downloaded)",
                path=str(file),
            )
        cfg, directory = _load(path)
        s = m.serve
        targets.append(
            _Target(
                role,
                cfg,
                directory,
                context=s.max_model_len,
                weight_format=WeightFormat.FP8 if s.quantization == "fp8" else None,
                kv_dtype=KVCacheDtype.FP8 if (s.kv_cache_dtype or "").startswith("fp8") else None,
                utilization=s.gpu_memory_utilization,
            )
        )
    if not targets:
        raise ConfigError("no model served by vLLM (provider openai) to plan", path=str(file))
    return targets


def _local_config(name: str | None, base: Path) -> Path | None:
    if not name:
        return None
    path = Path(name) if Path(name).is_absolute() else base / name
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.is_file() and path.suffix == ".json":
        return path
    return None
