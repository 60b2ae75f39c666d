"""One call for the whole reliability permutation diagnostic, and its repetition (a stage of the study: it fits the
experts, so it lives with the study, not in ``diagnostics/``, which measures and fits nothing).

docs/methods.md, the reliability permutation test: experts -> quality scores -> broken-Q test, on one seeded
split, or repeated over seeds x stratified folds (scikit-learn ``StratifiedKFold``) with mean ± sd per
(score, rule). The page and the CLI both call these.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ..data.dataset import MultimodalDataset, PreparedData, SplitConfig, prepare
from ..diagnostics.permutation import PermutationConfig, PermutationResult, run_scores
from ..diagnostics.quality import QUALITY, QualityConfig, Scored, real_scores, score
from ..experts import ExpertBank, ExpertConfig, fit_experts, fold_data
from ..noise import RowCorruption, corrupt_rows

SUMMARY_COLUMNS = ["metric_clean", "metric_broken_mean", "delta", "p_value", "f1_clean", "f1_broken_mean",
                   "f1_delta", "f1_p_value", "accuracy", "oracle_headroom", "rho", "competitiveness",
                   "competitiveness_mean"]
MEDIAN_COLUMNS = ["competitiveness"]  # the authors' median of per-run medians (competitiveness_mean: mean of means)


@dataclass(frozen=True)
class DiagnosticConfig:
    """Everything one run of the diagnostic needs; ``seed`` seeds every part."""

    scores: tuple = field(default_factory=lambda: tuple(real_scores()))
    expert: ExpertConfig = ExpertConfig()
    quality: QualityConfig = QualityConfig()
    permutation: PermutationConfig = PermutationConfig()
    corruption: RowCorruption = RowCorruption()
    seed: int = 0

    def seeded(self, seed: int) -> "DiagnosticConfig":
        return replace(self, seed=seed, expert=replace(self.expert, seed=seed),
                       quality=replace(self.quality, seed=seed),
                       permutation=replace(self.permutation, seed=seed),
                       corruption=replace(self.corruption, seed=seed))

    def record(self) -> dict:
        return asdict(self)


def check_scores(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in QUALITY]
    if unknown:
        raise ValueError(f"unknown quality score(s) {unknown}; choose from {QUALITY.names()}")
    if not names:
        raise ValueError("choose at least one quality score")


def build_bank(data: PreparedData, cfg: DiagnosticConfig) -> ExpertBank:
    """Apply the point-5 corruption (if any), then fit and freeze the experts."""
    return fit_experts(corrupt_rows(data, cfg.corruption), cfg.expert)


def score_bank(bank: ExpertBank, names: Sequence[str], cfg: QualityConfig) -> list[Scored]:
    check_scores(names)
    return [score(n, bank, cfg) for n in names]


def diagnose(data: PreparedData, cfg: DiagnosticConfig) -> PermutationResult:
    """Experts, scores and the broken-Q test on one prepared split."""
    bank = build_bank(data, cfg)
    return run_scores(bank, score_bank(bank, cfg.scores, cfg.quality), cfg.permutation)


def fold_parts(ds: MultimodalDataset, seed: int, folds: int) -> list:
    """One seed's splits: ``folds`` seeded stratified folds as ``(train, test)`` rows (each fold the test rows
    once), or ``[None]`` for one seeded train / validation / test split."""
    if folds >= 2:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=int(seed))
        return [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(ds.labels, ds.labels)]
    return [None]


def part_data(ds: MultimodalDataset, seed: int, part) -> PreparedData:
    """The prepared data of one entry of ``fold_parts``."""
    return prepare(ds, SplitConfig(seed=int(seed))) if part is None else fold_data(ds, *part)


def repeated(ds: MultimodalDataset, cfg: DiagnosticConfig, seeds: Sequence[int], folds: int = 0) -> pd.DataFrame:
    """Every (seed, fold) run's table, with ``seed`` and ``fold`` columns.

    ``folds >= 2``: seeded ``StratifiedKFold`` (each fold the test rows once); otherwise one
    seeded train / validation / test split per seed.
    """
    if not seeds:
        raise ValueError("give at least one seed")
    tables = []
    for s in seeds:
        c = cfg.seeded(int(s))
        for f, part in enumerate(fold_parts(ds, s, folds)):
            tables.append(diagnose(part_data(ds, s, part), c).table.assign(seed=int(s), fold=f))
    return pd.concat(tables, ignore_index=True)


P_COLUMNS = ("p_value", "f1_p_value")


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (score, rule) over runs: the mean of every effect (``<column>_sd`` beside it), but the **median**
    of the p-values (the reliability paper's authors' aggregate: a mean of p-values is not a p-value) and of
    competitiveness (their median of per-run medians), and ``runs``."""
    keys = ["score", "rule", "control"]
    g = runs.groupby(keys, sort=False)[SUMMARY_COLUMNS]
    centre = g.mean()
    med = g.median()
    for c in [*P_COLUMNS, *MEDIAN_COLUMNS]:
        centre[c] = med[c]
    out = centre.join(g.std(ddof=1).fillna(0.0).add_suffix("_sd")).reset_index()
    return out.assign(runs=runs.groupby(keys, sort=False).size().to_numpy())
