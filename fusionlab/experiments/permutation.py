"""The Reliability-permutation study (the reliability paper, docs/methods.md, reliability permutation test): do quality scores change any fused decision?

``run`` fits frozen experts on one seeded split (or on seeds x stratified folds), scores them,
runs the broken-Q test for every score and rule, and returns ``permutation_runs`` (every run),
``permutation`` (mean over runs, ``*_sd`` columns), ``null`` (the K broken metrics of the first run)
and ``q_correct`` (Q against expert correctness), with the paper's findings. A page passes a
``memo`` dict so that moving one control refits nothing it does not change.
"""
from __future__ import annotations

import functools
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, MutableMapping, Optional

import pandas as pd

from ..data import DataConfig, MultimodalDataset, can_give, datasets, SplitConfig, UCIConfig, prepare
from ..diagnostics.permutation import PermutationResult, broken_q_test, q_vs_correct
from .permutation_runs import (DiagnosticConfig, build_bank, check_scores, diagnose, fold_parts, part_data,
                                            summarise)
from ..jobs import uploads_uncached, Job, JobCache, concat, run_jobs
from ..diagnostics.outputs import Outputs, load_outputs, outputs_bank, outputs_scores
from ..diagnostics.quality import score
from ..rng import sub_seed
from ..findings import FAILS, HOLDS, PARTLY, UNKNOWN, Finding
from ..text import signed
from ..bundles import Saving, joined_state, split_state
from .base import Progress, Result, Stop, record

ALPHA = 0.05
MAX_CACHE = 32
FIRST = ["score", "rule", "metric_clean", "metric_broken_mean", "delta", "p_value", "oracle_headroom", "rho"]


@dataclass(frozen=True)
class OutputsConfig:
    """Your own outputs instead of our experts (``diagnostics.outputs``): a table file, a directory in the reliability-paper
    authors' layout or a ``.zip`` of one (``path``; for an upload its file name), and which of the layout's models."""

    path: str = ""
    model: str = ""


@dataclass(frozen=True)
class PermutationStudyConfig:
    data: DataConfig = DataConfig("uci-digits", UCIConfig(views=("fou", "kar", "mor")))
    diagnostic: DiagnosticConfig = DiagnosticConfig()
    seed: int = 0  # seeds the split, the experts, the scores and the permutations
    repeats: int = 1  # seeds seed .. seed + repeats - 1
    folds: int = 0  # >= 2: stratified folds per seed (else one split)
    outputs: OutputsConfig = OutputsConfig()  # path set: your outputs replace data and experts

    def __post_init__(self) -> None:
        check_scores(self.diagnostic.scores)
        if self.outputs.path and (self.repeats != 1 or self.folds):
            raise ValueError("with your outputs the runs are the file's own train/test assignments (split, fold, or "
                             "the layout's seeds x folds); repeats and folds do not apply")
        if not 1 <= self.repeats <= 100:
            raise ValueError(f"repeats must be in [1, 100], got {self.repeats}")
        if self.folds < 0 or self.folds == 1 or self.folds > 50:
            raise ValueError(f"folds must be 0 (one split) or in [2, 50], got {self.folds}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


DEFAULT = PermutationStudyConfig()
DATASET_NAMES = datasets(can_give(2))  # a fusion rule needs two or more modalities to weigh
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
    return bank_run(bank, c, cache, ("score", cfg.seed, c.expert, c.corruption))


def bank_run(bank, c: DiagnosticConfig, cache: Optional[MutableMapping], key: tuple):
    """The bank, every score's broken-Q result and its Q-vs-correctness rows (memoised under ``key``)."""
    results, qc = [], []
    for name in c.scores:
        skey = key + (name, c.quality)
        scored = _cached(cache, skey, lambda name=name: score(name, bank, c.quality))
        results.append(_cached(cache, skey + (c.permutation,), lambda scored=scored: broken_q_test(
            scored, bank.y["train"], bank.y["test"], bank.n_classes, c.permutation)))
        qc.append(q_vs_correct(scored, bank.y["test"], bank.names))
    result = PermutationResult(pd.concat([r.table for r in results], ignore_index=True),
                               pd.concat([r.null for r in results], ignore_index=True))
    return bank, result, pd.concat(qc, ignore_index=True)


def load_outputs_of(cfg: OutputsConfig, source: Optional[bytes] = None) -> Outputs:
    """Your outputs as the config names them (an upload's bytes as ``source``, read afresh). A path is read once
    per version: the cache key holds its modification times and sizes, so an edited file is read again."""
    if source is not None:
        return load_outputs(source, filename=cfg.path, model=cfg.model)
    return _outputs_at(cfg, _stamp(cfg.path))


def _stamp(path: str) -> tuple:
    p = Path(path)
    files = sorted(p.rglob("*")) if p.is_dir() else [p] if p.exists() else []
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())


@functools.lru_cache(maxsize=2)
def _outputs_at(cfg: OutputsConfig, stamp: tuple) -> Outputs:
    return load_outputs(cfg.path, model=cfg.model)


def outputs_runs(out: Outputs, cfg: PermutationStudyConfig, memo: Optional[MutableMapping] = None,
                 progress: Optional[Progress] = None):
    """Every run of your outputs: the first run's bank, result and Q-vs-correctness rows, and all runs' table.
    Run ``i`` seeds its permutations and controls with ``cfg.seed`` (the first) or a sub-seed of it."""
    tables, first = [], None
    for i, r in enumerate(out.runs):
        seed = cfg.seed if i == 0 else sub_seed(cfg.seed, i)
        c = cfg.diagnostic.seeded(seed)
        if c.permutation.router_fit == "adam":  # the authors' script starts each run's router from seed * 100 + fold
            c = replace(c, permutation=replace(c.permutation, router_start=r.seed * 100 + r.fold))
        bank = _cached(memo, ("outputs", i), lambda r=r: outputs_bank(out, r))
        got = bank_run(bank, c, memo, ("outputs-score", i, seed))
        first = first or got
        tables.append(got[1].table.assign(seed=r.seed, fold=r.fold))
        if progress is not None:
            progress((i + 1) / len(out.runs), f"run {i + 1} of {len(out.runs)}")
    return first, pd.concat(tables, ignore_index=True)


@uploads_uncached
@functools.lru_cache(maxsize=2)
def _dataset(data: DataConfig, source: Optional[bytes] = None) -> MultimodalDataset:
    return data.load(source)


def permutation_job(cfg: PermutationStudyConfig, seed: int, fold: int, source: Optional[bytes] = None,
                    dataset: Optional[MultimodalDataset] = None) -> Dict[str, pd.DataFrame]:
    """A job (``fusionlab.jobs``): one seed x fold of the repetition (experts, scores, broken-Q test)."""
    ds = dataset if dataset is not None else _dataset(cfg.data, source)
    data = part_data(ds, seed, fold_parts(ds, seed, cfg.folds)[fold])
    return {"permutation_runs": diagnose(data, cfg.diagnostic.seeded(int(seed))).table.assign(seed=int(seed), fold=fold)}


def findings(table: pd.DataFrame) -> List[Finding]:
    """The reliability paper's findings from a table. Only rules that use ``Q`` are counted (``noq`` ignores it, so it can
    never gain). Real scores: no rule loses accuracy when its ``Q`` is permuted (``Δ_perm > 0`` with
    ``p <= 0.05``) — holds when none does, does not hold when at least half do, partly in between; the
    oracle headroom and ρ are reported beside it. Positive controls: every rule loses accuracy."""
    uses_q = table[table["rule"] != "noq"]
    real, ctl = uses_q[~uses_q["control"]], uses_q[uses_q["control"]]
    if "permutations" in table and len(table) and 1 / (int(table["permutations"].min()) + 1) > ALPHA:
        k = int(table["permutations"].min())
        return [Finding("reliability permutation", UNKNOWN, f"with K = {k} permutations no p-value can fall to "
                                                           f"{ALPHA} (the smallest is 1/(K+1)); use K >= 19")]
    out = []
    if not real.empty:
        losses = real[(real["p_value"] <= ALPHA) & (real["delta"] > 0)]
        head, rho = real["oracle_headroom"].max(), real.groupby("score", sort=False)["rho"].first()
        rho_txt = ", ".join(f"{k} {v:.2f}" for k, v in rho.items())
        claim = "the reliability paper's clean-data finding: permuting a real quality score across test rows " \
                "changes no fused decision"
        context = f"The oracle headroom reaches {head:.3f}; ρ per score: {rho_txt}."
        finite = rho.dropna()
        why = "" if finite.empty else (
            f" Why it differs from the paper: here the scores track which expert is right (ρ from "
            f"{finite.min():.2f} to {finite.max():.2f}), where the paper's barely did (ρ ≈ 0), so permuting them "
            "moves decisions.")
        if losses.empty:
            out.append(Finding(claim, HOLDS, f"none of the {len(real)} score x rule pairs that use Q loses accuracy "
                                             f"significantly when Q is permuted (all p > {ALPHA} or Δ ≤ 0). {context}"))
        else:
            pairs = ", ".join(f"{r.score}/{r.rule} (Δ={signed(r.delta)}, p={r.p_value:.3f})" for r in losses.itertuples())
            verdict = FAILS if 2 * len(losses) >= len(real) else PARTLY
            out.append(Finding(claim, verdict, f"here Q changes decisions: {len(losses)} of {len(real)} score x rule "
                                               f"pairs that use Q lose accuracy significantly when Q is permuted: "
                                               f"{pairs}. {context}{why}"))
    for name, g in ctl.groupby("score", sort=False):
        lose = g[(g["p_value"] <= ALPHA) & (g["delta"] > 0)]
        verdict = HOLDS if len(lose) == len(g) else PARTLY if len(lose) else FAILS
        out.append(Finding(f"POSITIVE CONTROL {name}: every rule that uses Q loses accuracy when Q is permuted",
                           verdict, f"{len(lose)} of {len(g)} rules do ("
                           + (", ".join(f"{r.rule} Δ={signed(r.delta)}" for r in lose.itertuples()) or "none") + ")."))
    return out or [Finding("reliability permutation", UNKNOWN, "no score was tested")]


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """``summarise`` with the columns the CLI prints first."""
    table = summarise(runs)
    return table[FIRST + [c for c in table.columns if c not in FIRST]]


def one_modality(names) -> None:
    """Refuse a test of one modality: with a single expert every fusion rule returns its decision, whatever Q says,
    so permuting Q can change nothing and the test would report a certainty it did not measure."""
    if len(names) < 2:
        raise ValueError(f"the reliability test fuses several modalities' experts; {list(names)} is one, and with "
                         "one expert every rule is the same rule (Q changes nothing). Pick at least two views")


def run(cfg: PermutationStudyConfig = DEFAULT, progress: Optional[Progress] = None, stop: Optional[Stop] = None,
        source: Any = None, dataset: Optional[MultimodalDataset] = None,
        memo: Optional[MutableMapping] = None, executor: Optional[Executor] = None,
        cache: Optional[JobCache] = None, outputs: Optional[Outputs] = None) -> Result:
    """One split (with the page's in-memory ``memo``), or seeds x folds as jobs (here, on ``executor``,
    resumable from ``cache``); with ``cfg.outputs`` (or ``outputs``) your outputs' runs instead."""
    if outputs is not None or cfg.outputs.path:
        out = outputs if outputs is not None else load_outputs_of(cfg.outputs, source)
        one_modality(out.names)
        if cfg.diagnostic.scores == DiagnosticConfig().scores:  # the features' defaults: the outputs' instead
            cfg = replace(cfg, diagnostic=replace(cfg.diagnostic, scores=tuple(outputs_scores(out))))
        (bank, result, qc), runs = outputs_runs(out, cfg, memo, progress)
        table = summary_table(runs)
        config = {"outputs": out.source, "views": out.names, "runs": len(out.runs),
                  "config": cfg.diagnostic.seeded(cfg.seed).record(), "study": record(cfg)}
        return Result({"permutation_runs": runs, "permutation": table, "q_correct": qc, "null": result.null},
                      findings(table), config, {"bank": bank, "result": result, "outputs": out})
    ds = dataset if dataset is not None else _dataset(cfg.data, source)
    one_modality(ds.modality_names)
    if cfg.repeats == 1 and cfg.folds < 2:
        return split_result(cfg, ds, *single_run(ds, cfg, memo))
    seeds = range(cfg.seed, cfg.seed + cfg.repeats)
    remote = executor is not None
    jobs = [Job(f"seed {s}, fold {f}", permutation_job, (cfg, s, f, source) if remote or dataset is None
                else (cfg, s, f, source, ds))
            for s in seeds for f in range(len(fold_parts(ds, s, cfg.folds)))]
    outcome = run_jobs(jobs, executor, cache, progress, stop)
    runs = concat(outcome.results, "permutation_runs")
    table = summary_table(runs)
    config = {"dataset": ds.name, "views": ds.modality_names, "repeats": cfg.repeats, "folds": cfg.folds,
              "config": cfg.diagnostic.seeded(cfg.seed).record(), "study": record(cfg)}
    return Result({"permutation_runs": runs, "permutation": table, "q_correct": pd.DataFrame()}, findings(table),
                  config, {"job_seconds": outcome.seconds})

def split_result(cfg: PermutationStudyConfig, ds: MultimodalDataset, bank, result: PermutationResult,
                 qc: pd.DataFrame) -> Result:
    """The result of one seeded split from its bank and broken-Q test: what ``run`` and ``reopen`` return."""
    runs = result.table.assign(seed=cfg.seed, fold=0)
    table = summary_table(runs)
    config = {"dataset": ds.name, "views": ds.modality_names, "repeats": cfg.repeats, "folds": cfg.folds,
              "config": cfg.diagnostic.seeded(cfg.seed).record(), "study": record(cfg)}
    return Result({"permutation_runs": runs, "permutation": table, "q_correct": qc, "null": result.null},
                  findings(table), config, {"bank": bank, "result": result})


def savable(cfg: PermutationStudyConfig, result: Result) -> None:
    """Your own outputs and runs over several splits cannot be saved (the one is your file, the other keeps no
    experts)."""
    if cfg.outputs.path:
        raise ValueError("these are your own model's outputs: the file you loaded is the run, keep that")
    if result.artifacts.bank is None or cfg.repeats != 1 or cfg.folds >= 2:
        raise ValueError("a run over several splits keeps no experts; a single split (repeats 1, no folds) can be saved")


def saved_models(result: Result) -> Dict[str, Dict[str, Any]]:
    """One split's frozen experts as tensors (``diagnostics.experts.expert_state``), one model per modality."""
    from ..experts import expert_state
    return split_state(expert_state(result.artifacts.bank))


def rebuild(cfg: PermutationStudyConfig, states: Dict[str, Dict[str, Any]], saved: Dict[str, pd.DataFrame],
            source: Any = None, memo: Optional[MutableMapping] = None) -> Result:
    """A saved run without refitting the experts (``bundles.reopen``). The experts' test outputs come from their
    stored weights, their train outputs from the bundle; the scores, the router and the broken-Q test are
    recomputed from those as ``run`` computes them (each is seeded by the config). ``memo`` (``artifacts.memo``;
    a page's, or a new one) holds the split and the bank under ``single_run``'s keys, so the page's next ``run`` of
    this split fits nothing."""
    from ..experts import bank_from_state
    from ..noise import corrupt_rows
    if cfg.outputs.path or cfg.repeats != 1 or cfg.folds >= 2:
        raise ValueError("the bundle's config is your outputs or several splits, which a bundle never holds")
    ds = _dataset(cfg.data, source)
    c = cfg.diagnostic.seeded(cfg.seed)
    split = prepare(ds, SplitConfig(seed=cfg.seed))
    bank = bank_from_state(corrupt_rows(split, c.corruption), c.expert, joined_state(states))
    memo = {} if memo is None else memo
    memo[("data", cfg.seed)], memo[("bank", cfg.seed, c.expert, c.corruption)] = split, bank
    result = split_result(cfg, ds, *bank_run(bank, c, memo, ("score", cfg.seed, c.expert, c.corruption)))
    result.artifacts.memo = memo  # a page's next run of this split fits nothing
    return result


# one seeded split: fit the experts and run the broken-Q test (single_run, then split_result); several splits:
# one permutation_job per seed and fold; your own outputs: outputs_runs
STAGES = {"split": single_run, "result": split_result, "repeat": permutation_job, "outputs": outputs_runs}

SAVING = Saving("permutation", PermutationStudyConfig, models=saved_models, rebuild=rebuild, savable=savable)
