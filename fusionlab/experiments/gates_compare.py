"""Controlled comparison, cost and ablation of VGMR (the VGMR paper's §4.3 and §4.5, Table 7): the CLI's ``compare``.

- ``comparison_configs``: on one backbone (transformer by default, as the paper runs §4.5), the plain
  backbone, VGMR, and each baseline in VGMR's place (``refiners.context``: ``sum``, ``tensor``,
  ``concat_mlp``, ``cross_attention``, ``gated``); ``concat_mlp``, ``gated`` and ``tensor`` are sized by
  ``match_size`` to VGMR's parameter count;
- ``train_epoch_seconds`` / ``infer_ms_per_batch``: the cost columns of Table 7
  (also used by ``benchmarks/vgmr_overhead.py``);
- ``comparison_job``: one method with one seed; ``ablation_job``: one §4.3 ablation with one seed
  (``refiners.vgmr.ABLATIONS``); ``run``: all of them as jobs, summarised over seeds by ``over_seeds``
  (mean ± sd, and the per-seed paired difference to full VGMR).
"""
from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import asdict, replace
from typing import Any, Callable, Dict, List, Optional, Sequence

import pandas as pd
import torch

from ..data.dataset import PreparedData, Split
from ..models import ModelConfig, build_model, count_parameters
from ..refiners.context import PAPER_OPERATORS
from ..refiners.vgmr import ABLATIONS, VGMRConfig
from ..train import TrainConfig, evaluate, fit
from ..jobs import Job, JobCache, concat, run_jobs
from ..findings import FAILS, HOLDS, UNKNOWN, Finding, describe, direction, paired_interval
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


def _in_vgmrs_place(backbone: str, operator: str, dim: int = 32, **options) -> ModelConfig:
    return replace(backbone_config(backbone), refiner="fused_context",
                   refiner_options={"operator": operator, "dim": dim, "operator_options": options})


def comparison_configs(data: PreparedData, backbone: str = "transformer", vgmr: VGMRConfig = VGMRConfig(),
                       operators: Sequence[str] = PAPER_OPERATORS) -> Dict[str, ModelConfig]:
    """The §4.5 methods on one backbone: each baseline takes VGMR's place (``fused_context``), the rest
    of the model unchanged; ``concat_mlp``, ``gated`` and ``tensor`` are parameter-matched to VGMR
    (``tensor`` through its projection size, capped so that its outer product stays below 10^5)."""
    vgmr_cfg = backbone_config(backbone, vgmr)
    target = _params(data, vgmr_cfg)
    m = len(data.modality_names)
    hidden = match_size(lambda h: _params(data, _in_vgmrs_place(backbone, "concat_mlp", hidden=h)), target)
    gated = match_size(lambda h: _params(data, _in_vgmrs_place(backbone, "gated", dim=h)), target, hi=1024)
    tensor = match_size(lambda h: _params(data, _in_vgmrs_place(backbone, "tensor", dim=h)), target, lo=2,
                        hi=max(2, int(1e5 ** (1 / m)) - 1))
    matched = {"sum": _in_vgmrs_place(backbone, "sum"),
               "tensor": _in_vgmrs_place(backbone, "tensor", dim=tensor),
               "concat_mlp": _in_vgmrs_place(backbone, "concat_mlp", hidden=hidden),
               "gated": _in_vgmrs_place(backbone, "gated", dim=gated),
               "cross_attention": _in_vgmrs_place(backbone, "cross_attention")}
    # any other registered operator takes VGMR's place at its defaults (dim 32), not parameter-matched
    return {backbone: backbone_config(backbone),
            **{op if op != backbone else f"{op} in VGMR's place": matched.get(op) or _in_vgmrs_place(backbone, op)
               for op in operators}, "vgmr": vgmr_cfg}


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


def comparison_job(cfg: GatesConfig, name: str, model_cfg: ModelConfig, seed: int, source=None) -> Dict[str, pd.DataFrame]:
    """A job (``fusionlab.jobs``): one §4.5 method trained with one seed and timed."""
    data = prepared(cfg, source)
    row = _train_row(data, model_cfg, replace(cfg.train, seed=seed))
    return {"comparison": pd.DataFrame([{"method": name, "seed": seed, **row}])}


def ablation_job(cfg: GatesConfig, name: str, seed: int, source=None) -> Dict[str, pd.DataFrame]:
    """A job: one §4.3 ablation row with one seed."""
    data = prepared(cfg, source)
    vgmr = replace(cfg.vgmr, **ABLATIONS[name])
    row = _train_row(data, backbone_config(cfg.backbone, vgmr), replace(cfg.train, seed=seed))
    flags = {k: v for k, v in asdict(vgmr).items() if k.startswith("use_")}
    return {"ablation": pd.DataFrame([{"method": name, "seed": seed, "accuracy": row["accuracy"],
                                       "macro_f1": row["macro_f1"], "params": row["params"], **flags}])}


def over_seeds(rows: pd.DataFrame, reference: str, backbone: str) -> pd.DataFrame:
    """Per method: ``backbone, seeds``, mean and sd over seeds of accuracy and macro-F1, the mean of the
    other columns, and the per-seed paired difference to ``reference`` (mean and its 95 % interval:
    ``accuracy_vs_<reference>``, ``..._lo``, ``..._hi``)."""
    wide = rows.pivot_table(index="seed", columns="method", values="accuracy")
    out = []
    for name, g in rows.groupby("method", sort=False):
        row = {"method": name, "backbone": backbone, "seeds": int(g["seed"].nunique())}
        for col in ("accuracy", "macro_f1"):
            row[col] = float(g[col].mean())
            row[f"{col}_sd"] = float(g[col].std(ddof=1)) if len(g) > 1 else float("nan")
        for col in g.columns:
            if col not in row and col not in ("seed", "method") and pd.api.types.is_numeric_dtype(g[col]):
                row[col] = g[col].mean() if not pd.api.types.is_bool_dtype(g[col]) else bool(g[col].iloc[0])
        if reference in wide and name != reference:
            mean, lo, hi = paired_interval((wide[name] - wide[reference]).dropna().to_numpy())
        else:
            mean = lo = hi = float("nan")
        row.update({f"accuracy_vs_{reference}": mean, f"accuracy_vs_{reference}_lo": lo,
                    f"accuracy_vs_{reference}_hi": hi})
        out.append(row)
    return pd.DataFrame(out)


def comparison_findings(rows: pd.DataFrame, reference: str = "vgmr", backbone: str = "") -> List[Finding]:
    """The VGMR paper §4.5: VGMR is at least as accurate as each baseline on the same backbone, by the shared
    paired rule over the per-seed rows (``method, seed, accuracy, params``)."""
    wide = rows.pivot_table(index="seed", columns="method", values="accuracy")
    if reference not in wide:
        return []
    out = []
    for name, g in rows.groupby("method", sort=False):
        if name == reference:
            continue
        diff = (wide[name] - wide[reference]).dropna().to_numpy()
        verdict = {-1: HOLDS, 1: FAILS, 0: UNKNOWN}[direction(diff)]
        sd = f" ± {g['accuracy'].std(ddof=1):.3f}" if len(g) > 1 else ""
        out.append(Finding(f"{reference} beats {name} on the {backbone} backbone (the VGMR paper's §4.5)", verdict,
                           f"accuracy {g['accuracy'].mean():.3f}{sd} vs {reference} {wide[reference].mean():.3f}; "
                           f"{name} − {reference} {describe(diff)} over {len(diff)} seeds; "
                           f"{int(g['params'].iloc[0]):,} parameters."))
    return out


def run(cfg: GatesConfig = DEFAULT, ablation: bool = False, progress: Optional[Progress] = None,
        source: Any = None, executor: Optional[Executor] = None, cache: Optional[JobCache] = None,
        operators: Sequence[str] = PAPER_OPERATORS) -> Result:
    """The CLI's ``compare``: ``comparison`` (§4.5) and, with ``ablation``, ``ablation`` (§4.3), each over
    ``cfg.seeds`` seeds (``comparison_seeds`` / ``ablation_seeds`` hold the rows per seed); one job per
    method and seed. ``operators``: the fusion operators that take VGMR's place (the paper's five by default; any
    registered one is offered). (Cost columns are wall-clock times: compare them within one run on one machine.)"""
    data = prepared(cfg, source)
    seeds = cfg.seed_list()
    jobs = [Job(f"{name}, seed {s}", comparison_job, (cfg, name, mc, s, source))
            for name, mc in comparison_configs(data, cfg.backbone, cfg.vgmr, operators).items() for s in seeds]
    if ablation:
        jobs += [Job(f"{name}, seed {s}", ablation_job, (cfg, name, s, source)) for name in ABLATIONS for s in seeds]
    outcome = run_jobs(jobs, executor, cache, progress)
    rows = concat(outcome.results, "comparison")
    tables = {"comparison_seeds": rows, "comparison": over_seeds(rows, "vgmr", cfg.backbone) if len(rows) else rows}
    findings = comparison_findings(rows, "vgmr", cfg.backbone) if len(rows) else []
    if ablation:
        ab = concat(outcome.results, "ablation")
        tables.update(ablation_seeds=ab, ablation=over_seeds(ab, "full VGMR", cfg.backbone) if len(ab) else ab)
    config = {"dataset": data.name, "views": data.modality_names, "shapes": data.shapes(), **record(cfg)}
    return Result(tables, findings, config, {"data": data, "job_seconds": outcome.seconds}, outcome.stopped)
