"""The fusion-complexity paper's two findings (product vs concat), judged from the study's tables: data efficiency from the
scores, robustness from the share of clean accuracy each fusion loses under noise."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, List, Optional

import pandas as pd

from ..findings import FAILS, HOLDS, UNKNOWN, Finding, describe, direction, from_directions

if TYPE_CHECKING:  # annotations only: scaling.py imports this module
    from .scaling import ScalingResult

MIN_MARGIN = 0.05  # clean accuracy above chance needed to judge degradation


def _size_reaching(curve: pd.Series, target: float) -> Optional[int]:
    """The smallest training size whose mean accuracy reaches ``target`` (None if none does)."""
    reached = curve[curve >= target]
    return int(reached.index.min()) if len(reached) else None


def data_efficiency_finding(scores: pd.DataFrame, chance: float, a: str = "product", b: str = "concat") -> Finding:
    """Did ``a`` reach a given accuracy from less training data than ``b``?

    The target is half-way from chance to the best mean test accuracy any fusion
    reached; the finding holds when ``a`` reaches it at a smaller size than ``b``.
    """
    claim = f"{a} learns the task from less data than {b}"
    if scores.empty or not {a, b} <= set(scores["fusion"]):
        return Finding(claim, UNKNOWN, f"the study needs both {a} and {b}.")
    curves = scores.groupby(["fusion", "size"])["test_accuracy"].mean()
    target = chance + 0.5 * (curves.max() - chance)
    na, nb = _size_reaching(curves[a], target), _size_reaching(curves[b], target)
    top = int(scores["size"].max())
    desc = lambda f, n: f"{f} reached it at n = {n}" if n else f"{f} never did (up to n = {top})"  # noqa: E731
    mean_a, mean_b = curves[a].mean(), curves[b].mean()
    detail = (f"target: mean test accuracy {target:.3f} (half-way from chance {chance:.3f} to the best mean "
              f"{curves.max():.3f}); {desc(a, na)}, {desc(b, nb)}. Averaged over the sizes, {a} scored "
              f"{mean_a:.3f} and {b} {mean_b:.3f}.")
    if na is None:
        return Finding(claim, FAILS, f"{a} never reached the target. {detail}")
    if na == nb:
        return Finding(claim, UNKNOWN, f"both reached it at the same size. {detail}")
    return Finding(claim, HOLDS if nb is None or na < nb else FAILS, detail)


def degradation(robustness: pd.DataFrame, chance: float) -> pd.DataFrame:
    """Per fusion, condition and seed: the share of the clean above-chance accuracy lost,
    averaged over the noise levels above 0 (0 = unaffected, 1 = down to chance). Seeds whose
    clean accuracy is within ``MIN_MARGIN`` of chance are left out (a ratio of noise over
    almost nothing)."""
    df = robustness
    clean = df[df["level"] == 0].set_index(["fusion", "condition", "seed"])["accuracy"].rename("clean")
    noisy = df[df["level"] > 0].join(clean, on=["fusion", "condition", "seed"])
    margin = (noisy["clean"] - chance).where(lambda m: m > MIN_MARGIN)
    noisy = noisy.assign(lost=(noisy["clean"] - noisy["accuracy"]) / margin)
    return noisy.groupby(["fusion", "condition", "seed"], as_index=False)["lost"].mean()


def robustness_finding(robustness: pd.DataFrame, chance: float, a: str = "product", b: str = "concat") -> Finding:
    """Did ``a`` degrade faster under noise than ``b``? Per noise condition, the per-seed paired
    difference of ``degradation`` (the shared rule of ``findings``): holds when ``a`` lost significantly
    more in every condition, partly in some, does not hold when ``b`` lost more, cannot tell otherwise."""
    claim = f"{a} degrades faster under noise than {b}"
    if robustness.empty or not {a, b} <= set(robustness["fusion"]) or not (robustness["level"] > 0).any():
        return Finding(claim, UNKNOWN, f"robustness needs both {a} and {b} and a noise level above 0.")
    lost = degradation(robustness, chance).pivot_table(index=["condition", "seed"], columns="fusion", values="lost")
    lost = lost.reindex(columns=[a, b]).dropna()  # a fusion at chance on clean data has no column
    if lost.empty:
        return Finding(claim, UNKNOWN, f"a fusion is within {MIN_MARGIN:.2f} of chance on clean data, "
                                       "so there is no accuracy for noise to take away.")
    seen, parts = [], []
    for cond, g in lost.groupby(level="condition", sort=False):
        diff = (g[a] - g[b]).to_numpy()
        seen.append(direction(diff))
        parts.append(f"noise on {cond}: {a} lost {g[a].mean():.0%}, {b} {g[b].mean():.0%} "
                     f"(paired difference {describe(diff)})")
    verdict = from_directions([1] * len(seen), seen)
    return Finding(claim, verdict, f"{a} lost significantly more in {seen.count(1)} of {len(seen)} conditions. "
                   "Share of the clean above-chance accuracy lost, averaged over noise levels, mean over seeds "
                   "[95% interval of the per-seed difference]: " + "; ".join(parts) + ".")


def interaction_finding(emap: pd.DataFrame, a: str = "product", b: str = "concat") -> Finding:
    """Does ``a`` rely on a cross-modal interaction, more than ``b``? At the largest training size, per seed, the EMAP
    gap (the model's test accuracy minus that of EMAP, its best additive copy, on the same rows); holds when ``a``'s
    gap is above 0 and above ``b``'s (paired by seed, the shared rule), partly when one of the two is."""
    claim = f"{a} relies on a cross-modal interaction, more than {b}"
    if emap.empty or not {a, b} <= set(emap["fusion"]):
        return Finding(claim, UNKNOWN, f"the attribution table needs both {a} and {b}.")
    top = int(emap["size"].max())
    at = emap[emap["size"] == top].assign(gap=lambda d: d["accuracy"] - d["emap_accuracy"])
    gap = at.pivot_table(index="seed", columns="fusion", values="gap").reindex(columns=[a, b]).dropna()
    share = at.groupby("fusion")["interaction_share"].mean()
    seen = [direction(gap[a].to_numpy()), direction((gap[a] - gap[b]).to_numpy())]
    return Finding(claim, from_directions([1, 1], seen), (
        f"at n = {top}, the model's accuracy minus that of EMAP (its best additive copy, same test rows), mean over "
        f"{len(gap)} seeds [95% interval]: {a} {describe(gap[a].to_numpy())}, {b} {describe(gap[b].to_numpy())}; "
        f"{a} minus {b} {describe((gap[a] - gap[b]).to_numpy())}. Interaction share (0: additive): {a} "
        f"{share[a]:.2f}, {b} {share[b]:.2f}."))


def findings(result: ScalingResult) -> List[Finding]:
    """The paper's two findings (product vs concat), each judged from ``result``, and — when the study measured
    attribution — whether product fusion relies on an interaction."""
    out = [data_efficiency_finding(result.scores, result.chance),
           robustness_finding(result.robustness, result.chance)]
    if not result.emap.empty:
        out.append(interaction_finding(result.emap))
    labels = set(result.scores["label"]) if not result.scores.empty else set()
    if labels and labels != {"dot"}:
        for i in [0] + ([2] if len(out) > 2 else []):  # the claims made of the dot task
            out[i] = replace(out[i], evidence=out[i].evidence + f" (The paper makes this claim for the dot task; "
                                                                f"this run's label is {', '.join(sorted(labels))}.)")
    return out
