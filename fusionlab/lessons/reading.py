"""Reading a run for a lesson: per-sample tests that decide a step's question, and a study finding turned into the
prediction it supports. Every decision here is a test at 5 %: McNemar's exact test for two conditions on the same
test samples (scipy's binomial test on the discordant samples), Fisher's exact test for two groups of samples, and
the shared paired-interval rule (``fusionlab.findings``) for seeds."""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from scipy import stats

from ..findings import HOLDS, UNKNOWN, Finding
from ..noise import corrupt_modalities
from .base import Said

ALPHA = 0.05


def correct(result, levels: Mapping[str, float] = {}, noise: str = "mix") -> np.ndarray:
    """Per test sample: is the Playground model right with each modality corrupted at ``levels`` of ``noise`` (as
    the page's sliders corrupt it: ``noisy_evaluation`` with the training seed)?"""
    from ..diagnostics import noisy_evaluation
    a = result.artifacts
    ev = noisy_evaluation(a.model, a.data, dict(levels), noise, int(result.config["train"]["seed"]))
    return ev.probs.argmax(1) == ev.y


def mcnemar(a: np.ndarray, b: np.ndarray) -> Tuple[float, float]:
    """``(mean(a) − mean(b), p)``: McNemar's exact test of two paired 0/1 outcomes on the same samples."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = 1.0 if only_a + only_b == 0 else float(stats.binomtest(only_a, only_a + only_b).pvalue)
    return float(a.mean() - b.mean()), p


def paired_choice(a: np.ndarray, b: np.ndarray, when_a: int, when_b: int, neither: Optional[int]) -> Tuple[Optional[int], str]:
    """The choice two paired outcomes support (``a`` significantly higher, ``b`` higher, or neither) and the numbers."""
    diff, p = mcnemar(a, b)
    text = f"{np.mean(a):.3f} vs {np.mean(b):.3f} on the same {len(a)} test samples (McNemar p = {p:.3g})"
    if p > ALPHA:
        return neither, text
    return (when_a if diff > 0 else when_b), text


def fisher(group: np.ndarray, outcome: np.ndarray) -> Tuple[float, float, float]:
    """``(rate in group, rate outside, p)`` of a 0/1 ``outcome``: Fisher's exact test of the 2×2 table."""
    group, outcome = np.asarray(group, bool), np.asarray(outcome, bool)
    table = [[int((group & outcome).sum()), int((group & ~outcome).sum())],
             [int((~group & outcome).sum()), int((~group & ~outcome).sum())]]
    p = float(stats.fisher_exact(table).pvalue) if group.any() and (~group).any() else 1.0
    rate = lambda m: float(outcome[m].mean()) if m.any() else float("nan")  # noqa: E731
    return rate(group), rate(~group), p


def contributions(result, levels: Mapping[str, float] = {}, noise: str = "mix") -> Dict[str, np.ndarray]:
    """Per modality and test sample: the page's contribution bars (``modality_contributions``: how much the
    predicted class's probability falls with that modality dropped), on inputs corrupted at ``levels``."""
    from ..diagnostics import modality_contributions
    a = result.artifacts
    xs = corrupt_modalities(a.data.test.xs, dict(levels), noise, int(result.config["train"]["seed"]), a.data.stats)
    table = modality_contributions(a.model, xs, a.data)
    return {k: g.sort_values("row")["contribution"].to_numpy() for k, g in table.groupby("modality", sort=False)}


def per_seed(table: pd.DataFrame, group: str, value: str, a: str, b: str) -> np.ndarray:
    """``a − b`` of ``value`` per seed (the seeds both have), ``group`` naming the column that holds a and b."""
    wide = table.pivot_table(index="seed", columns=group, values=value)
    return (wide[a] - wide[b]).dropna().to_numpy()


def finding(result, starts: str) -> Optional[Finding]:
    """The study's first finding whose claim starts with ``starts`` (None when the run made none)."""
    return next((f for f in result.findings if f.claim.startswith(starts)), None)


def from_verdict(f: Optional[Finding], choices: Mapping[str, int], missing: str) -> Said:
    """A study finding as a Said: ``choices`` maps its verdict to a prediction (a verdict not in it: None)."""
    if f is None:
        return Said(Finding("this step's finding", UNKNOWN, missing), None)
    return Said(f, choices.get(f.verdict))


def said(claim: str, choice: Optional[int], evidence: str, decided: bool = True) -> Said:
    """A step's own finding: the claim answered by the choice, the numbers behind it. ``decided=False``: the test
    cannot tell (its verdict says so), which supports a choice such as "no difference we can show"."""
    return Said(Finding(claim, HOLDS if decided and choice is not None else UNKNOWN, evidence), choice)


def level_text(levels: Sequence[float]) -> str:
    return ", ".join(f"{v:g}" for v in levels)
