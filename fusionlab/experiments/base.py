"""What every study shares: its ``Result`` and the progress / stop hooks of ``run``.

A study module (``experiments/<study>.py``) defines, once: its frozen config (holding
``DataConfig``, ``TrainConfig``, ``ModelConfig``... rather than copies of their fields), its
defaults and presets, the datasets it accepts with a default ``DataConfig`` for each, and
``run(cfg, progress=None, stop=None) -> Result``. The page builds the config from widgets and calls
``run``; the CLI builds it from argparse and calls the same ``run``; both show ``Result.findings``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional

import pandas as pd

from ..bundles import record  # noqa: F401  (a study's config as data; every study imports it from here)
from ..data import DataConfig
from ..findings import Finding
from ..train import EpochInfo

Progress = Callable[..., None]  # progress(fraction done, message, epoch=EpochInfo or None)
Stop = Callable[[], bool]


@dataclass
class Result:
    """A study's tables (named as the CLI's files: ``tables["scaling"]`` is ``scaling.csv``), its
    findings, its config as plain data, and what a page draws from (models, prepared data)."""

    tables: Dict[str, pd.DataFrame]
    findings: List[Finding]
    config: Dict[str, Any]
    artifacts: Dict[str, Any] = field(default_factory=dict)
    stopped: bool = False


def data_default(defaults: Mapping[str, DataConfig], name: str) -> DataConfig:
    """A study's default ``DataConfig`` for dataset ``name`` (the spec's defaults if it has none)."""
    return defaults[name] if name in defaults else DataConfig(name)


def epoch_progress(progress: Optional[Progress], done: int, total: int, run: str = ""):
    """A ``fit`` callback reporting to ``progress``: ``(done + epoch) / total`` epochs of the study, a
    message, and the epoch itself (named ``run``) for a live chart."""

    def callback(info: EpochInfo) -> None:
        if progress is not None:
            info = replace(info, run=run, overall=(done + info.epoch) / total)
            where = f" of {run}" if run else ""
            progress(info.overall, f"epoch {info.epoch}/{info.epochs}{where}, validation accuracy "
                                   f"{info.val_accuracy:.3f}", epoch=info)

    return callback
