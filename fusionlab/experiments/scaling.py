"""The fusion-complexity paper's study: data-scaling curves over many seeds, ROC, and robustness per modality.

"Encoding domain insights into multi-modal fusion: improved performance at the cost
of robustness" (the fusion-complexity paper) trains fusion -> Linear(32) -> ReLU -> Linear(C) with
AdamW (lr 1e-3, weight decay 0, up to 100 epochs) on training sets that double from
32 samples upward, twenty initialisations and shuffles per setting, and keeps each
model's best-validation epoch. It then corrupts each modality alone and both at once
with noise scaled by alpha in [0, 0.95] (``mix``: (1 − α)x + αn, or ``additive``:
x + αn, n ~ N(μ_m, s_m); docs/methods.md, corruptions and robustness [choice]).

Choices made here:
- one stratified train / validation / test split; for training size ``n`` a seeded
  stratified subsample of the train split (the same rows for every seed: seeds vary
  initialisation and shuffle); validation and test sets are fixed;
- ``tensor`` projects each modality to ``fusion_dim`` (64) before the outer product:
  768 × 768 = 589,824 features would need 19 M head weights per seed; the fusion-complexity paper's
  plain outer product (no appended 1) is the default (``tensor_append_one=False``);
- ROC curves are interpolated per seed on a fixed false-positive grid (micro-averaged
  one-vs-rest for more than two classes) so seeds can be averaged;
- robustness is measured on the test set at one training size (the largest by
  default), with noise drawn per seed (generator seeded by the seed).

Each trained unit is measured by ``scaling_tables`` (scores, ROC, robustness); the two findings are
judged by ``findings`` (``scaling_findings``) from the numbers, see there.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

import functools
from concurrent.futures import Executor

from ..batched import BatchedFit, SeedStack, batched_fit
from ..data import (ClipLikeConfig, DataConfig, PreparedData, SplitConfig, SyntheticConfig, UCIConfig, can_give,
                    datasets, prepare)
from ..fusion import FUSIONS, check_fusion_options
from ..jobs import uploads_uncached, Job, JobCache, JobsOutcome, Stopped, concat, run_jobs
from ..models import ModelConfig, build_model, count_parameters
from ..limits import MAX_LEVELS
from ..noise import CORRUPTIONS
from ..train import EpochInfo, TrainConfig
from ..bundles import Saving
from .base import Progress, Result, Stop, record
from .scaling_findings import (MIN_MARGIN, data_efficiency_finding, degradation,  # noqa: F401  (re-exported)
                               findings, robustness_finding)
from .scaling_tables import ALL, FPR_GRID, fit_tables, robustness_rows, roc_rows, seed_summary  # noqa: F401

DEFAULT_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MAX_SIZE = 10_000_000
MAX_SEEDS = 1000


def _sizes_to(top: int) -> Tuple[int, ...]:
    sizes = [32]
    while sizes[-1] * 2 <= top:
        sizes.append(sizes[-1] * 2)
    return tuple(sizes)


@dataclass(frozen=True)
class ScalingConfig:
    """One fusion-complexity-paper study; ``asdict()`` goes into results files."""

    data: DataConfig = DataConfig("clip-like", ClipLikeConfig())
    split: SplitConfig = SplitConfig(val_fraction=0.1, test_fraction=0.15, seed=0)
    fusions: Tuple[str, ...] = ("concat", "product", "tensor")
    sizes: Optional[Tuple[int, ...]] = _sizes_to(512)  # None: doubling from 32 to the largest available
    n_seeds: int = 5
    first_seed: int = 0
    train: TrainConfig = TrainConfig(epochs=20, batch_size=64, lr=1e-3, weight_decay=0.0, patience=None)
    head_hidden: int = 32
    fusion_dim: int = 64
    tensor_append_one: bool = False
    noise: str = "mix"
    levels: Tuple[float, ...] = DEFAULT_LEVELS
    robust_size: Optional[int] = None  # None: the largest size
    fusion_options: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # per fusion, its declared options
    attribution: bool = False  # per fusion, size and seed: EMAP beside the model and the interaction share (emap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fusions", tuple(self.fusions))
        for f in self.fusions:
            FUSIONS.get(f)
        stray = sorted(set(self.fusion_options) - set(self.fusions))
        if stray:
            raise ValueError(f"fusion_options name fusion(s) {stray} the study does not train")
        for f, options in self.fusion_options.items():
            check_fusion_options(f, options)
        if not self.fusions:
            raise ValueError("fusions: pick at least one fusion")
        if self.sizes is not None:
            object.__setattr__(self, "sizes", tuple(sorted(set(int(s) for s in self.sizes))))
            if not self.sizes or min(self.sizes) < 2 or max(self.sizes) > MAX_SIZE:
                raise ValueError(f"sizes must lie in [2, {MAX_SIZE}], got {list(self.sizes)}")
        if not 1 <= self.n_seeds <= MAX_SEEDS:
            raise ValueError(f"n_seeds must be in [1, {MAX_SEEDS}], got {self.n_seeds}")
        if self.first_seed < 0:
            raise ValueError(f"first_seed must be >= 0, got {self.first_seed}")
        CORRUPTIONS.get(self.noise)
        if len(self.levels) > MAX_LEVELS:
            raise ValueError(f"levels: {len(self.levels):,} noise levels (at most {MAX_LEVELS})")
        object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))
        if not self.levels or any(not (np.isfinite(v) and 0 <= v <= 1) for v in self.levels):
            raise ValueError(f"levels must be numbers in [0, 1], got {list(self.levels)}")

    def seeds(self) -> List[int]:
        return list(range(self.first_seed, self.first_seed + self.n_seeds))


DEFAULT = ScalingConfig()
DATASET_NAMES = datasets(can_give(2))  # the study fuses two modalities
DATA_DEFAULTS = {"clip-like": DEFAULT.data, "uci-digits": DataConfig("uci-digits", UCIConfig(views=("fou", "kar"))),
                 "synthetic": DataConfig("synthetic", SyntheticConfig(n_modalities=2, rule="dot"))}  # the dot task
_PAPER = replace(DEFAULT, sizes=_sizes_to(4096), n_seeds=20, train=replace(DEFAULT.train, epochs=100))
PRESETS: Dict[str, Tuple[ScalingConfig, str]] = {
    "quick look (default)": (DEFAULT, "about 5 s"),  # 4.8-5.0 s in the browser (slider_latency.py --first-result)
    "paper: dot-product task": (replace(_PAPER, data=DataConfig("clip-like", ClipLikeConfig(label="dot", n_samples=6000))),
                                "about 15-25 minutes on 2 cores"),
    "paper: real labels": (replace(_PAPER, data=DataConfig("clip-like", ClipLikeConfig(label="real", n_samples=6000))),
                           "about 15-25 minutes on 2 cores"),
}


@dataclass
class ScalingResult:
    """Tidy tables of one study (see ``run_scaling``)."""

    scores: pd.DataFrame  # fusion, label, size, seed, val_accuracy, test_accuracy, test_auc, best_epoch, params
    roc: pd.DataFrame  # fusion, size, seed, fpr, tpr
    robustness: pd.DataFrame  # fusion, condition, noise, level, accuracy, seed
    params: pd.DataFrame  # fusion, params
    chance: float  # majority-class rate of the test set
    robust_size: int
    stopped: bool = False
    config: Dict = field(default_factory=dict)
    emap: pd.DataFrame = field(default_factory=pd.DataFrame)  # fusion, label, size, seed, accuracy, emap_accuracy, ...


def doubling_sizes(n_max: int, start: int = 32) -> List[int]:
    """``start, 2·start, ...`` up to ``n_max`` (the largest doubling that fits)."""
    if n_max < start:
        raise ValueError(f"the train split has {n_max} samples, fewer than the smallest size {start}")
    sizes = [start]
    while sizes[-1] * 2 <= n_max:
        sizes.append(sizes[-1] * 2)
    return sizes


def parse_sizes(text: str) -> List[int]:
    """``'32-4096'`` (doubling range) or ``'32,64,100'`` (explicit list)."""
    try:
        if "-" in text:
            lo, hi = (int(t) for t in text.split("-", 1))
            sizes = [s for s in doubling_sizes(hi, lo)]
        else:
            sizes = [int(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise ValueError(f"sizes must look like '32-4096' or '32,64,128', got '{text}' ({exc})") from None
    if not sizes or min(sizes) < 2:
        raise ValueError(f"sizes must be at least 2, got '{text}'")
    return sorted(set(sizes))


def check_sizes(sizes: Sequence[int], n_train: int, n_classes: int) -> List[int]:
    bad = [s for s in sizes if s > n_train or s < n_classes]
    if bad:
        raise ValueError(f"training sizes {bad} do not fit: the train split has {n_train} samples "
                         f"and {n_classes} classes")
    return sorted(set(int(s) for s in sizes))


def operator_defaults(cfg: ScalingConfig) -> Dict[str, Dict[str, Any]]:
    """The study's own defaults of operator options: the paper's tensor fusion has no appended 1."""
    return {"tensor": {"append_one": cfg.tensor_append_one}}


def model_config(cfg: ScalingConfig, fusion: str) -> ModelConfig:
    """The fusion-complexity paper's model: identity encoders, fusion, Linear(32), ReLU, Linear(C), no dropout."""
    opts = {**operator_defaults(cfg).get(fusion, {}), **cfg.fusion_options.get(fusion, {})}
    return ModelConfig(fusion=fusion, encoder="identity", head_hidden=cfg.head_hidden, dropout=0.0,
                       fusion_dim=cfg.fusion_dim, fusion_options=opts)


def subsample(data: PreparedData, n: int, seed: int = 0) -> PreparedData:
    """``data`` with a stratified subsample of ``n`` training rows (validation and test unchanged)."""
    tr = data.train
    if n >= len(tr):
        return data
    rows, _ = train_test_split(np.arange(len(tr)), train_size=n, stratify=tr.y.numpy(), random_state=seed)
    return PreparedData(tr.take(np.sort(rows)), data.val, data.test, data.stats, data.raw_stats,
                        data.class_names, data.name)



def study_sizes(data: PreparedData, cfg: ScalingConfig) -> Tuple[List[int], int]:
    """The training sizes that fit the train split, and the one robustness is measured at."""
    sizes = check_sizes(cfg.sizes or doubling_sizes(len(data.train)), len(data.train), data.n_classes)
    robust_size = cfg.robust_size or sizes[-1]
    if robust_size not in sizes:
        raise ValueError(f"robustness size {robust_size} is not one of the training sizes {sizes}")
    return sizes, robust_size


def unit_tables(data: PreparedData, cfg: ScalingConfig, fusion: str, n: int, label: str,
                progress: Optional[Progress] = None, stop: Optional[Stop] = None) -> Dict[str, pd.DataFrame]:
    """One fusion at one training size, all seeds in one batched pass: its rows of every table."""
    _, robust_size = study_sizes(data, cfg)
    mcfg = model_config(cfg, fusion)
    n_params = count_parameters(build_model(data.shapes(), data.n_classes, mcfg, seed=cfg.first_seed))

    def callback(info: EpochInfo) -> None:
        if progress is not None:
            progress(info.epoch / info.epochs, f"epoch {info.epoch}/{info.epochs}, mean validation accuracy "
                                               f"{info.val_accuracy:.3f}")

    fit = batched_fit(subsample(data, n, cfg.first_seed), mcfg, cfg.train, cfg.seeds(), callback, stop)
    if fit.stopped_by_user:
        raise Stopped(f"{fusion}, n = {n}")
    return {**fit_tables(data, cfg, fusion, n, label, fit, n_params, robust_size),
            "artifacts": {"params": fit.best_params}}


@uploads_uncached
@functools.lru_cache(maxsize=2)
def prepared(data: DataConfig, split: SplitConfig, source: Optional[bytes] = None) -> PreparedData:
    """The study's data (each worker process keeps its last few)."""
    return prepare(data.load(source), split)


def scaling_job(cfg: ScalingConfig, fusion: str, n: int, source: Optional[bytes] = None,
                progress: Optional[Progress] = None, stop: Optional[Stop] = None) -> Dict[str, pd.DataFrame]:
    """A job of the study (``fusionlab.jobs``): a pure function of the config, the fusion and the size."""
    return unit_tables(prepared(cfg.data, cfg.split, source), cfg, fusion, n, label_of(cfg), progress, stop)


def _result(data: PreparedData, cfg: ScalingConfig, outcome: JobsOutcome) -> ScalingResult:
    _, robust_size = study_sizes(data, cfg)
    res = outcome.results
    params = concat(res, "params").drop_duplicates("fusion", ignore_index=True) if any(res) else pd.DataFrame()
    chance = float(np.bincount(data.test.y.numpy()).max() / len(data.test))
    return ScalingResult(concat(res, "scaling"), concat(res, "roc"), concat(res, "robustness"), params, chance,
                         robust_size, outcome.stopped, emap=concat(res, "emap"))


def run_scaling(data: PreparedData, cfg: ScalingConfig = ScalingConfig(), label: str = "",
                progress: Optional[Progress] = None, stop: Optional[Stop] = None) -> ScalingResult:
    """Train every fusion at every size with ``cfg.n_seeds`` seeds (batched), here, on ``data``.

    ``progress(fraction, message)`` is called after every epoch; ``stop()`` returning True stops the
    study (the result holds the settings finished so far, ``stopped=True``).
    """
    sizes, _ = study_sizes(data, cfg)
    units = [(f, n) for f in cfg.fusions for n in sizes]
    results, stopped = [], False
    for u, (fusion, n) in enumerate(units):
        def sub(fraction, message, epoch=None, u=u, fusion=fusion, n=n):
            if progress is not None:
                progress((u + fraction) / len(units), f"{fusion}, n={n}: {message}")
        try:
            results.append(unit_tables(data, cfg, fusion, n, label, sub, stop))
        except Stopped:
            stopped = True
            break
    return _result(data, cfg, JobsOutcome(results, 0, [], stopped))
def label_of(cfg: ScalingConfig) -> str:
    """The label name the tables carry: the dataset's ``label`` option if it has one, else ``class``."""
    return str(getattr(cfg.data.options, "label", "class"))


def jobs_of(cfg: ScalingConfig, data: PreparedData, source: Optional[bytes] = None) -> List[Job]:
    """The study as jobs: one per fusion and training size (its seeds batched together)."""
    sizes, _ = study_sizes(data, cfg)
    # a job's cost: its training rows times its model's parameters (tensor fusion at the largest size is ~1/3 of
    # the default study: started last on two threads, it alone was the last 1.7 s)
    params = {f: count_parameters(build_model(data.shapes(), data.n_classes, model_config(cfg, f), seed=cfg.first_seed))
              for f in cfg.fusions}
    return [Job(f"{fusion}, n = {n}", scaling_job, (cfg, fusion, n, source), cost=float(n * params[fusion]))
            for fusion in cfg.fusions for n in sizes]


def run(cfg: ScalingConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source=None, executor: Optional[Executor] = None, cache: Optional[JobCache] = None) -> Result:
    """The fusion-complexity paper's study: tables ``scaling``, ``robustness``, ``roc``, ``params``; its two findings.

    The jobs run here by default, or on ``executor`` (local processes, a Dask cluster); ``cache``
    keeps finished jobs so that a killed sweep resumes."""
    data = prepared(cfg.data, cfg.split, source)
    names = data.modality_names
    if len(names) != 2 and "product" in cfg.fusions:
        raise ValueError(f"the fusion-complexity paper fuses two modalities; {data.name} has {names}")
    jobs = jobs_of(cfg, data, source)
    outcome = run_jobs(jobs, executor, cache, progress, stop)
    params = {(j.args[1], j.args[2]): r["artifacts"]["params"] for j, r in zip(jobs, outcome.results)
              if r is not None and "artifacts" in r}
    return assemble(cfg, data, outcome, {"params": params, "job_seconds": outcome.seconds, "cached": outcome.cached})


def assemble(cfg: ScalingConfig, data: PreparedData, outcome: JobsOutcome, extra: Dict) -> Result:
    """The study's result from its jobs' tables (``jobs_of``'s order): what ``run`` and ``reopen`` return."""
    res = _result(data, cfg, outcome)
    tables = {"scaling": res.scores, "robustness": res.robustness, "roc": res.roc, "params": res.params,
              "summary": seed_summary(res.scores)}
    if cfg.attribution:
        tables["emap"] = res.emap
    config = {"dataset": data.name, "views": data.modality_names, **record(cfg)}
    return Result(tables, findings(res) if not res.scores.empty else [], config,
                  {"result": res, "data_name": data.name, **extra}, res.stopped)


MAX_UNITS = 200  # fusion x size settings a reopened bundle may hold (each is re-evaluated on reopen)


def unit_name(fusion: str, n: int) -> str:
    return f"{fusion}@{n}"


def units_of(result: Result) -> list:
    return [(f, int(n)) for f, n in result.tables["scaling"][["fusion", "size"]].drop_duplicates()
            .itertuples(index=False)]


def savable(cfg: ScalingConfig, result: Result) -> None:
    params = result.artifacts.params
    lacking = [u for u in units_of(result) if u not in params]
    if lacking:
        raise ValueError(f"the weights of {len(lacking)} setting(s) were not kept (e.g. {unit_name(*lacking[0])}: "
                         "a job resumed from the cache keeps only its tables); run the study again to save it")


def saved_models(result: Result) -> Dict[str, Dict[str, torch.Tensor]]:
    """Every fusion's and size's seeds as stacked weights ``<fusion>@<size>/<weight>`` of shape ``(seeds, ...)``."""
    params = result.artifacts.params
    return {unit_name(f, n): params[(f, n)] for f, n in units_of(result)}


def rebuild(cfg: ScalingConfig, states: Dict[str, Dict[str, torch.Tensor]], saved: Dict[str, pd.DataFrame],
            source=None) -> Result:
    """A saved study without retraining (``bundles.reopen``): every table recomputed from the weights as ``run``
    computes it (each seed's best epoch and validation accuracy are the bundle's own)."""
    data = prepared(cfg.data, cfg.split, source)
    sizes, robust_size = study_sizes(data, cfg)
    if len(cfg.fusions) * len(sizes) > MAX_UNITS or len(cfg.levels) > 100 or cfg.n_seeds > 100:
        raise ValueError(f"the bundle's study has {len(cfg.fusions) * len(sizes)} settings, {len(cfg.levels)} noise "
                         f"levels and {cfg.n_seeds} seeds (at most {MAX_UNITS}, 100 and 100)")
    scores = saved.get("scaling")
    want = {"fusion", "size", "seed", "val_accuracy", "best_epoch"}
    if scores is None or not want <= set(scores.columns):
        raise ValueError(f"the bundle lacks its scaling table with the columns {sorted(want)}")
    names = {unit_name(f, n): (f, n) for f in cfg.fusions for n in sizes}
    unknown = sorted(set(states) - set(names))
    if unknown:
        raise ValueError(f"the bundle holds setting(s) {unknown[:3]} its config does not train")
    seeds, label, results = cfg.seeds(), label_of(cfg), []
    for fusion in cfg.fusions:
        mcfg = model_config(cfg, fusion)
        n_params = count_parameters(build_model(data.shapes(), data.n_classes, mcfg, seed=cfg.first_seed))
        for n in sizes:
            name = unit_name(fusion, n)
            if name not in states:
                raise ValueError(f"the bundle lacks the weights of {name}, which its config trains")
            rows = scores[(scores["fusion"].astype(str) == fusion) & (scores["size"] == n)].set_index("seed")
            if sorted(rows.index) != seeds:
                raise ValueError(f"the bundle's scaling table has seeds {sorted(rows.index)[:5]} for {name}; "
                                 f"its config trains {seeds[:5]}")
            stack = SeedStack([build_model(data.shapes(), data.n_classes, mcfg, seed=s) for s in seeds])
            params = states[name]
            own = {k: v for k, v in stack.params.items()}
            missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
            if missing or extra:
                raise ValueError(f"the weights of {name} do not fit the model its config builds: missing "
                                 f"{missing[:3]}, unexpected {extra[:3]}")
            for k, v in own.items():
                if tuple(params[k].shape) != tuple(v.shape) or params[k].dtype != v.dtype:
                    raise ValueError(f"weight '{name}/{k}' is {tuple(params[k].shape)} {params[k].dtype}; the model "
                                     f"needs {tuple(v.shape)} {v.dtype}")
            try:
                best_epoch = rows.loc[seeds, "best_epoch"].to_numpy(int)
            except (TypeError, ValueError):
                raise ValueError(f"the bundle's best epochs of {name} are not whole numbers") from None
            fit = BatchedFit(seeds, stack, params, pd.DataFrame(), best_epoch,
                             rows.loc[seeds, "val_accuracy"].to_numpy(float), False, 0.0)
            results.append(fit_tables(data, cfg, fusion, n, label, fit, n_params, robust_size))
    outcome = JobsOutcome(results, 0, [], False)
    return assemble(cfg, data, outcome, {"params": {names[k]: v for k, v in states.items()}})


# one job per fusion and size trains its seeds batched and measures them; assemble joins the jobs' tables
STAGES = {"train and measure": scaling_job, "assemble": assemble}

SAVING = Saving("scaling", ScalingConfig, models=saved_models, rebuild=rebuild, savable=savable)


