"""What every study shares: its ``Result`` and the progress / stop hooks of ``run``.

A study module (``experiments/<study>.py``) defines, once: its frozen config (holding
``DataConfig``, ``TrainConfig``, ``ModelConfig``... rather than copies of their fields), its
defaults and presets, the datasets it accepts with a default ``DataConfig`` for each, and
``run(cfg, progress=None, stop=None) -> Result``. The page builds the config from widgets and calls
``run``; the CLI builds it from argparse and calls the same ``run``; both show ``Result.findings``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import pandas as pd
import torch

from ..bundles import record  # noqa: F401  (a study's config as data; every study imports it from here)
from ..data import DataConfig, PreparedData
from ..diagnostics.udml import UDMLStudy
from ..experts import ExpertBank
from ..findings import Finding
from ..train import EpochInfo, FitResult

Progress = Callable[..., None]  # progress(fraction done, message, epoch=EpochInfo or None)
Stop = Callable[[], bool]


@dataclass
class Artifacts:
    """What a page draws from beyond a result's tables; each study fills the fields it has (None: it has none)."""

    data: Optional[PreparedData] = None  # the prepared split the models were trained and measured on
    data_name: Optional[str] = None  # the dataset's name (a study over several splits keeps no one split)
    model: Optional[torch.nn.Module] = None  # the study's one trained model (Playground)
    fit: Optional[FitResult] = None  # its training (None once reopened from a bundle)
    models: Dict[Tuple[str, int], torch.nn.Module] = field(default_factory=dict)  # (method, seed) -> model (Gates)
    study: Optional[UDMLStudy] = None  # UDML's models, histories and data
    hard: Optional[str] = None  # UDML's hard (XOR-coded) modality
    bank: Optional[ExpertBank] = None  # the reliability test's frozen experts
    outputs: Any = None  # the user's own model outputs it read (``diagnostics.outputs.Outputs``)
    result: Any = None  # the study's own result object (ScalingResult, PermutationResult)
    params: Dict[Tuple[str, int], Dict[str, torch.Tensor]] = field(default_factory=dict)  # (fusion, size) -> stacked
    memo: Dict[Any, Any] = field(default_factory=dict)  # a page's cache of fitted parts (the reliability test's)
    bundle: Any = None  # the bundle a reopened run came from (``bundles.Bundle``)
    job_seconds: List[float] = field(default_factory=list)  # each job's time (multi-job studies)
    cached: int = 0  # jobs resumed from the cache


@dataclass
class Result:
    """A study's tables (named as the CLI's files: ``tables["scaling"]`` is ``scaling.csv``), its
    findings, its config as plain data, and what a page draws from (models, prepared data)."""

    tables: Dict[str, pd.DataFrame]
    findings: List[Finding]
    config: Dict[str, Any]
    artifacts: Artifacts = field(default_factory=Artifacts)
    stopped: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.artifacts, dict):  # a study builds them as keywords; an unknown one is a TypeError
            self.artifacts = Artifacts(**self.artifacts)


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
