"""The Reliability-permutation study (seed 000, METHODS.md §5): do quality scores change any fused decision?

``run`` fits frozen experts on one seeded split (or on seeds x stratified folds), scores them,
runs the broken-Q test for every score and rule, and returns ``permutation_runs`` (every run),
``permutation`` (mean over runs, ``*_sd`` columns), ``null`` (the K broken metrics of the first run)
and ``q_correct`` (Q against expert correctness), with the paper's findings. A page passes a
``cache`` dict so that moving one control refits nothing it does not change.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Dict, List, MutableMapping, Optional

import numpy as np
import pandas as pd

from ..data import DataConfig, MultimodalDataset, SplitConfig, UCIConfig, prepare
from ..diagnostics.permutation import PermutationResult, broken_q_test, q_vs_correct
from ..diagnostics.permutation_runs import DiagnosticConfig, build_bank, check_scores, repeated, summarise
from ..diagnostics.quality import score
from ..findings import FAILS, HOLDS, PARTLY, UNKNOWN, Finding
from ..text import signed
from .base import Progress, Result, Stop, record

ALPHA = 0.05
MAX_CACHE = 32
FIRST = ["score", "rule", "metric_clean", "metric_broken_mean", "delta", "p_value", "oracle_headroom", "rho"]


@dataclass(frozen=True)
class PermutationStudyConfig:
    data: DataConfig = DataConfig("uci-digits", UCIConfig(views=("fou", "kar", "mor")))
    diagnostic: DiagnosticConfig = DiagnosticConfig()
    seed: int = 0  # seeds the split, the experts, the scores and the permutations
    repeats: int = 1  # seeds seed .. seed + repeats - 1
    folds: int = 0  # >= 2: stratified folds per seed (else one split)

    def __post_init__(self) -> None:
        check_scores(self.diagnostic.scores)
        if not 1 <= self.repeats <= 100:
            raise ValueError(f"repeats must be in [1, 100], got {self.repeats}")
        if self.folds < 0 or self.folds == 1 or self.folds > 50:
            raise ValueError(f"folds must be 0 (one split) or in [2, 50], got {self.folds}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


DEFAULT = PermutationStudyConfig()
DATASET_NAMES = ("uci-digits", "synthetic", "file")
DATA_DEFAULTS: Dict[str, DataConfig] = {"uci-digits": DEFAULT.data}


def _cached(cache: Optional[MutableMapping], key, make):
    if cache is None:
        return make()
    if key not in cache:
        while len(cache) >= MAX_CACHE:
            cache.pop(next(iter(cache)))
        cache[key] = make()
    return cache[key]


def single_run(ds: MultimodalDataset, cfg: PermutationStudyConfig, cache: Optional[MutableMapping] = None):
    """One seeded split: the bank, every score's broken-Q result and its Q-vs-correctness rows."""
    c = cfg.diagnostic.seeded(cfg.seed)
    data = _cached(cache, ("data", cfg.seed), lambda: prepare(ds, SplitConfig(seed=cfg.seed)))
    bank = _cached(cache, ("bank", cfg.seed, c.expert, c.corruption), lambda: build_bank(data, c))
    results, qc = [], []
    for name in c.scores:
        skey = ("score", cfg.seed, c.expert, c.corruption, name, c.quality)
        scored = _cached(cache, skey, lambda name=name: score(name, bank, c.quality))
        results.append(_cached(cache, skey + (c.permutation,), lambda scored=scored: broken_q_test(
            scored, bank.y["train"], bank.y["test"], bank.n_classes, c.permutation)))
        qc.append(q_vs_correct(scored, bank.y["test"], bank.names))
    result = PermutationResult(pd.concat([r.table for r in results], ignore_index=True),
                               pd.concat([r.null for r in results], ignore_index=True))
    return bank, result, pd.concat(qc, ignore_index=True)


def findings(table: pd.DataFrame) -> List[Finding]:
    """Seed 000's findings from a table: real scores change no decision although the headroom is
    large; the positive controls do gain (``Δ > 0`` with ``p <= 0.05``)."""
    real, ctl = table[~table["control"]], table[table["control"]]
    out = []
    if not real.empty:
        gains = real[(real["p_value"] <= ALPHA) & (real["delta"] > 0)]
        head, rho = real["oracle_headroom"].max(), real.groupby("score", sort=False)["rho"].first()
        rho_txt = ", ".join(f"{k} {v:.2f}" for k, v in rho.items())
        claim = "permuting a real quality score changes no fused decision, although the oracle headroom is large"
        if gains.empty:
            out.append(Finding(claim, HOLDS, f"no real score x rule gains significantly when Q is permuted (all "
                                             f"p > {ALPHA} or Δ ≤ 0), while the oracle headroom reaches {head:.3f}. "
                                             f"ρ per score: {rho_txt}."))
        else:
            pairs = ", ".join(f"{r.score}/{r.rule} (Δ={signed(r.delta)}, p={r.p_value:.3f})" for r in gains.itertuples())
            verdict = FAILS if len(gains) == len(real) else PARTLY
            out.append(Finding(claim, verdict, f"{len(gains)} of {len(real)} real score x rule pairs gain "
                                               f"significantly: {pairs}. ρ of every score: {rho_txt}."))
    for name, g in ctl.groupby("score", sort=False):
        win = g[(g["p_value"] <= ALPHA) & (g["delta"] > 0)]
        verdict = HOLDS if len(win) == len(g) else PARTLY if len(win) else FAILS
        out.append(Finding(f"POSITIVE CONTROL {name}: the frozen rules gain when its Q is permuted", verdict,
                           f"{len(win)} of {len(g)} rules gain significantly ("
                           + (", ".join(f"{r.rule} Δ={signed(r.delta)}" for r in win.itertuples()) or "none") + ")."))
    return out or [Finding("reliability permutation", UNKNOWN, "no score was tested")]


def run(cfg: PermutationStudyConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source: Any = None, dataset: Optional[MultimodalDataset] = None,
        cache: Optional[MutableMapping] = None) -> Result:
    ds = dataset if dataset is not None else cfg.data.load(source)
    if cfg.repeats == 1 and cfg.folds < 2:
        bank, result, qc = single_run(ds, cfg, cache)
        runs = result.table.assign(seed=cfg.seed, fold=0)
        artifacts = {"bank": bank, "result": result}
    else:
        runs = repeated(ds, cfg.diagnostic, list(range(cfg.seed, cfg.seed + cfg.repeats)), cfg.folds)
        result, qc, artifacts = None, pd.DataFrame(), {}
    table = summarise(runs)
    table = table[FIRST + [c for c in table.columns if c not in FIRST]]
    tables = {"permutation_runs": runs, "permutation": table, "q_correct": qc}
    if result is not None:
        tables["null"] = result.null
    config = {"dataset": ds.name, "views": ds.modality_names, "repeats": cfg.repeats, "folds": cfg.folds,
              "config": replace(cfg.diagnostic, seed=cfg.seed).record(), "study": record(cfg)}
    return Result(tables, findings(table), config, artifacts)
