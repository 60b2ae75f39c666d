"""The Uncertainty-weighting study: UDML vs static / PE fusion (the UDML paper, docs/methods.md, UDML).

``run`` trains every method with every seed through the one engine (``train.fit`` with
``objectives.UDMLObjective``: the progressive schedule, intensity-labelled noise and UDML's loss,
keeping the final epoch) and returns the CLI's tables: ``estimator`` (each estimator's output as
one modality's injected intensity runs 1..max), ``weights`` (per-sample weights at random test
noise), ``alpha``, ``robustness`` and ``accuracy``, with the UDML paper's findings. The split is fixed by
``split.seed`` for every training seed, so seeds are paired on one test set; it also seeds the
test-time noise of the diagnostics.
"""
from __future__ import annotations

import functools
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from ..data import DataConfig, SplitConfig, datasets, SyntheticConfig, UCIConfig, prepare
from ..diagnostics.signals import SignalTestConfig, signal_findings
from ..findings import records
from ..diagnostics.udml import (UDMLStudy, accuracy_table, alpha_table, findings, per_sample_levels,
                                robustness_table, sample_weights, signal_test, spearman_table, study_oracle,
                                study_response)
from ..models.udml import VARIANTS, UDMLConfig, build_udml
from ..models.udml_schedule import NoiseSchedule, max_level, with_units
from ..noise import CORRUPTIONS

from ..jobs import uploads_uncached, Job, JobCache, Stopped, concat, run_jobs
from ..objectives import UDMLObjective
from ..train import TrainConfig, fit, predict
from ..bundles import Saving, load_model, named_models
from .base import Progress, Result, Stop, epoch_progress, record

NOISE = "gaussian"  # UDML's training noise
TEST_NOISES = tuple(n for n in CORRUPTIONS.names() if n not in ("missing", "drop"))  # graded corruptions only


@dataclass(frozen=True)
class UDMLStudyConfig:
    data: DataConfig = DataConfig("synthetic", SyntheticConfig(n_samples=1200, n_modalities=2, dim=16,
                                                               informativeness=(0.45, 0.9), rule="linear",
                                                               xor_modalities=(1,)))
    split: SplitConfig = SplitConfig(seed=0)
    model: UDMLConfig = UDMLConfig(gamma=3.0, beta=1e-3)
    train: TrainConfig = TrainConfig(epochs=20, patience=None, keep="last", seed=0)  # seed: the first of `seeds`
    schedule: NoiseSchedule = NoiseSchedule(clean_epochs=2, weight_delay=10)
    seeds: int = 3  # train.seed, train.seed + 1, ...: the paired findings need several (the page shows the first at once)
    methods: Tuple[str, ...] = tuple(VARIANTS.names())
    test_noise: str = NOISE  # the corruption of the estimator-response sweep; others test generalisation
    signals: Optional[SignalTestConfig] = None  # docs/methods.md, signal permutation test on every method's first-seed model (None: not run)

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods) or tuple(VARIANTS.names()))
        for m in self.methods:
            VARIANTS.get(m)
        if not 1 <= self.seeds <= 100:
            raise ValueError(f"seeds must be in [1, 100], got {self.seeds}")
        if self.test_noise not in TEST_NOISES:
            raise ValueError(f"test_noise must be one of {TEST_NOISES}, got '{self.test_noise}'")

    def seed_list(self) -> Tuple[int, ...]:
        return tuple(range(self.train.seed, self.train.seed + self.seeds))


DEFAULT = UDMLStudyConfig()
DATASET_NAMES = datasets()  # every registered dataset
DATA_DEFAULTS: Dict[str, DataConfig] = {"synthetic": DEFAULT.data,
                                        "uci-digits": DataConfig("uci-digits", UCIConfig(views=("pix", "fou")))}
# Dual suppression needs a modality that is informative but slow to learn: equally informative views
# (0.9, 0.9), the second XOR-coded, so the model's dependency on it lags and PE's variance weight can
# punish it twice. (With (0.45, 0.9) the XOR view is the *stronger* one: the model leans on it, PE gives
# it more weight, and the effect cannot appear by construction.)
DUAL = replace(DEFAULT, data=DataConfig("synthetic", replace(DEFAULT.data.options, informativeness=(0.9, 0.9))),
               train=replace(DEFAULT.train, epochs=30), seeds=3)
# the authors' code (their public code, CREMA-D's settings) on the dual-suppression data: SGD (lr 1e-3, momentum
# 0.9, weight decay 1e-4) for 100 epochs, a tenth of the rate after 70, the gradient clipped at norm 40, the first 50
# epochs clean, exactly half the samples clean, gamma 4, beta 1e-5, the noise MSE summed over modalities, one linear
# head, alpha starting at 32 and 10, the noise in their units (the first modality read as the audio: sd t in its
# spectrogram's units; the second as the video: sd t^2 in pixel units; pure noise at t = 11; models.udml_schedule.
# AUTHORS_UNITS); every epoch trains (no patience). Not theirs: the data, and the kept epoch (the best validation epoch,
# where theirs is the best test epoch after the warm-up)
AUTHORS = replace(DUAL, train=replace(DUAL.train, epochs=100, optimizer="sgd", lr=1e-3, momentum=0.9, weight_decay=1e-4,
                                      lr_steps=(70,), clip_norm=40.0, patience=None),
                  schedule=with_units(replace(DUAL.schedule, clean_epochs=50, clean_draw="exact"), "authors"),
                  model=replace(DUAL.model, gamma=4.0, beta=1e-5, mse_reduction="sum", head="linear",
                                alpha_init=(32.0, 10.0)))
PRESETS: Dict[str, Tuple[UDMLStudyConfig, str]] = {
    "dual-suppression": (DUAL, "3 seeds x 4 methods x 30 epochs, about a minute"),
    "paper-like": (replace(DEFAULT, data=DATA_DEFAULTS["uci-digits"], model=replace(DEFAULT.model, beta=1e-4),
                           train=replace(DEFAULT.train, epochs=30),
                           schedule=replace(DEFAULT.schedule, clean_epochs=3), seeds=3),
                   "two real views (uci-digits pix, fou), 3 seeds x 4 methods, about two minutes"),
    "authors' code": (AUTHORS, "the dual-suppression data trained and noised as the authors' code does (SGD, 100 "
                               "epochs, half clean, noise in their units): 3 seeds x 4 methods, a few minutes"),
}


def hard_modality(cfg: UDMLStudyConfig, names) -> Optional[str]:
    """The modality the data make hard to learn: the first XOR-coded one, if the dataset has the option."""
    xor = tuple(getattr(cfg.data.options, "xor_modalities", ()))
    return names[xor[0]] if xor and xor[0] < len(names) else None


def train_one(data, cfg: UDMLStudyConfig, method: str, seed: int, progress: Optional[Progress] = None,
              stop: Optional[Stop] = None, done: int = 0, total: Optional[int] = None):
    """One method with one seed: ``fit`` with UDML's objective (noise, order and dropout from the seed);
    progress counts ``done`` epochs of ``total`` before it (a study's). The history gains each
    modality's unimodal validation accuracy per epoch (``unimodal/<m>``; the authors log them: an
    under-learned modality shows as a slow curve)."""
    cfg.schedule.check_modalities(len(data.modality_names))
    model = build_udml(data.shapes(), data.n_classes, replace(cfg.model, method=method), seed=seed)
    report = epoch_progress(progress, done, total or cfg.train.epochs, f"{method}, seed {seed}")
    uni: List[Dict[str, float]] = []

    def callback(info) -> None:
        extras = predict(model, data.val.xs).extras  # eval mode, restored after; draws no randomness
        uni.append({"epoch": info.epoch, **{f"unimodal/{k}": float((extras[f"unimodal/{k}"].argmax(1) == data.val.y)
                                                                      .float().mean()) for k in model.names}})
        report(info)

    res = fit(model, data, replace(cfg.train, seed=seed), UDMLObjective(cfg.schedule), callback, stop)
    if uni:
        res.history = res.history.merge(pd.DataFrame(uni), on="epoch", how="left")
    return res


def unimodal_table(histories: Dict[Tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """Per method, seed, epoch and modality: the unimodal validation accuracy (``train_one``'s history)."""
    frames = []
    for (meth, seed), h in histories.items():
        cols = [c for c in h if c.startswith("unimodal/")]
        if cols:
            long = h.melt(id_vars="epoch", value_vars=cols, var_name="modality", value_name="accuracy")
            frames.append(long.assign(method=meth, seed=seed, modality=long["modality"].str.split("/").str[1]))
    return (pd.concat(frames, ignore_index=True)[["method", "seed", "epoch", "modality", "accuracy"]] if frames
            else pd.DataFrame(columns=["method", "seed", "epoch", "modality", "accuracy"]))


def train_study(data, cfg: UDMLStudyConfig, progress: Optional[Progress] = None,
                stop: Optional[Stop] = None) -> UDMLStudy:
    """Each method with each seed (same data, same schedule; noise, order and dropout from the seed)."""
    seeds = cfg.seed_list()
    total = len(cfg.methods) * len(seeds) * cfg.train.epochs
    study = UDMLStudy(data, cfg.model, cfg.schedule, {}, {}, eval_seed=cfg.split.seed, test_noise=cfg.test_noise)
    done = 0
    for method in cfg.methods:
        for seed in seeds:
            res = train_one(data, cfg, method, seed, progress, stop, done, total)
            study.models[(method, seed)], study.histories[(method, seed)] = res.model, res.history
            done += cfg.train.epochs
            if res.stopped_by_user:
                study.stopped = True
                return study
    return study


def weights_at_training_noise(study: UDMLStudy) -> pd.DataFrame:
    """Per-sample weights with every modality's test noise ~ U(0, its top training level)."""
    tops = {k: max_level(study.schedule, m) for m, k in enumerate(study.data.modality_names)}
    levels = per_sample_levels(len(study.data.test), tops, study.eval_seed)
    return pd.concat([sample_weights(study, m, s, levels) for m, s in study.models], ignore_index=True)


@uploads_uncached
@functools.lru_cache(maxsize=2)
def prepared(data_cfg: DataConfig, split: SplitConfig, source: Optional[bytes] = None):
    data = prepare(data_cfg.load(source), split)
    if len(data.modality_names) < 2:
        raise ValueError(f"UDML weighs modalities against each other: pick two views (modalities); got "
                         f"{data.modality_names}")
    return data


def model_tables(study: UDMLStudy) -> Dict[str, pd.DataFrame]:
    """Every table of the study for the models in ``study`` (one, in a job)."""
    resp = study_response(study)
    return {"estimator": resp[["method", "modality", "injected", "predicted", "seed"]],
            "weights": weights_at_training_noise(study), "alpha": alpha_table(study),
            "robustness": robustness_table(study), "accuracy": accuracy_table(study)}


def udml_job(cfg: UDMLStudyConfig, method: str, seed: int, source: Optional[bytes] = None,
             progress: Optional[Progress] = None, stop: Optional[Stop] = None) -> Dict[str, Any]:
    """A job of the study (``fusionlab.jobs``): one method with one seed, trained and measured."""
    data = prepared(cfg.data, cfg.split, source)
    res = train_one(data, cfg, method, seed, progress, stop)
    if res.stopped_by_user:
        raise Stopped(f"{method}, seed {seed}")
    study = UDMLStudy(data, cfg.model, cfg.schedule, {(method, seed): res.model}, {(method, seed): res.history},
                      eval_seed=cfg.split.seed, test_noise=cfg.test_noise)
    out = {**model_tables(study), "history": res.history.assign(method=method, seed=seed),
           "artifacts": {"model": res.model}}
    if cfg.signals is not None and seed == cfg.train.seed:
        out["signal_permutation"] = signal_test(study, method, seed, study_noises(study), cfg.signals).table
    return out


def study_noises(study: UDMLStudy) -> List[Dict[str, float]]:
    """The study's signal-test conditions: clean, then each modality noised up to its top training level."""
    return [{}] + [{k: max_level(study.schedule, m)} for m, k in enumerate(study.data.modality_names)]


def jobs_of(cfg: UDMLStudyConfig, source: Optional[bytes] = None) -> List[Job]:
    return [Job(f"{m}, seed {s}", udml_job, (cfg, m, s, source)) for m in cfg.methods for s in cfg.seed_list()]


@dataclass
class Part:
    """Some of a study's jobs, finished: ``(method, seed) -> udml_job's output`` (None: not run, stopped)."""

    results: Dict[Tuple[str, int], Optional[Dict[str, Any]]]
    stopped: bool = False
    seconds: List[float] = field(default_factory=list)
    cached: int = 0


def run_part(cfg: UDMLStudyConfig, seeds: Optional[Sequence[int]] = None, progress: Optional[Progress] = None,
             stop: Optional[Stop] = None, source: Any = None, executor: Optional[Executor] = None,
             cache: Optional[JobCache] = None) -> Part:
    """The jobs of ``seeds`` (default: all of ``cfg``'s), each the job ``run`` runs (the same arguments, so the same
    result and the same cache entry): the page trains the first seed, shows it, then the others."""
    seeds = cfg.seed_list() if seeds is None else tuple(seeds)
    jobs = [job for job in jobs_of(cfg, source) if job.args[2] in seeds]
    outcome = run_jobs(jobs, executor, cache, progress, stop)
    return Part({(job.args[1], job.args[2]): r for job, r in zip(jobs, outcome.results)}, outcome.stopped,
                list(outcome.seconds), outcome.cached)


def from_parts(cfg: UDMLStudyConfig, parts: Sequence[Part], source: Any = None) -> Result:
    """The study's result from parts of its jobs, in ``jobs_of``'s order whatever order they ran in; ``cfg`` may ask
    for fewer seeds than the parts hold (the first seed's result, while the others train)."""
    data = prepared(cfg.data, cfg.split, source)
    merged = {k: v for part in parts for k, v in part.results.items()}
    keys = [(job.args[1], job.args[2]) for job in jobs_of(cfg, source)]
    results = [merged.get(k) for k in keys]
    models = {k: merged[k]["artifacts"]["model"] for k in keys if merged.get(k) and "artifacts" in merged[k]}
    histories = {k: merged[k]["history"] for k in keys if merged.get(k) and "history" in merged[k]}
    return assemble(cfg, data, results, models, histories, any(p.stopped for p in parts),
                    {"job_seconds": [t for p in parts for t in p.seconds], "cached": sum(p.cached for p in parts)})


def run(cfg: UDMLStudyConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source: Any = None, executor: Optional[Executor] = None, cache: Optional[JobCache] = None) -> Result:
    """The study as one job per method and seed, here (default), on ``executor`` or resumed from ``cache``."""
    return from_parts(cfg, [run_part(cfg, None, progress, stop, source, executor, cache)], source)


def assemble(cfg: UDMLStudyConfig, data, results: List[Optional[Dict[str, Any]]], models, histories,
             stopped: bool = False, extra: Optional[Dict[str, Any]] = None) -> Result:
    """The study's result from its jobs' outputs (``udml_job``'s, in ``jobs_of``'s order): what ``run`` returns and
    what ``reopen`` rebuilds from a bundle's weights."""
    study = UDMLStudy(data, cfg.model, cfg.schedule, models, histories, eval_seed=cfg.split.seed,
                      stopped=stopped, test_noise=cfg.test_noise)
    hard = hard_modality(cfg, data.modality_names)
    tables = {name: concat(results, name) for name in ("estimator", "weights", "alpha", "robustness", "accuracy")}
    if len(tables["estimator"]):  # the ceiling beside the estimators, on the same noise draws per seed
        oracle = study_oracle(study, sorted(set(tables["estimator"]["seed"])))
        tables["estimator"] = pd.concat([tables["estimator"], oracle], ignore_index=True)
    tables["unimodal"] = unimodal_table(histories)
    signals = concat(results, "signal_permutation")
    if len(signals):
        tables["signal_permutation"] = signals
    tables["spearman"] = spearman_table(tables["estimator"]) if len(tables["estimator"]) else pd.DataFrame()
    found = findings(tables["spearman"], tables["accuracy"], hard, cfg.test_noise, tables["alpha"]) \
        if len(tables["accuracy"]) else []
    if len(signals):
        found += signal_findings(signals)
    config = {"dataset": data.name, "modalities": data.modality_names, "hard": hard, "seeds": list(cfg.seed_list()),
              **record(cfg)}
    return Result(tables, found, config, {"study": study, "hard": hard, **(extra or {})}, stopped)


def model_name(method: str, seed: int) -> str:
    return f"{method}@{seed}"


def joined_history(study: UDMLStudy) -> pd.DataFrame:
    """Every model's training history in one table, with ``method`` and ``seed`` columns (a bundle's)."""
    return pd.concat([h.assign(method=m, seed=s) for (m, s), h in study.histories.items()], ignore_index=True)


def saved_tables(result: Result) -> Dict[str, pd.DataFrame]:
    """What a bundle saves of a study: its tables and every model's training history (``history``)."""
    return {**result.tables, "history": joined_history(result.artifacts.study)}


def savable(cfg: UDMLStudyConfig, result: Result) -> None:
    if result.stopped:
        raise ValueError("a stopped study lacks some of its models; run it to the end to save it")


def rebuild(cfg: UDMLStudyConfig, states: Dict[str, Dict[str, Any]], saved: Dict[str, pd.DataFrame],
            source: Any = None) -> Result:
    """A saved study without retraining (``bundles.reopen``): every table recomputed from the weights as ``run``
    computes it (the histories, and so the unimodal curves, are the bundle's own)."""
    if cfg.signals is not None:
        raise ValueError("this bundle's config runs the signal test, which a page run never does; replay it with the CLI")
    history = saved.get("history")
    want = {"method", "seed", "epoch"}
    if history is None or not want <= set(history.columns) or history.empty:
        raise ValueError(f"the bundle lacks its history table (columns {sorted(want)}, a row per model and epoch)")
    named_models(states, {model_name(m, s): (m, s) for m in cfg.methods for s in cfg.seed_list()})
    data = prepared(cfg.data, cfg.split, source)
    results, models, histories = [], {}, {}
    for job in jobs_of(cfg):
        method, seed = job.args[1], job.args[2]
        model = build_udml(data.shapes(), data.n_classes, replace(cfg.model, method=method), seed=seed)
        load_model(model, states[model_name(method, seed)])
        rows = history[(history["method"].astype(str) == method) & (history["seed"] == seed)]
        if rows.empty:
            raise ValueError(f"the bundle's history has no rows for {model_name(method, seed)}")
        own = rows.drop(columns=["method", "seed"]).dropna(axis=1, how="all").reset_index(drop=True)
        models[(method, seed)], histories[(method, seed)] = model, own
        one = UDMLStudy(data, cfg.model, cfg.schedule, {(method, seed): model}, {(method, seed): own},
                        eval_seed=cfg.split.seed, test_noise=cfg.test_noise)
        results.append(model_tables(one))
    return assemble(cfg, data, results, models, histories)


SAVING = Saving("udml", UDMLStudyConfig, rebuild=rebuild, tables=saved_tables, savable=savable,
                models=lambda result: {model_name(*k): m for k, m in result.artifacts.study.models.items()})


def nested_means(df, value: str) -> dict:
    """``{method: {modality: mean over seeds}}``."""
    means = df.groupby(["method", "modality"], sort=False)[value].mean()
    return {meth: {mod: float(v) for (m2, mod), v in means.items() if m2 == meth} for meth in dict.fromkeys(df["method"])}


def summary(result: Result) -> dict:
    """The study in numbers (the CLI's ``summary.json``): Spearman ρ of each method's uncertainty with the noise
    per modality (the oracle's apart), the monotone fraction, accuracy clean and noisy (mean and sd over seeds), the
    mean clean weight per modality, the findings and the config."""
    spear, acc = result.tables["spearman"], result.tables["accuracy"]
    per = acc.groupby("method", sort=False)
    accuracy = {meth: {"clean": float(g["clean"].mean()), "clean_sd": float(g["clean"].std(ddof=0)),
                       "noisy": float(g["noisy"].mean()), "noisy_sd": float(g["noisy"].std(ddof=0))}
                for meth, g in per}
    weights = {meth: {c.split("/", 1)[1]: float(g[c].mean()) for c in acc if c.startswith("weight/")}
               for meth, g in per}
    nested = nested_means(spear, "spearman") if len(spear) else {}
    return {"spearman": {m: v for m, v in nested.items() if m != "oracle"},
            "oracle_spearman": nested.get("oracle", {}),
            "monotone_fraction": nested_means(spear, "monotone") if len(spear) else {},
            "accuracy": accuracy, "mean_clean_weight": weights, "weights": weights,
            "findings": records(result.findings), "config": result.config}


# one job per method and seed: train_one, then model_tables; assemble joins them and decides the findings
STAGES = {"train": train_one, "measure": model_tables, "assemble": assemble, "summary": summary}
