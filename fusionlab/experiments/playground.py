"""The Playground study: train one fusion model, then measure it (METHODS.md §1-§2).

``run`` trains ``cfg.model`` on ``cfg.data`` with ``cfg.train`` and returns the tables of the CLI's
``train`` and ``robustness`` commands: ``metrics`` (test accuracy, macro-F1, ROC-AUC, best epoch),
``history``, ``removal`` (each modality dropped) and ``robustness`` (accuracy vs ``cfg.noise`` on each
modality alone and on all). The page's sliders then re-evaluate ``artifacts["model"]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np
import pandas as pd

from ..data import DATASETS, DataConfig, PreparedData, SplitConfig, prepare
from ..diagnostics import modality_removal, robustness_curve
from ..models import ModelConfig, build_model
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

    def __post_init__(self) -> None:
        CORRUPTIONS.get(self.noise)
        if self.levels is not None:
            object.__setattr__(self, "levels", tuple(float(v) for v in self.levels))
            lo, hi = level_range(self.noise)
            bad = [v for v in self.levels if not (np.isfinite(v) and lo <= v <= max(hi, 1.0))]
            if bad or not self.levels:
                raise ValueError(f"levels of '{self.noise}' must be finite numbers in [{lo:g}, {max(hi, 1.0):g}], "
                                 f"got {list(self.levels) or 'none'}")

    def grid(self):
        return list(self.levels) if self.levels is not None else default_levels(self.noise)


DEFAULT = PlaygroundConfig()
DATASET_NAMES = tuple(DATASETS.names())
DATA_DEFAULTS: Dict[str, DataConfig] = {"uci-digits": DEFAULT.data}
PRESETS: Dict[str, PlaygroundConfig] = {}


def prepared(cfg: PlaygroundConfig, source: Any = None) -> PreparedData:
    """The dataset, split and standardised with the training seed (as both front ends always did)."""
    return prepare(cfg.data.load(source), SplitConfig(seed=cfg.train.seed))


def run(cfg: PlaygroundConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source: Any = None) -> Result:
    data = prepared(cfg, source)
    model = build_model(data.shapes(), data.n_classes, cfg.model, seed=cfg.train.seed)
    res = fit(model, data, cfg.train, callback=epoch_progress(progress, 0, cfg.train.epochs), stop=stop)
    metrics = evaluate(res.model, data.test)
    metrics.update(best_epoch=res.best_epoch, best_val_accuracy=res.best_val_accuracy)
    rob = robustness_curve(res.model, data, cfg.noise, cfg.grid(), seed=cfg.train.seed, fusion=cfg.model.fusion)
    tables = {"metrics": pd.DataFrame([metrics]), "history": res.history,
              "removal": modality_removal(res.model, data), "robustness": rob[ROBUST_COLUMNS]}
    config = {"dataset": data.name, "views": data.modality_names, **record(cfg)}
    return Result(tables, [], config, {"model": res.model, "data": data, "fit": res}, res.stopped_by_user)
