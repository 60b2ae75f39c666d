"""Controlled comparison, cost and ablation of VGMR (seed 003 §4.3 and §4.5, Table 7): the CLI's ``compare``.

- ``comparison_configs``: the backbone, ``sum``, ``tensor``, ``concat_mlp`` and ``gated``
  (both sized to VGMR's parameter count by ``match_size``), ``cross_attention`` and VGMR;
- ``train_epoch_seconds`` / ``infer_ms_per_batch``: the cost columns of Table 7
  (also used by ``benchmarks/vgmr_overhead.py``);
- ``comparison_job``: one §4.5 row, ``method, accuracy, macro_f1, params, train_s_per_epoch,
  infer_ms_per_batch``; ``ablation_job``: one §4.3 row (``refiners.vgmr.ABLATIONS``); ``run``: all of them
  as jobs.
"""
from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import asdict, replace
from typing import Any, Callable, Dict, Mapping, Optional

import pandas as pd
import torch

from ..data.dataset import PreparedData, Split
from ..models import ModelConfig, build_model, count_parameters
from ..refiners.vgmr import ABLATIONS, VGMRConfig
from ..train import TrainConfig, evaluate, fit
from ..jobs import Job, JobCache, concat, run_jobs
from .base import Progress, Result, record
from .gates import DEFAULT, GatesConfig, backbone_config, prepared


def match_size(count: Callable[[int], int], target: int, lo: int = 1, hi: int = 4096) -> int:
    """The size in ``[lo, hi]`` whose parameter count ``count(size)`` is closest to ``target``.

    ``count`` must grow with the size (binary search, then the better neighbour).
    """
    if lo > hi:
        raise ValueError(f"empty size range [{lo}, {hi}]")
    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if count(mid) < target:
            a = mid + 1
        else:
            b = mid
    return min({max(lo, a - 1), a}, key=lambda s: (abs(count(s) - target), s))


def _params(data: PreparedData, cfg: ModelConfig) -> int:
    return count_parameters(build_model(data.shapes(), data.n_classes, cfg, seed=0))


def comparison_configs(data: PreparedData, backbone: str = "concat",
                       vgmr: VGMRConfig = VGMRConfig()) -> Dict[str, ModelConfig]:
    """The §4.5 methods on one backbone; ``concat_mlp`` and ``gated`` are parameter-matched to VGMR."""
    base = backbone_config(backbone)
    target = _params(data, backbone_config(backbone, vgmr))
    plain = dict(encoder="identity")
    hidden = match_size(lambda h: _params(data, ModelConfig(fusion="concat_mlp", fusion_options={"hidden": h}, **plain)),
                        target)
    dim = match_size(lambda h: _params(data, ModelConfig(fusion="gated", fusion_dim=h, **plain)), target)
    return {backbone: base,
            "sum": ModelConfig(fusion="sum", **plain),
            "tensor": ModelConfig(fusion="tensor", **plain),
            "concat_mlp": ModelConfig(fusion="concat_mlp", fusion_options={"hidden": hidden}, **plain),
            "gated": ModelConfig(fusion="gated", fusion_dim=dim, **plain),
            "cross_attention": ModelConfig(fusion="cross_attention", **plain),
            "vgmr": backbone_config(backbone, vgmr)}


def train_epoch_seconds(model: torch.nn.Module, data: PreparedData, cfg: TrainConfig = TrainConfig()) -> float:
    """Wall time of the optimisation steps of one training epoch of ``fit`` (extra losses included, the
    validation pass not): ``train_seconds`` of a one-epoch ``fit``."""
    result = fit(model, data, replace(cfg, epochs=1, keep="last"))
    return float(result.history["train_seconds"].iloc[0])


@torch.no_grad()
def infer_ms_per_batch(model: torch.nn.Module, split: Split, batch_size: int = 64, repeats: int = 20) -> float:
    """Median latency (ms) of one forward pass on a batch of ``batch_size`` rows, eval mode."""
    model.eval()
    xs = {k: v[:batch_size] for k, v in split.xs.items()}
    model(xs)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(xs)
        times.append(time.perf_counter() - t0)
    return 1000 * float(pd.Series(times).median())


def _train_row(data: PreparedData, cfg: ModelConfig, train_cfg: TrainConfig) -> dict:
    model = build_model(data.shapes(), data.n_classes, cfg, seed=train_cfg.seed)
    result = fit(model, data, train_cfg)
    m = evaluate(result.model, data.test)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "params": count_parameters(result.model),
            "train_s_per_epoch": float(result.history["seconds"].median()),
            "infer_ms_per_batch": infer_ms_per_batch(result.model, data.test, train_cfg.batch_size)}


def comparison_job(cfg: GatesConfig, name: str, model_cfg: ModelConfig, source=None) -> Dict[str, pd.DataFrame]:
    """A job (``fusionlab.jobs``): one §4.5 method trained and timed."""
    data = prepared(cfg, source)
    return {"comparison": pd.DataFrame([{"method": name, **_train_row(data, model_cfg, cfg.train)}])}


def ablation_job(cfg: GatesConfig, name: str, source=None) -> Dict[str, pd.DataFrame]:
    """A job: one §4.3 ablation row."""
    data = prepared(cfg, source)
    vgmr = replace(cfg.vgmr, **ABLATIONS[name])
    row = _train_row(data, backbone_config(cfg.backbone, vgmr), cfg.train)
    flags = {k: v for k, v in asdict(vgmr).items() if k.startswith("use_")}
    return {"ablation": pd.DataFrame([{"condition": name, "accuracy": row["accuracy"], "macro_f1": row["macro_f1"],
                                       "params": row["params"], **flags}])}


def run(cfg: GatesConfig = DEFAULT, ablation: bool = False, progress: Optional[Progress] = None,
        source: Any = None, executor: Optional[Executor] = None, cache: Optional[JobCache] = None) -> Result:
    """The CLI's ``compare``: ``comparison`` (§4.5) and, with ``ablation``, ``ablation`` (§4.3); one job per
    row. (Cost columns are wall-clock times: compare them within one run on one machine.)"""
    data = prepared(cfg, source)
    jobs = [Job(name, comparison_job, (cfg, name, mc, source))
            for name, mc in comparison_configs(data, cfg.backbone, cfg.vgmr).items()]
    if ablation:
        jobs += [Job(name, ablation_job, (cfg, name, source)) for name in ABLATIONS]
    outcome = run_jobs(jobs, executor, cache, progress)
    tables = {"comparison": concat(outcome.results, "comparison")}
    if ablation:
        tables["ablation"] = concat(outcome.results, "ablation")
    config = {"dataset": data.name, "views": data.modality_names, "shapes": data.shapes(), **record(cfg)}
    return Result(tables, [], config, {"data": data, "job_seconds": outcome.seconds}, outcome.stopped)
