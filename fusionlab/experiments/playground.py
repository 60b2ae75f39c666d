"""The Playground study: train one fusion model, then measure it (docs/methods.md, corruptions and robustness-§2).

``run`` trains ``cfg.model`` on ``cfg.data`` with ``cfg.train`` and returns the tables of the CLI's
``train`` and ``robustness`` commands: ``metrics`` (test accuracy, macro-F1, ROC-AUC, best epoch),
``history``, ``removal`` (each modality dropped) and ``robustness`` (accuracy vs ``cfg.noise`` on each
modality alone and on all); with ``cfg.signals``, ``signal_permutation`` (docs/methods.md, signal permutation test: the model's
declared signals, e.g. ``gated``'s ``z``, permuted across test rows, clean and with each modality
corrupted at ``cfg.signal_level``), and with ``cfg.perceptual``, ``perceptual`` (§5's companion test:
each modality's inputs permuted). The page's sliders then re-evaluate ``artifacts.model``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, Optional, Tuple  # noqa: F401

import numpy as np
import pandas as pd

from ..bundles import Saving, load_model, named_models
from ..data import DataConfig, datasets, PreparedData, SplitConfig, prepare
from ..diagnostics import modality_removal, robustness_curve
from ..diagnostics.signals import (SignalTestConfig, declared_signals, input_permutation, over_conditions,
                                   signal_permutation)
from ..noise import corrupt_modalities
from ..models import ModelConfig, build_model
from ..limits import MAX_LEVELS
from ..noise import CORRUPTIONS, default_levels, level_range
from ..train import TrainConfig, evaluate, fit
from .base import Progress, Result, Stop, epoch_progress, record

STUDY = "playground"
ROBUST_COLUMNS = ["fusion", "condition", "noise", "level", "accuracy", "seed"]


@dataclass(frozen=True)
class PlaygroundConfig:
    data: DataConfig = DataConfig("uci-digits")
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig(epochs=20)
    noise: str = "mix"  # the robustness curve's corruption
    levels: Optional[Tuple[float, ...]] = None  # its grid; None: default_levels(noise)
    signals: Optional[SignalTestConfig] = None  # docs/methods.md, signal permutation test on the trained model (None: not run)
    perceptual: Optional[SignalTestConfig] = None  # §5's perceptual score (None: not run)
    signal_level: Optional[float] = None  # the corrupted conditions' level of `noise`; None: its range's middle

    def __post_init__(self) -> None:
        CORRUPTIONS.get(self.noise)
        if self.signal_level is not None:
            lo, hi = level_range(self.noise)
            if not (np.isfinite(self.signal_level) and lo <= self.signal_level <= max(hi, 1.0)):
                raise ValueError(f"signal_level of '{self.noise}' must lie in [{lo:g}, {max(hi, 1.0):g}], "
                                 f"got {self.signal_level}")
        if self.levels is not None:
            if len(self.levels) > MAX_LEVELS:
                raise ValueError(f"levels: {len(self.levels):,} noise levels (at most {MAX_LEVELS})")
            object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))
            lo, hi = level_range(self.noise)
            bad = [v for v in self.levels if not (np.isfinite(v) and lo <= v <= max(hi, 1.0))]
            if bad or not self.levels:
                raise ValueError(f"levels of '{self.noise}' must be finite numbers in [{lo:g}, {max(hi, 1.0):g}], "
                                 f"got {list(self.levels) or 'none'}")

    def grid(self):
        return list(self.levels) if self.levels is not None else default_levels(self.noise)


DEFAULT = PlaygroundConfig()
DATASET_NAMES = datasets()  # every registered dataset
DATA_DEFAULTS: Dict[str, DataConfig] = {"uci-digits": DEFAULT.data}
PRESETS: Dict[str, PlaygroundConfig] = {}


def prepared(cfg: PlaygroundConfig, source: Any = None) -> PreparedData:
    """The dataset, split and standardised with the training seed (as both front ends always did)."""
    return prepare(cfg.data.load(source), SplitConfig(seed=cfg.train.seed))


def noise_label(noise: str, levels: Dict[str, float]) -> str:
    """``clean`` or e.g. ``pix corrupted (mix 0.5)``: a condition of the signal and perceptual tests."""
    parts = [f"{k}" for k, v in levels.items() if v > 0]
    return "clean" if not parts else f"{', '.join(parts)} corrupted ({noise} " + \
        ", ".join(f"{v:g}" for v in levels.values() if v > 0) + ")"


def conditions(data: PreparedData, noise: str, settings, seed: int) -> Dict[str, Dict]:
    """Test inputs per noise setting (``{modality: level}`` of ``noise``; ``{}`` clean), drawn as the
    robustness view draws them (``corrupt_modalities`` with the training seed)."""
    return {noise_label(noise, dict(lv)): corrupt_modalities(data.test.xs, dict(lv), noise, seed, data.stats)
            for lv in settings}


def study_settings(cfg: PlaygroundConfig, names) -> list:
    """Clean, then each modality alone at ``cfg.signal_level`` (default: the middle of the noise's range)."""
    lo, hi = level_range(cfg.noise)
    level = cfg.signal_level if cfg.signal_level is not None else (lo + hi) / 2
    return [{}] + [{k: level} for k in names]


def signal_test(model, data: PreparedData, noise: str, settings, test_cfg: SignalTestConfig, seed: int):
    """docs/methods.md, signal permutation test on the model's declared signals, once per noise setting (the page passes its sliders')."""
    return over_conditions(signal_permutation, model, conditions(data, noise, settings, seed), data.test.y,
                           data.n_classes, test_cfg)


def perceptual_test(model, data: PreparedData, noise: str, settings, test_cfg: SignalTestConfig, seed: int):
    """§5's perceptual score, once per noise setting: each modality's inputs permuted across test rows."""
    return over_conditions(input_permutation, model, conditions(data, noise, settings, seed), data.test.y,
                           data.n_classes, test_cfg)


def train(cfg: PlaygroundConfig, data: PreparedData, progress: Optional[Progress] = None,
          stop: Optional[Stop] = None):
    """The training stage: the model ``cfg`` builds, fitted (its best validation epoch kept)."""
    model = build_model(data.shapes(), data.n_classes, cfg.model, seed=cfg.train.seed)
    if cfg.signals is not None and not declared_signals(model):  # say so before training, not after
        raise ValueError(f"fusion '{cfg.model.fusion}' declares no per-sample signal to permute; the signal test "
                         "needs one that does (gated)")
    return fit(model, data, cfg.train, callback=epoch_progress(progress, 0, cfg.train.epochs), stop=stop)


def run(cfg: PlaygroundConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source: Any = None) -> Result:
    """The study: ``train``, then ``trained_tables`` (the measurement stages) on the trained model."""
    data = prepared(cfg, source)
    res = train(cfg, data, progress, stop)
    trained = {"best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_accuracy}
    tables = {**trained_tables(res.model, data, cfg, trained, tests=not res.stopped_by_user), "history": res.history}
    config = {"dataset": data.name, "views": data.modality_names, **record(cfg)}
    return Result(tables, [], config, {"model": res.model, "data": data, "fit": res}, res.stopped_by_user)


def robustness(model, data: PreparedData, cfg: PlaygroundConfig, noise: str) -> pd.DataFrame:
    """The robustness stage for one noise type (the config's on its grid, another on its default levels): the
    curve ``run`` returns, and the one the page draws when its noise type changes."""
    levels = cfg.grid() if noise == cfg.noise else default_levels(noise)
    rob = robustness_curve(model, data, noise, levels, seed=cfg.train.seed, fusion=cfg.model.fusion)
    return rob[ROBUST_COLUMNS]


def trained_tables(model, data: PreparedData, cfg: PlaygroundConfig, trained: Dict[str, Any],
                   tests: bool = True) -> Dict[str, pd.DataFrame]:
    """Every table a trained model gives (all but the training history): what ``run`` returns after training
    and what ``reopen`` recomputes from a bundle's weights, so the two agree by construction."""
    metrics = {**evaluate(model, data.test), **trained}
    tables = {"metrics": pd.DataFrame([metrics]), "removal": modality_removal(model, data),
              "robustness": robustness(model, data, cfg, cfg.noise)}
    if cfg.signals is not None and tests:
        tables["signal_permutation"] = signal_test(model, data, cfg.noise, study_settings(cfg, data.modality_names),
                                                   cfg.signals, cfg.train.seed).table
    if cfg.perceptual is not None and tests:
        tables["perceptual"] = perceptual_test(model, data, cfg.noise, [{}], cfg.perceptual, cfg.train.seed).table
    return tables


def saved_grid(cfg: PlaygroundConfig, tables: Dict[str, pd.DataFrame]) -> PlaygroundConfig:
    """``cfg`` with the robustness grid its saved table was computed on, when the config left it to the default:
    a default grid that changed since (mix now reaches 1.0; it stopped at 0.95) must not change an old run's
    table."""
    rob = tables.get("robustness")
    if cfg.levels is not None or rob is None or "level" not in rob or "noise" not in rob:
        return cfg
    levels = sorted(set(pd.to_numeric(rob.loc[rob["noise"] == cfg.noise, "level"], errors="coerce").dropna()))
    return replace(cfg, levels=tuple(levels)) if levels else cfg


def rebuild(cfg: PlaygroundConfig, models: Dict[str, Dict[str, Any]], tables: Dict[str, pd.DataFrame],
            source: Any = None) -> Result:
    """A saved run without retraining (``bundles.reopen``): its weights in the model ``cfg`` builds, its training
    history, and every other table recomputed from the weights (``trained_tables``)."""
    metrics = tables.get("metrics")
    if "history" not in tables or metrics is None or len(metrics) != 1 or \
            not {"best_epoch", "best_val_accuracy"} <= set(metrics.columns):
        raise ValueError("the bundle lacks its history table or a one-row metrics table with best_epoch and "
                         "best_val_accuracy")
    named_models(models, {"model": None})
    data = prepared(cfg, source)
    try:
        model = build_model(data.shapes(), data.n_classes, cfg.model, seed=cfg.train.seed)
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"the bundle's model config builds no model: {exc}") from None
    load_model(model, models["model"])
    m = metrics.iloc[0]
    trained = {"best_epoch": int(m["best_epoch"]), "best_val_accuracy": float(m["best_val_accuracy"])}
    ran = not ((cfg.signals is not None and "signal_permutation" not in tables)
               or (cfg.perceptual is not None and "perceptual" not in tables))  # a stopped run skipped its tests
    out = {**trained_tables(model, data, saved_grid(cfg, tables), trained, tests=ran), "history": tables["history"]}
    config = {"dataset": data.name, "views": data.modality_names, **record(cfg)}
    return Result(out, [], config, {"model": model, "data": data, "fit": None})


def run_yours(cfg: PlaygroundConfig, model_file: str, weights: Optional[bytes] = None,
              progress: Optional[Progress] = None, stop: Optional[Stop] = None, source: Any = None) -> Result:
    """The study on your own model (``fusionlab.yours``): built from ``model_file`` (``path.py[:build]``); with
    ``weights`` (safetensors bytes) measured as given on the features as stored, else trained here like a lab model
    (standardised features). The tables are the lab model's (``trained_tables``)."""
    from ..yours import build_yours, load_weights_bytes
    data = prepare(cfg.data.load(source), SplitConfig(seed=cfg.train.seed), scale=weights is None)
    model = build_yours(model_file, data.shapes(), data.n_classes, seed=cfg.train.seed)
    if weights is not None:
        load_weights_bytes(model, weights)
        res, history = None, pd.DataFrame(columns=["epoch", "train_loss", "val_loss", "val_accuracy"])
        trained = {"best_epoch": 0, "best_val_accuracy": evaluate(model, data.val)["accuracy"]}
    else:
        res = fit(model, data, cfg.train, callback=epoch_progress(progress, 0, cfg.train.epochs), stop=stop)
        history, trained = res.history, {"best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_accuracy}
    tables = {**trained_tables(model, data, cfg, trained), "history": history}
    config = {"dataset": data.name, "views": data.modality_names, "yours": model_file,
              "weights": "given" if weights is not None else "trained here", **record(cfg)}
    return Result(tables, [], config, {"model": model, "data": data, "fit": res},
                  bool(res is not None and res.stopped_by_user))


STAGES = {"train": train, "measure": trained_tables, "your model": run_yours, "robustness": robustness, "signal test": signal_test,
          "perceptual score": perceptual_test}  # the page's noise-type change and its test buttons call these

SAVING = Saving("playground", PlaygroundConfig, models=lambda result: {"model": result.artifacts.model},
                rebuild=rebuild, unnamed="model")
