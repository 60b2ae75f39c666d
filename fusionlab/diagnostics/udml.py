"""Diagnostics of seed 001 (UDML, arXiv 2603.19681): does the estimator track the noise,
what weight does each sample get, how dependent is the model on each modality, and
does dynamic fusion beat static fusion?

All functions return tidy DataFrames (or a list of ``Finding``); nothing prints or plots.
``findings`` states from the numbers whether the paper's claims hold, and says so
plainly when they do not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..noise import Level, corrupt_modalities, default_levels
from ..refiners.udml import METHODS
from ..refiners.udml_train import UDMLStudy, add_intensity_noise, draw_intensities, intensity_to_level, max_level
from ..train import evaluate, predict
from .robustness import robustness_curve

NOISE = "gaussian"


def estimator_key(method: str) -> Optional[str]:
    """Which output is the method's noise estimate: ``intensity`` (s_m), ``variance`` (PE) or None."""
    return {"intensity": "intensity", "variance": "variance"}.get(METHODS.get(method).weighting)


def estimator_response(study: UDMLStudy, method: str, seed: int, levels: Optional[Mapping[str, Level]] = None,
                       split: str = "test") -> pd.DataFrame:
    """Per sample: the estimator's output on modality m as m's intensity runs 1..max.

    The other modalities stay at ``levels`` (the page's sliders; clean by default).
    Columns ``method, modality, injected, predicted, seed``.
    """
    key, levels = estimator_key(method), dict(levels or {})
    if key is None:
        raise ValueError(f"method '{method}' has no noise estimator")
    model, data, tc = study.models[(method, seed)], study.data, study.train_cfg
    part = getattr(data, split)
    frames = []
    for m, k in enumerate(model.names):
        for t in range(1, tc.max_intensity + 1):
            lv = {**levels, k: intensity_to_level(float(t), tc)}
            xs = corrupt_modalities(part.xs, lv, NOISE, seed, data.stats)  # same draws, scaled by t
            pred = predict(model, xs).extras[key][:, m].numpy()
            frames.append(pd.DataFrame({"method": method, "modality": k, "injected": t, "predicted": pred, "seed": seed}))
    return pd.concat(frames, ignore_index=True)


def study_response(study: UDMLStudy, levels: Optional[Mapping[str, Level]] = None) -> pd.DataFrame:
    """``estimator_response`` for every method with an estimator and every seed."""
    frames = [estimator_response(study, meth, s, levels) for meth, s in study.models if estimator_key(meth)]
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
    gen = torch.Generator().manual_seed(20_000 + seed)
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
    """The running dependency alpha per method, seed and modality (measured for every method)."""
    rows = [{"method": meth, "seed": s, "modality": k, "alpha": float(a)}
            for (meth, s), model in study.models.items() for k, a in zip(model.names, model.alpha)]
    return pd.DataFrame(rows, columns=["method", "seed", "modality", "alpha"])


def random_noise_inputs(study: UDMLStudy, seed: int, split: str = "test") -> Dict[str, torch.Tensor]:
    """The split corrupted like training: intensities ``t`` per sample and modality, half clean."""
    data, tc = study.data, study.train_cfg
    part = getattr(data, split)
    gen = torch.Generator().manual_seed(10_000 + seed)
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


def robustness_table(study: UDMLStudy, levels=None) -> pd.DataFrame:
    """Accuracy vs gaussian level on each modality alone and on all, per method and seed.

    Columns ``method, seed, condition, noise, level, accuracy``.
    """
    if levels is None:
        levels = default_levels(NOISE, 7, top=max(max_level(study.train_cfg), 1.0))
    levels, frames = list(levels), []
    for (meth, s), model in study.models.items():
        df = robustness_curve(model, study.data, NOISE, levels, seed=s, fusion=meth)
        frames.append(df.rename(columns={"fusion": "method"})[["method", "seed", "condition", "noise", "level", "accuracy"]])
    return pd.concat(frames, ignore_index=True)


@dataclass
class Finding:
    claim: str
    holds: Optional[bool]  # None: cannot be judged (methods missing, or a gap within the seed spread)
    detail: str


def _mean_acc(acc: pd.DataFrame, method: str, col: str) -> tuple[float, float]:
    v = acc.loc[acc["method"] == method, col]
    return float(v.mean()), float(v.std(ddof=0))


def _fmt(mean: float, sd: float) -> str:
    return f"{mean:.3f} ± {sd:.3f}"


def monotonicity_finding(spear: pd.DataFrame) -> Finding:
    """'UDML's estimator rises monotonically with the injected intensity where PE's does not.'"""
    claim = "UDML's noise estimate rises monotonically with the injected intensity; PE's mean variance does not"
    have = set(spear["method"]) if len(spear) else set()
    if not {"udml", "pe"} <= have:
        return Finding(claim, None, "needs both 'udml' and 'pe' to be trained")

    def describe(method: str) -> tuple[bool, str]:
        part = spear[spear["method"] == method]
        per = part.groupby("modality", sort=False).agg(rho=("spearman", "mean"), up=("monotone", "sum"),
                                                       n=("monotone", "size"))
        text = ", ".join(f"{k}: ρ={r.rho:.2f} (rises at every step in {int(r.up)}/{int(r.n)} seeds)"
                         for k, r in per.iterrows())
        return bool(part["monotone"].all()), text

    u_ok, u_text = describe("udml")
    p_ok, p_text = describe("pe")
    holds = u_ok and not p_ok
    if holds:
        verdict = "holds here"
    elif u_ok and p_ok:
        verdict = "does not hold here: PE's mean variance is monotone too"
    elif not u_ok and not p_ok:
        verdict = "does not hold here: neither estimate rises at every step"
    else:
        verdict = "does not hold here: UDML's estimate is not monotone, PE's is"
    return Finding(claim, holds, f"{verdict}. UDML {u_text}. PE {p_text}.")


def suppression_findings(acc: pd.DataFrame, hard: Optional[str] = None) -> List[Finding]:
    """'PE-based dynamic fusion falls below static fusion; UDML does not' (clean and noisy test),
    and, given the hard modality, whether PE down-weights it and UDML less so."""
    have = set(acc["method"])
    if not {"static", "pe", "udml"} <= have:
        return [Finding("dual suppression", None, "needs 'static', 'pe' and 'udml' to be trained")]
    out = []
    for col, what in (("clean", "clean test"), ("noisy", "test with training-like random noise")):
        s, p, u = (_mean_acc(acc, m, col) for m in ("static", "pe", "udml"))
        spread = max(s[1], p[1], u[1])
        for claim, name, m, holds in ((f"PE falls below static fusion ({what})", "PE", p, p[0] < s[0]),
                                      (f"UDML does not fall below static fusion ({what})", "UDML", u, u[0] >= s[0])):
            tie = spread > 0 and abs(m[0] - s[0]) <= spread  # a gap no larger than the seeds' own spread
            verdict = ("cannot tell here (the gap is within the seed spread)" if tie else
                       "holds here" if holds else "does not hold here")
            out.append(Finding(claim, None if tie else holds, f"{verdict}: static {_fmt(*s)}, {name} {_fmt(*m)}."))
    col = f"weight/{hard}"
    if hard is not None and col in acc:
        p, u = _mean_acc(acc, "pe", col), _mean_acc(acc, "udml", col)
        holds = p[0] < 1.0 and u[0] > p[0]
        # as above, a gap no larger than the seeds' spread decides nothing: PE's weight against the
        # equal share 1, and UDML's against PE's
        tie = abs(p[0] - 1.0) <= p[1] or abs(u[0] - p[0]) <= max(p[1], u[1])
        verdict = ("cannot tell (a gap is within the seed spread)" if tie else
                   "holds" if holds else "does not hold")
        out.append(Finding(f"PE suppresses the hard modality '{hard}' on clean inputs; UDML less so",
                           None if tie else holds, f"{verdict} here: mean weight of '{hard}' "
                           f"(1 = equal share) PE {_fmt(*p)}, UDML {_fmt(*u)}."))
    return out


def findings(spear: pd.DataFrame, acc: pd.DataFrame, hard: Optional[str] = None) -> List[Finding]:
    """Every claim of seed 001 the numbers can judge, in order."""
    return [monotonicity_finding(spear)] + suppression_findings(acc, hard)
