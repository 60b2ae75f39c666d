"""The Gates & values study: VGMR (the VGMR paper, docs/methods.md, VGMR) on a backbone, and what it does.

``run`` (the CLI's ``vgmr``) trains VGMR and the plain backbone for ``cfg.seeds`` seeds and returns
``gate_stats`` (§4.4, every seed's VGMR, pooled; ``gate_samples`` per seed and sample), ``removal``
(§4.7, the first seed of both methods) and ``robustness`` (§4.8, every seed), with the §4.4 and
§4.8 findings. The page runs the same stages one at a time:
``train_vgmr`` when you press Train, then ``train_seeds`` + ``gate_tables`` and ``train_seeds`` +
``diagnostics.gates.robustness_of`` behind their buttons.
"""
from __future__ import annotations

import functools
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pandas as pd
import torch

from ..data import DataConfig, PreparedData, datasets, SplitConfig, SyntheticConfig, UCIConfig, prepare
from ..diagnostics.gates import (SweepConfig, corrupt_test, gate_findings, gate_samples, noise_label, removal_table,
                                 robustness_findings, robustness_of, robustness_summary, sample_table,
                                 summarise_samples)
from ..diagnostics.signals import SignalTestConfig, over_conditions, signal_findings, signal_permutation
from ..jobs import uploads_uncached, Job, JobCache, Stopped, concat, run_jobs
from ..models import ModelConfig, build_model
from ..refiners.vgmr import VGMRConfig
from ..train import FitResult, TrainConfig, fit
from ..bundles import Saving, load_model, named_models
from .base import Progress, Result, Stop, epoch_progress, record

BACKBONES = ("concat", "transformer")
# Three modalities, the first informative but easy to corrupt, the others weak (T = 8 timesteps).
VGMR_SYNTHETIC = SyntheticConfig(n_samples=1200, n_modalities=3, dim=12, seq_len=8, n_classes=4,
                                 informativeness=(0.35, 0.2, 0.1), seed=0)
# The same, with noise that persists over a sample's timesteps: a noised timestep stands out from the
# sample's others, so a per-timestep gate has something to see (with iid noise a clean m1 timestep is
# already ~88 % unit noise, and the gate measured 0.469 clean vs 0.467 on noised timesteps).
VGMR_STRUCTURED = replace(VGMR_SYNTHETIC, structure="persistent")


def backbone_config(backbone: str = "concat", vgmr: Optional[VGMRConfig] = None, dim: int = 64,
                    options: Optional[Mapping[str, Any]] = None) -> ModelConfig:
    """The plain backbone (identity encoders: pool, fuse, MLP head), with VGMR in front if given; ``options``
    are the backbone operator's own (a transformer's layers, heads, dropout)."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got '{backbone}'")
    return ModelConfig(fusion=backbone, encoder="identity", fusion_dim=dim, fusion_options=dict(options or {}),
                       refiner="vgmr" if vgmr else None, refiner_options=asdict(vgmr) if vgmr else {})


@dataclass(frozen=True)
class GatesConfig:
    data: DataConfig = DataConfig("synthetic", VGMR_SYNTHETIC)
    backbone: str = "concat"
    vgmr: VGMRConfig = VGMRConfig()
    train: TrainConfig = TrainConfig(epochs=20)
    ratio: float = 0.3  # §4.4: fraction of one modality's timesteps replaced by noise
    weight: float = 1.0  # §4.4: noise weight (1 replaces)
    seeds: int = 3  # §4.4 and §4.8: seeds train.seed, train.seed + 1, ...
    sweep: SweepConfig = SweepConfig()
    signals: Optional[SignalTestConfig] = None  # docs/methods.md, signal permutation test on the first seed's VGMR (None: not run)
    backbone_options: Dict[str, Any] = field(default_factory=dict)  # the backbone operator's declared options

    def __post_init__(self) -> None:
        backbone_config(self.backbone, options=self.backbone_options)
        if not 0 <= self.ratio <= 1 or not 0 <= self.weight <= 1:
            raise ValueError(f"ratio and weight must lie in [0, 1], got {self.ratio} and {self.weight}")
        if not 1 <= self.seeds <= 100:
            raise ValueError(f"seeds must be in [1, 100], got {self.seeds}")

    def seed_list(self) -> Tuple[int, ...]:
        return tuple(range(self.train.seed, self.train.seed + self.seeds))

    def configs(self) -> Dict[str, ModelConfig]:
        opts = self.backbone_options
        return {"vgmr": backbone_config(self.backbone, self.vgmr, options=opts),
                self.backbone: backbone_config(self.backbone, options=opts)}


DEFAULT = GatesConfig()
DATASET_NAMES = datasets()  # VGMR refines any modalities, vectors or sequences
DATA_DEFAULTS: Dict[str, DataConfig] = {
    "synthetic": DEFAULT.data,
    "uci-digits": DataConfig("uci-digits", UCIConfig(views=("pix", "fou", "mor"), pix_as_sequence=True)),
}
STRUCTURED_DATA = DataConfig("synthetic", VGMR_STRUCTURED)  # the page's "Structured synthetic" preset


def prepared(cfg: GatesConfig, source: Any = None) -> PreparedData:
    return _prepared(cfg.data, cfg.train.seed, source)


def train_one(data: PreparedData, model_cfg: ModelConfig, train_cfg: TrainConfig, callback=None,
              stop: Optional[Stop] = None) -> FitResult:
    model = build_model(data.shapes(), data.n_classes, model_cfg, seed=train_cfg.seed)
    return fit(model, data, train_cfg, callback=callback, stop=stop)


def train_vgmr(cfg: GatesConfig, data: PreparedData, progress: Optional[Progress] = None,
               stop: Optional[Stop] = None) -> FitResult:
    """VGMR on the backbone, with the training seed (what the page's Train button runs)."""
    return train_one(data, cfg.configs()["vgmr"], cfg.train, epoch_progress(progress, 0, cfg.train.epochs, "VGMR"),
                     stop)


def train_seeds(data: PreparedData, configs: Mapping[str, ModelConfig], train_cfg: TrainConfig,
                seeds: Sequence[int], progress: Optional[Progress] = None,
                stop: Optional[Stop] = None, done: Optional[Mapping[Tuple[str, int], torch.nn.Module]] = None
                ) -> Dict[Tuple[str, int], torch.nn.Module]:
    """Every method once per seed (init, batch order and dropout from the seed); ``done`` models are reused."""
    models, jobs = dict(done or {}), [(name, s) for s in seeds for name in configs]
    todo = [j for j in jobs if j not in models]
    for j, (name, s) in enumerate(todo):
        cb = epoch_progress(progress, j * train_cfg.epochs, len(todo) * train_cfg.epochs, f"{name}, seed {s}")
        res = train_one(data, configs[name], replace(train_cfg, seed=s), cb, stop)
        if res.stopped_by_user:
            break
        models[(name, s)] = res.model
    return {j: models[j] for j in jobs if j in models}


def gate_tables(cfg: GatesConfig, data: PreparedData, models: Mapping[Tuple[str, int], torch.nn.Module]
                ) -> Dict[str, pd.DataFrame]:
    """§4.4 per sample (every VGMR seed in ``models``, its corruption drawn from its seed) and pooled,
    and §4.7 removal of the first seed's VGMR and backbone."""
    seeds = sorted(s for name, s in models if name == "vgmr")
    samples = pd.concat([gate_samples(models[("vgmr", s)], data, cfg.ratio, cfg.weight, seed=s).assign(seed=s)
                         for s in seeds], ignore_index=True)
    first = cfg.train.seed
    return {"gate_samples": samples, "gate_stats": summarise_samples(samples),
            "removal": removal_table({name: models[(name, first)] for name in cfg.configs()
                                      if (name, first) in models}, data)}


def signal_test(model: torch.nn.Module, data: PreparedData, noises: Sequence[Mapping[str, Tuple[float, float]]],
                cfg: SignalTestConfig = SignalTestConfig(), seed: int = 0):
    """docs/methods.md, signal permutation test on VGMR's signals, once per noise setting (``{modality: (ratio, weight)}``, ``{}`` clean;
    the page passes its sliders'): a ``condition`` column names each."""
    conditions = {noise_label(n): corrupt_test(data, n, seed) for n in noises}
    return over_conditions(signal_permutation, model, conditions, data.test.y, data.n_classes, cfg)


def study_noises(cfg: GatesConfig, names: Sequence[str]) -> List[Dict[str, Tuple[float, float]]]:
    """The study's signal-test conditions: clean, then each modality corrupted at §4.4's ratio and weight."""
    return [{}] + [{k: (cfg.ratio, cfg.weight)} for k in names]


@uploads_uncached
@functools.lru_cache(maxsize=2)
def _prepared(cfg_data: DataConfig, seed: int, source: Optional[bytes] = None) -> PreparedData:
    return prepare(cfg_data.load(source), SplitConfig(seed=seed))


def gates_job(cfg: GatesConfig, method: str, seed: int, source: Optional[bytes] = None,
              progress: Optional[Progress] = None, stop: Optional[Stop] = None) -> Dict[str, Any]:
    """A job of the study (``fusionlab.jobs``): one method with one seed, trained and measured. The first
    seed's models also give §4.7 (both); every VGMR model gives §4.4, its corruption drawn from its seed."""
    data = _prepared(cfg.data, cfg.train.seed, source)
    cb = epoch_progress(progress, 0, cfg.train.epochs, f"{method}, seed {seed}")
    res = train_one(data, cfg.configs()[method], replace(cfg.train, seed=seed), cb, stop)
    if res.stopped_by_user:
        raise Stopped(f"{method}, seed {seed}")
    out: Dict[str, Any] = {"robustness": robustness_of({(method, seed): res.model}, data, cfg.sweep),
                           "artifacts": {"model": res.model}}
    if seed == cfg.train.seed:
        out["removal"] = removal_table({method: res.model}, data)
    if method == "vgmr":
        out["gate_samples"] = gate_samples(res.model, data, cfg.ratio, cfg.weight, seed=seed).assign(seed=seed)
        if cfg.signals is not None and seed == cfg.train.seed:
            out["signal_permutation"] = signal_test(res.model, data, study_noises(cfg, data.modality_names),
                                                    cfg.signals, seed).table
    return out


def jobs_of(cfg: GatesConfig, source: Optional[bytes] = None) -> List[Job]:
    return [Job(f"{name}, seed {s}", gates_job, (cfg, name, s, source)) for s in cfg.seed_list() for name in cfg.configs()]


def run(cfg: GatesConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source: Any = None, executor: Optional[Executor] = None, cache: Optional[JobCache] = None) -> Result:
    """The CLI's ``vgmr``: one job per method and seed, here (default), on ``executor`` or from ``cache``."""
    data = _prepared(cfg.data, cfg.train.seed, source)
    jobs = jobs_of(cfg, source)
    outcome = run_jobs(jobs, executor, cache, progress, stop)
    tables: Dict[str, pd.DataFrame] = {}
    findings = []
    samples = concat(outcome.results, "gate_samples")
    if len(samples):
        tables.update(gate_samples=samples, gate_stats=summarise_samples(samples),
                      removal=concat(outcome.results, "removal"))
        findings += gate_findings(samples)
    signals = concat(outcome.results, "signal_permutation")
    if len(signals):
        tables["signal_permutation"] = signals
        findings += signal_findings(signals)
    if not outcome.stopped:
        tables["robustness"] = concat(outcome.results, "robustness")
        tables["robustness_summary"] = robustness_summary(tables["robustness"], cfg.backbone)
        findings += robustness_findings(tables["robustness"], "vgmr", cfg.backbone)
    models = {(j.args[1], j.args[2]): r["artifacts"]["model"] for j, r in zip(jobs, outcome.results)
              if r is not None and "artifacts" in r}
    config = {"dataset": data.name, "views": data.modality_names, "shapes": data.shapes(), **record(cfg)}
    return Result(tables, findings, config, {"models": models, "data": data, "job_seconds": outcome.seconds,
                                             "cached": outcome.cached}, outcome.stopped)


MAX_SWEEP = 100  # levels a reopened bundle's robustness grid may hold (its tables are recomputed on reopen)


def model_name(method: str, seed: int) -> str:
    return f"{method}@{seed}"


Models = Dict[Tuple[str, int], torch.nn.Module]


def gate_models(cfg: GatesConfig) -> List[Tuple[str, int]]:
    """The models §4.4 and §4.7 need: every VGMR seed and the first seed's backbone."""
    return [("vgmr", s) for s in cfg.seed_list()] + [(cfg.backbone, cfg.train.seed)]


def robustness_models(cfg: GatesConfig) -> List[Tuple[str, int]]:
    """The models §4.8 needs: both methods, every seed."""
    return [(name, s) for s in cfg.seed_list() for name in cfg.configs()]


def _having(models: Mapping[Tuple[str, int], torch.nn.Module], keys) -> Optional[Models]:
    return {k: models[k] for k in keys} if all(k in models for k in keys) else None


def gate_statistics(cfg: GatesConfig, data: PreparedData, models: Mapping[Tuple[str, int], torch.nn.Module],
                    progress: Optional[Progress] = None, stop: Optional[Stop] = None
                    ) -> Tuple[Models, Dict[str, pd.DataFrame]]:
    """The page's second stage (§4.4 and §4.7): train what ``gate_models`` lacks (``models`` are reused), then the
    gate tables; every model trained so far and the tables (none if Stop cut the training short)."""
    out = train_seeds(data, {"vgmr": cfg.configs()["vgmr"]}, cfg.train, cfg.seed_list(), progress, stop,
                      done=models)
    out = {**models, **out, **train_seeds(data, {cfg.backbone: cfg.configs()[cfg.backbone]}, cfg.train,
                                          [cfg.train.seed], progress, stop, done=models)}
    have = _having(out, gate_models(cfg))
    return out, gate_tables(cfg, data, have) if have else {}


def robustness_stage(cfg: GatesConfig, data: PreparedData, models: Mapping[Tuple[str, int], torch.nn.Module],
                     progress: Optional[Progress] = None, stop: Optional[Stop] = None
                     ) -> Tuple[Models, Dict[str, pd.DataFrame]]:
    """The page's third stage (§4.8): train what ``robustness_models`` lacks, then accuracy over the sweep."""
    out = {**models, **train_seeds(data, cfg.configs(), cfg.train, cfg.seed_list(), progress, stop, done=models)}
    have = _having(out, robustness_models(cfg))
    return out, {"robustness": robustness_of(have, data, cfg.sweep)} if have else {}


STAGES = {"train": train_vgmr, "gate_statistics": gate_statistics, "robustness": robustness_stage}


def trained_tables(cfg: GatesConfig, data: PreparedData, models: Mapping[Tuple[str, int], torch.nn.Module]
                   ) -> Dict[str, pd.DataFrame]:
    """Every table the page's stages computed from ``models``: the first VGMR's per-sample table, the §4.4 and
    §4.7 tables once ``gate_models`` are trained, and §4.8 once ``robustness_models`` are. What ``reopen``
    recomputes from a bundle's weights."""
    tables = {"samples": sample_table(models[("vgmr", cfg.train.seed)], data)}
    have = _having(models, gate_models(cfg))
    if have:
        tables.update(gate_tables(cfg, data, have))
    have = _having(models, robustness_models(cfg))
    if have:
        tables["robustness"] = robustness_of(have, data, cfg.sweep)
    return tables


def page_result(cfg: GatesConfig, data: PreparedData, models: Mapping[Tuple[str, int], torch.nn.Module],
                history: pd.DataFrame, best_epoch: int, tables: Mapping[str, pd.DataFrame]) -> Result:
    """What the page has trained so far as the study's ``Result`` (what a bundle saves): every model, the first
    VGMR's training history and best epoch, and the tables its stages computed."""
    out = {**tables, "history": history, "best": pd.DataFrame([{"best_epoch": int(best_epoch)}])}
    config = {"dataset": data.name, "views": data.modality_names, **record(cfg)}
    return Result(out, [], config, {"models": dict(models), "data": data})


def rebuild(cfg: GatesConfig, states: Dict[str, Dict[str, torch.Tensor]], saved: Dict[str, pd.DataFrame],
            source: Any = None) -> Result:
    """A saved run without retraining (``bundles.reopen``): every model it holds, every table but the history
    recomputed from the weights (``trained_tables``)."""
    best, history = saved.get("best"), saved.get("history")
    if history is None or best is None or len(best) != 1 or "best_epoch" not in best:
        raise ValueError("the bundle lacks its history table or its one-row best-epoch table")
    want = {"epoch", "train_loss", "val_loss", "val_accuracy"}
    if not want <= set(history.columns) or history.empty:
        raise ValueError(f"the bundle's history table needs the columns {sorted(want)} and a row per epoch")
    try:
        best_epoch = int(best["best_epoch"].iloc[0])
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"the bundle's best epoch is {best['best_epoch'].iloc[0]}, not a whole number") from None
    grid = len(cfg.sweep.ratios) + len(cfg.sweep.weights)
    if grid > MAX_SWEEP or not 1 <= len(cfg.sweep.seeds) <= 100:
        raise ValueError(f"the bundle's robustness grid has {grid} levels (at most {MAX_SWEEP}) or "
                         f"{len(cfg.sweep.seeds)} seeds (1 to 100)")
    names = {model_name(m, s): (m, s) for s in cfg.seed_list() for m in cfg.configs()}
    named_models(states, names, all_needed=False)
    if model_name("vgmr", cfg.train.seed) not in states:
        raise ValueError(f"the bundle lacks the first VGMR model ('{model_name('vgmr', cfg.train.seed)}')")
    data = prepared(cfg, source)
    models = {}
    for name, state in states.items():
        method, seed = names[name]
        models[(method, seed)] = load_model(build_model(data.shapes(), data.n_classes, cfg.configs()[method],
                                                        seed=seed), state)
    return page_result(cfg, data, models, history, best_epoch, trained_tables(cfg, data, models))


SAVING = Saving("gates", GatesConfig, rebuild=rebuild,
                models=lambda result: {model_name(*k): m for k, m in result.artifacts.models.items()})
