"""Diagnostics of the UDML paper (UDML, arXiv 2603.19681): does the estimator track the noise,
what weight does each sample get, how dependent is the model on each modality, and
does dynamic fusion beat static fusion?

All functions return tidy DataFrames (or a list of ``Finding``); nothing prints or plots.
``findings`` states from the numbers whether the paper's claims hold, and says so
plainly when they do not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score

from .. import rng
from ..data.dataset import PreparedData
from ..text import plus_minus
from ..findings import FAILS, HOLDS, PARTLY, UNKNOWN, Finding, describe, direction
from ..models.udml import VARIANTS, UDMLConfig, UDMLModel
from ..models.udml_schedule import (NoiseSchedule, add_intensity_noise, draw_intensities, intensity_to_level, is_pure,
                                     max_level, pure_noise)
from ..noise import Level, corrupt_modalities, default_levels, level_range
from .signals import SignalTestConfig, over_conditions, signal_permutation
from ..train import evaluate, predict
from .robustness import robustness_curve

NOISE = "gaussian"
EVAL_STREAMS = ("levels", "training-like noise")  # sub-streams of a diagnostic's seed


@dataclass
class UDMLStudy:
    """Every method trained with every seed on one dataset (one user's, in session_state)."""

    data: PreparedData
    model_cfg: UDMLConfig
    schedule: NoiseSchedule
    models: Dict[Tuple[str, int], UDMLModel]
    histories: Dict[Tuple[str, int], pd.DataFrame]
    eval_seed: int = 0  # seeds the test-time noise of every diagnostic (the split's seed)
    stopped: bool = False
    test_noise: str = NOISE  # the corruption the estimator-response sweep injects (gaussian: the training noise)

    @property
    def methods(self) -> List[str]:
        return list(dict.fromkeys(m for m, _ in self.models))

    @property
    def seeds(self) -> List[int]:
        return list(dict.fromkeys(s for _, s in self.models))


def estimator_key(method: str) -> Optional[str]:
    """Which output is the method's noise estimate: ``intensity`` (s_m), ``variance`` (PE) or None."""
    return {"intensity": "intensity", "variance": "variance"}.get(VARIANTS.get(method).weighting)


def test_level(t: float, schedule: NoiseSchedule, noise: str = NOISE, m: Optional[int] = None) -> float:
    """The level of corruption ``noise`` at intensity ``t`` on modality ``m``: the training map for gaussian noise;
    for another corruption (never seen in training), its level range spread evenly over t = 1..max."""
    if noise == NOISE:
        return intensity_to_level(float(t), schedule, m)
    lo, hi = level_range(noise)
    return lo + (hi - lo) * (float(t) - 1) / max(1, schedule.max_intensity - 1)


def swept_inputs(data: PreparedData, split: str, name: str, t: float, schedule: NoiseSchedule, seed: int,
                 levels: Mapping[str, Level], noise: str = NOISE) -> Dict[str, torch.Tensor]:
    """The split with modality ``name`` at intensity ``t`` of ``noise`` and the others at gaussian ``levels``
    (with gaussian test noise, one call: the same draws at every t, scaled by it)."""
    part, m = getattr(data, split), data.modality_names.index(name)
    if noise == NOISE:
        level = test_level(t, schedule, noise, m)
        out = corrupt_modalities(part.xs, {**levels, name: level}, NOISE, seed, data.stats)
        if is_pure(float(t), schedule):  # the training map's top: the input replaced by noise, as in training
            gen = rng.streams(seed, (f"pure {name}",))[f"pure {name}"]
            out[name] = pure_noise(out[name], level, gen, data.stats[name])
        return out
    others = corrupt_modalities(part.xs, {k: v for k, v in levels.items() if k != name}, NOISE, seed, data.stats)
    return corrupt_modalities(others, {name: test_level(t, schedule, noise)}, noise, seed, data.stats)


Sweeps = Dict[Tuple[int, str], Tuple[Dict[str, torch.Tensor], np.ndarray]]


def swept_batch(data: PreparedData, split: str, name: str, schedule: NoiseSchedule, seed: int,
                levels: Mapping[str, Level], noise: str = NOISE) -> Tuple[Dict[str, torch.Tensor], np.ndarray]:
    """Modality ``name``'s whole intensity sweep t = 1..max (``swept_inputs`` at each t) stacked along the rows, and
    each row's t: one batch for a model to run once instead of once per intensity."""
    ts = range(1, schedule.max_intensity + 1)
    parts = [swept_inputs(data, split, name, t, schedule, seed, levels, noise) for t in ts]
    n = len(next(iter(parts[0].values())))
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}, np.repeat(np.asarray(ts), n)


def _sweep(sweeps: Optional[Sweeps], data: PreparedData, split: str, name: str, schedule: NoiseSchedule, seed: int,
           levels: Mapping[str, Level], noise: str):
    """``swept_batch``, shared through ``sweeps`` by every model of one seed and by the oracle (the same draws)."""
    if sweeps is None:
        return swept_batch(data, split, name, schedule, seed, levels, noise)
    if (seed, name) not in sweeps:
        sweeps[(seed, name)] = swept_batch(data, split, name, schedule, seed, levels, noise)
    return sweeps[(seed, name)]


def estimator_response(study: UDMLStudy, method: str, seed: int, levels: Optional[Mapping[str, Level]] = None,
                       split: str = "test", sweeps: Optional[Sweeps] = None) -> pd.DataFrame:
    """Per sample: the estimator's output on modality m as m's intensity of ``study.test_noise`` runs 1..max.

    The other modalities stay at ``levels`` (the page's sliders; clean by default). ``sweeps`` (a dict) shares the
    swept inputs between the calls of one setting (``study_response``, ``study_oracle``).
    Columns ``method, modality, injected, predicted, seed``.
    """
    key, levels = estimator_key(method), dict(levels or {})
    if key is None:
        raise ValueError(f"method '{method}' has no noise estimator")
    model, data, tc = study.models[(method, seed)], study.data, study.schedule
    frames = []
    for m, k in enumerate(model.names):
        xs, t = _sweep(sweeps, data, split, k, tc, seed, levels, study.test_noise)
        pred = model.estimate(k, xs[k])[key].numpy()  # the estimate reads its own modality only
        frames.append(pd.DataFrame({"method": method, "modality": k, "injected": t, "predicted": pred, "seed": seed}))
    return pd.concat(frames, ignore_index=True)


ORACLE = "oracle"  # ||x_m||^2 of the noisy input: the best any per-sample estimator can do under gaussian noise


def oracle_response(data: PreparedData, schedule: NoiseSchedule, seed: int,
                    levels: Optional[Mapping[str, Level]] = None, split: str = "test", noise: str = NOISE,
                    sweeps: Optional[Sweeps] = None) -> pd.DataFrame:
    """The estimator's ceiling: per sample, the squared norm of modality m's input as m's intensity runs
    1..max, with exactly the noise draws ``estimator_response`` uses for ``seed`` (so its Spearman is
    the best a per-sample estimate can reach under this noise map: the noise adds variance, and an
    input's energy is the sufficient statistic for it; under another ``noise`` it is only a reference).
    Same columns, ``method = "oracle"``."""
    levels, frames = dict(levels or {}), []
    for k in data.modality_names:
        xs, t = _sweep(sweeps, data, split, k, schedule, seed, levels, noise)
        energy = xs[k].pow(2).flatten(1).sum(1).numpy()
        frames.append(pd.DataFrame({"method": ORACLE, "modality": k, "injected": t, "predicted": energy, "seed": seed}))
    return pd.concat(frames, ignore_index=True)


def study_oracle(study: UDMLStudy, seeds, levels: Optional[Mapping[str, Level]] = None,
                 sweeps: Optional[Sweeps] = None) -> pd.DataFrame:
    """``oracle_response`` for each of ``seeds`` under the study's test noise (the ceiling beside its estimators)."""
    return pd.concat([oracle_response(study.data, study.schedule, s, levels, noise=study.test_noise, sweeps=sweeps)
                      for s in seeds], ignore_index=True)


def study_response(study: UDMLStudy, levels: Optional[Mapping[str, Level]] = None,
                   sweeps: Optional[Sweeps] = None) -> pd.DataFrame:
    """``estimator_response`` for every method with an estimator and every seed (each seed's sweep built once)."""
    sweeps = {} if sweeps is None else sweeps
    frames = [estimator_response(study, meth, s, levels, sweeps=sweeps) for meth, s in study.models
              if estimator_key(meth)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["method", "modality", "injected", "predicted", "seed"])


def spearman_table(response: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho of (injected, predicted) over samples, and whether the mean curve rises at
    every step. Columns ``method, modality, seed, spearman, monotone``."""
    rows = []
    for (meth, mod, seed), g in response.groupby(["method", "modality", "seed"], sort=False):
        rho = spearmanr(g["injected"], g["predicted"]).statistic
        means = g.groupby("injected")["predicted"].mean().to_numpy()
        rows.append({"method": meth, "modality": mod, "seed": seed, "spearman": float(rho),
                     "monotone": bool(np.all(np.diff(means) > 0))})
    return pd.DataFrame(rows, columns=["method", "modality", "seed", "spearman", "monotone"])


def per_sample_levels(n: int, max_levels: Mapping[str, float], seed: int) -> Dict[str, torch.Tensor]:
    """Each sample's gaussian level per modality, ``U(0, max_levels[m])``; ``{m: (n,)}``."""
    gen = rng.streams(seed, EVAL_STREAMS)["levels"]
    return {k: torch.rand(n, generator=gen) * float(v) for k, v in max_levels.items()}


def sample_weights(study: UDMLStudy, method: str, seed: int, levels: Mapping[str, torch.Tensor],
                   split: str = "test") -> pd.DataFrame:
    """Per-sample weights on the split corrupted at per-sample ``levels`` ``{m: (N,)}`` (missing = clean).

    Columns ``method, seed, row, modality, injected, weight`` (``injected`` in train sd).
    """
    model, data = study.models[(method, seed)], study.data
    part = getattr(data, split)
    n = len(part)
    xs = corrupt_modalities(part.xs, levels, NOISE, seed, data.stats)
    w = predict(model, xs).extras["weights"].numpy()  # (N, M)
    frames = [pd.DataFrame({"method": method, "seed": seed, "row": np.arange(n), "modality": k,
                            "injected": np.broadcast_to(np.asarray(levels.get(k, 0.0), dtype=float), (n,)),
                            "weight": w[:, m]}) for m, k in enumerate(model.names)]
    return pd.concat(frames, ignore_index=True)


def alpha_table(study: UDMLStudy) -> pd.DataFrame:
    """The dependency alpha per method, seed and modality (measured for every method)."""
    rows = [{"method": meth, "seed": s, "modality": k, "alpha": float(a)}
            for (meth, s), model in study.models.items() for k, a in zip(model.names, model.alpha)]
    return pd.DataFrame(rows, columns=["method", "seed", "modality", "alpha"])


def random_noise_inputs(study: UDMLStudy, seed: int, split: str = "test") -> Dict[str, torch.Tensor]:
    """The split corrupted like training: intensities ``t`` per sample and modality, half clean."""
    data, tc = study.data, study.schedule
    part = getattr(data, split)
    gen = rng.streams(seed, EVAL_STREAMS)["training-like noise"]
    t = draw_intensities(len(part), len(data.modality_names), gen, tc.max_intensity, tc.p_clean)
    return add_intensity_noise(part.xs, t, gen, data.stats, tc)


def accuracy_table(study: UDMLStudy, levels: Optional[Mapping[str, Level]] = None, split: str = "test") -> pd.DataFrame:
    """Per method and seed: accuracy on clean inputs, on training-like random noise, at ``levels``,
    and the mean clean weight per modality. Columns ``method, seed, clean, noisy, current, weight/<m>``."""
    data, rows, levels = study.data, [], dict(levels or {})
    part = getattr(data, split)
    for (meth, s), model in study.models.items():
        clean_out = predict(model, part.xs)
        row = {"method": meth, "seed": s,
               "clean": evaluate(model, part)["accuracy"],
               "noisy": evaluate(model, part, random_noise_inputs(study, s, split))["accuracy"],
               "current": evaluate(model, part, corrupt_modalities(part.xs, levels, NOISE, s, data.stats))["accuracy"]}
        row.update({f"weight/{k}": float(w) for k, w in zip(model.names, clean_out.extras["weights"].mean(0))})
        rows.append(row)
    return pd.DataFrame(rows)


def current_accuracy(study: UDMLStudy, levels: Mapping[str, Level], split: str = "test") -> pd.DataFrame:
    """Per method and seed, accuracy at ``levels`` only: ``accuracy_table``'s ``current`` column, without the
    clean and training-noise evaluations that do not depend on the levels. Columns ``method, seed, current``."""
    data, part = study.data, getattr(study.data, split)
    y = part.y.numpy()
    rows = []
    for (meth, s), model in study.models.items():
        logits = predict(model, corrupt_modalities(part.xs, dict(levels), NOISE, s, data.stats)).logits
        rows.append({"method": meth, "seed": s, "current": float(accuracy_score(y, logits.argmax(1).numpy()))})
    return pd.DataFrame(rows, columns=["method", "seed", "current"])


def robustness_table(study: UDMLStudy, levels=None) -> pd.DataFrame:
    """Accuracy vs gaussian level on each modality alone and on all, per method and seed.

    Columns ``method, seed, condition, noise, level, accuracy``.
    """
    if levels is None:
        levels = default_levels(NOISE, 7, top=max(max_level(study.schedule), 1.0))
    levels, frames = list(levels), []
    for (meth, s), model in study.models.items():
        df = robustness_curve(model, study.data, NOISE, levels, seed=s, fusion=meth)
        frames.append(df.rename(columns={"fusion": "method"})[["method", "seed", "condition", "noise", "level", "accuracy"]])
    return pd.concat(frames, ignore_index=True)


def _mean_acc(acc: pd.DataFrame, method: str, col: str) -> tuple[float, float]:
    v = acc.loc[acc["method"] == method, col]
    return float(v.mean()), float(v.std(ddof=0))


def _fmt(mean: float, sd: float) -> str:
    return plus_minus(mean, sd)


def monotonicity_finding(spear: pd.DataFrame, noise: str = NOISE) -> Finding:
    """'UDML's estimator rises monotonically with the injected intensity where PE's does not' (under
    ``noise``; a corruption other than the training noise asks whether the estimator generalises)."""
    claim = "UDML's noise estimate rises monotonically with the injected intensity; PE's mean variance does not"
    if noise != NOISE:
        claim += f" — under {noise} test noise, never seen in training (the paper's claim is for its training noise)"
    have = set(spear["method"]) if len(spear) else set()
    if not {"udml", "pe"} <= have:
        return Finding(claim, UNKNOWN, "needs both 'udml' and 'pe' to be trained")

    def describe_method(method: str) -> tuple[bool, str]:
        part = spear[spear["method"] == method]
        per = part.groupby("modality", sort=False).agg(rho=("spearman", "mean"), up=("monotone", "sum"),
                                                       n=("monotone", "size"))
        text = ", ".join(f"{k}: ρ={r.rho:.2f} (rises at every step in {int(r.up)}/{int(r.n)} seeds)"
                         for k, r in per.iterrows())
        return bool(part["monotone"].all()), text

    u_ok, u_text = describe_method("udml")
    p_ok, p_text = describe_method("pe")
    if u_ok and not p_ok:
        verdict, why = HOLDS, "UDML's estimate rises at every step, PE's does not"
    elif u_ok and p_ok:
        verdict, why = FAILS, "PE's mean variance is monotone too"
    elif not u_ok and not p_ok:
        verdict, why = FAILS, "neither estimate rises at every step"
    else:
        verdict, why = FAILS, "UDML's estimate is not monotone, PE's is"
    return Finding(claim, verdict, f"{why}. UDML {u_text}. PE {p_text}.")


def _paired(acc: pd.DataFrame, a: str, b: str, col: str) -> np.ndarray:
    """Per seed ``a - b`` of column ``col`` (the seeds both methods were trained with)."""
    wide = acc.pivot_table(index="seed", columns="method", values=col)
    return (wide[a] - wide[b]).dropna().to_numpy()


def suppression_findings(acc: pd.DataFrame, hard: Optional[str] = None) -> List[Finding]:
    """'PE-based dynamic fusion falls below static fusion; UDML does not' (clean and noisy test),
    and, given the hard modality, whether PE down-weights it and UDML less so. Every comparison is
    the per-seed paired difference (the shared rule: an interval containing 0 cannot tell)."""
    have = set(acc["method"])
    if not {"static", "pe", "udml"} <= have:
        return [Finding("dual suppression", UNKNOWN, "needs 'static', 'pe' and 'udml' to be trained")]
    out = []
    for col, what in (("clean", "clean test"), ("noisy", "test with training-like random noise")):
        s = _mean_acc(acc, "static", col)
        for name, meth, want in (("PE", "pe", -1), ("UDML", "udml", 0)):
            diff = _paired(acc, meth, "static", col)
            d = direction(diff)
            if want == -1:
                claim = f"PE falls below static fusion ({what})"
                verdict = {-1: HOLDS, 1: FAILS, 0: UNKNOWN}[d]
            else:
                claim = f"UDML does not fall below static fusion ({what})"
                verdict = {-1: FAILS, 1: HOLDS, 0: UNKNOWN}[d]
            out.append(Finding(claim, verdict, f"static {_fmt(*s)}, {name} {_fmt(*_mean_acc(acc, meth, col))}; "
                                               f"{name} − static per seed {describe(diff)}."))
    col = f"weight/{hard}"
    if hard is not None and col in acc:
        pe = acc.loc[acc["method"] == "pe"].set_index("seed")[col]
        below = direction(pe.to_numpy() - 1.0)  # against the equal share 1
        above = direction(_paired(acc, "udml", "pe", col))  # UDML's weight against PE's
        # the claim stands on PE suppressing it: PE above the equal share refutes it, an undecided PE decides nothing
        verdict = (FAILS if below == 1 else UNKNOWN if below == 0 else
                   HOLDS if above == 1 else PARTLY if above == 0 else FAILS)
        out.append(Finding(f"PE suppresses the hard modality '{hard}' on clean inputs; UDML less so", verdict,
                           f"mean weight of '{hard}' (1 = equal share) PE {_fmt(*_mean_acc(acc, 'pe', col))} "
                           f"(PE − 1 per seed {describe(pe.to_numpy() - 1.0)}), UDML "
                           f"{_fmt(*_mean_acc(acc, 'udml', col))} (UDML − PE {describe(_paired(acc, 'udml', 'pe', col))})."))
    return out


def premise_finding(alpha: pd.DataFrame, hard: Optional[str]) -> List[Finding]:
    """The premise of dual suppression, checked on this run: the hard modality is the one the model depends on
    less (UDML's α smaller than the other modalities' mean, paired by seed). When it is not, the page's story
    (α protects the hard modality) does not apply here, and this says so with the numbers."""
    a = alpha[alpha["method"] == "udml"] if len(alpha) else alpha
    if hard is None or a.empty or hard not in set(a["modality"]) or a["modality"].nunique() < 2:
        return []
    per = a.pivot_table(index="seed", columns="modality", values="alpha")
    diff = (per[hard] - per.drop(columns=[hard]).mean(axis=1)).to_numpy()
    d = direction(diff)
    others = per.drop(columns=[hard]).to_numpy().mean()
    why = ""
    if diff.mean() > 0:  # said from the numbers even when the seeds cannot decide the direction
        why = (f" Here '{hard}' got the larger α, so dividing by α lowers its weight instead of protecting it: "
               "the dual-suppression story does not apply to this run"
               + ("." if d == 1 else " (these seeds cannot decide the direction)."))
    return [Finding(f"the hard modality '{hard}' is the one the model depends on less (UDML's α; the premise of "
                    "dual suppression)", {-1: HOLDS, 1: FAILS, 0: UNKNOWN}[d],
                    f"α of '{hard}' {per[hard].mean():.2f}, of the others {others:.2f} (mean over "
                    f"{len(per)} seed{'s' if len(per) != 1 else ''}); '{hard}' − others per seed {describe(diff)}."
                    + why)]


def findings(spear: pd.DataFrame, acc: pd.DataFrame, hard: Optional[str] = None, noise: str = NOISE,
             alpha: Optional[pd.DataFrame] = None) -> List[Finding]:
    """Every claim of the UDML paper the numbers can judge, in order (``noise``: the estimator sweep's test noise),
    and, with ``alpha``, whether the run meets dual suppression's premise."""
    premise = premise_finding(alpha, hard) if alpha is not None else []
    return [monotonicity_finding(spear, noise)] + premise + suppression_findings(acc, hard)


def noise_label(max_levels: Mapping[str, float]) -> str:
    """``clean`` or e.g. ``m2 noised (gaussian, per-sample level up to 1.5)``: a signal-test condition."""
    parts = [f"{k} up to {v:.3g}" for k, v in max_levels.items() if v > 0]
    return "clean" if not parts else f"{', '.join(parts)} noised ({NOISE}, per-sample level U(0, max))"


def signal_test(study: UDMLStudy, method: str, seed: int, noises: Sequence[Mapping[str, float]],
                cfg: SignalTestConfig = SignalTestConfig()):
    """docs/methods.md, signal permutation test on one model's weights ``w_m`` (and a ``gated`` operator's ``z``), once per noise setting
    (``{modality: max level}``, ``{}`` clean; the page passes its sliders'): gaussian test noise at
    per-sample levels ~ U(0, max), drawn from the study's evaluation seed as ``sample_weights`` draws them."""
    data, part = study.data, study.data.test
    conditions = {}
    for noise in noises:
        levels = per_sample_levels(len(part), dict(noise), study.eval_seed)
        conditions[noise_label(noise)] = corrupt_modalities(part.xs, levels, NOISE, study.eval_seed, data.stats)
    res = over_conditions(signal_permutation, study.models[(method, seed)], conditions, part.y, data.n_classes, cfg)
    res.table.insert(0, "method", method)
    res.null.insert(0, "method", method)
    return res
