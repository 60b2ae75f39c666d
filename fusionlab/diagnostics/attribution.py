"""Which modality did the model use for this sample, and does it combine them (docs/methods.md, "Modality
attribution and interaction")?

For a frozen model and a test row, the value of a *coalition* ``S`` of modalities is the model's output with every
modality outside ``S`` replaced by its baseline (the train mean, the lab's ``drop``). All ``2^M`` coalitions are
evaluated in one batched pass (the coalitions stacked as rows, as the signal test stacks its permutations). From
them, per row: exact Shapley values, the Möbius (Harsanyi) terms and the interaction share; over the test set, the
subset table (accuracy and macro-F1 with each coalition kept); and EMAP (Hessel and Lee, EMNLP 2020), the best
additive approximation of the model's logits, whose accuracy beside the model's says whether the model is, in
effect, additive.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from sklearn.metrics import f1_score

from ..train import predict

MAX_MODALITIES = 8
OUTPUTS = ("margin", "logit", "logprob", "prob")
TARGETS = ("predicted", "true")
EMPTY = "∅"


@dataclass(frozen=True)
class AttributionConfig:
    """``output`` of the class ``target`` that a coalition's value is: the logit margin ``z_c − logsumexp_{k≠c}
    z_k`` (default), the logit, the log-probability or the probability; ``target``: the class predicted on the full
    input (default) or the true one. ``emap_rows``: EMAP's ``K`` random partner rows for more than two modalities."""

    output: str = "margin"
    target: str = "predicted"
    emap_rows: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got '{self.output}'")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got '{self.target}'")
        if self.emap_rows < 1:
            raise ValueError(f"emap_rows must be at least 1, got {self.emap_rows}")


def coalitions(names: Sequence[str]) -> List[Tuple[str, ...]]:
    """Every subset of ``names``, by size then in the modalities' order (the empty one first)."""
    if len(names) > MAX_MODALITIES:
        raise ValueError(f"attribution evaluates all 2^M coalitions; {len(names)} modalities would be "
                         f"{2 ** len(names):,} passes (at most {MAX_MODALITIES} modalities)")
    return [c for k in range(len(names) + 1) for c in itertools.combinations(names, k)]


def coalition_name(c: Sequence[str]) -> str:
    return "+".join(c) if c else EMPTY


def coalition_logits(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], baselines: Mapping[str, torch.Tensor],
                     subsets: Sequence[Tuple[str, ...]]) -> torch.Tensor:
    """``(len(subsets), N, C)`` logits: each coalition's inputs (the others at their baseline) stacked as rows of
    one pass (``predict`` batches them)."""
    n = len(next(iter(xs.values())))
    stacked = {}
    for k, x in xs.items():
        base = baselines[k].to(x.dtype).expand_as(x)
        stacked[k] = torch.cat([x if k in s else base for s in subsets])
    return predict(model, stacked).logits.view(len(subsets), n, -1)


def values_of(logits: torch.Tensor, classes: torch.Tensor, output: str) -> torch.Tensor:
    """``(S, N)``: each coalition's value for each row's class ``classes`` (``(N,)``)."""
    index = classes.view(1, -1, 1).expand(logits.shape[0], -1, 1)
    z = logits.double()
    chosen = z.gather(2, index).squeeze(2)
    if output == "logit":
        return chosen
    if output == "margin":
        others = z.scatter(2, index, float("-inf"))
        return chosen - torch.logsumexp(others, dim=2)
    logp = torch.log_softmax(z, dim=2).gather(2, index).squeeze(2)
    return logp if output == "logprob" else logp.exp()


def shapley(values: np.ndarray, subsets: Sequence[Tuple[str, ...]], names: Sequence[str]) -> np.ndarray:
    """``(N, M)`` exact Shapley values from ``(2^M, N)`` coalition values."""
    where = {frozenset(s): i for i, s in enumerate(subsets)}
    m = len(names)
    out = np.zeros((values.shape[1], m))
    for j, name in enumerate(names):
        for s in subsets:
            if name in s:
                continue
            weight = math.factorial(len(s)) * math.factorial(m - len(s) - 1) / math.factorial(m)
            out[:, j] += weight * (values[where[frozenset(s) | {name}]] - values[where[frozenset(s)]])
    return out


def mobius(values: np.ndarray, subsets: Sequence[Tuple[str, ...]]) -> np.ndarray:
    """``(2^M, N)`` Möbius (Harsanyi) terms: ``a(T) = Σ_{U ⊆ T} (−1)^{|T|−|U|} v(U)``."""
    where = {frozenset(s): i for i, s in enumerate(subsets)}
    out = np.zeros_like(values)
    for i, t in enumerate(subsets):
        for k in range(len(t) + 1):
            for u in itertools.combinations(t, k):
                out[i] += (-1) ** (len(t) - k) * values[where[frozenset(u)]]
    return out


def interaction_share(terms: np.ndarray, subsets: Sequence[Tuple[str, ...]]) -> float:
    """``Σ_{|T|≥2} mean |a(T)|  /  Σ_{T≠∅} mean |a(T)|``: 0 for an additive model (0 when nothing varies)."""
    mean_abs = np.abs(terms).mean(axis=1)
    size = np.array([len(s) for s in subsets])
    total = mean_abs[size >= 1].sum()
    return float(mean_abs[size >= 2].sum() / total) if total > 0 else 0.0


def emap_logits(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], rows: int = 256, seed: int = 0,
                chunk_rows: int = 8192) -> torch.Tensor:
    """EMAP's ``(N, C)`` additive logits: ``Σ_m g_m(x_{i,m}) − (M−1)·c`` with ``g_m(x_{i,m})`` the mean over
    partner rows ``j`` of ``f(x_{i,m}, x_{j,−m})`` and ``c`` the mean of the ``g``. Partners: every row for two
    modalities (Hessel and Lee's estimator, exact), else ``rows`` seeded random rows."""
    names = list(xs)
    n = len(next(iter(xs.values())))
    if len(names) == 2 or rows >= n:
        partners = torch.arange(n)
    else:
        partners = torch.from_numpy(np.random.default_rng(seed).choice(n, size=rows, replace=False))
    per = max(1, chunk_rows // len(partners))
    g = []
    for keep in names:
        parts = []
        for start in range(0, n, per):
            mine = torch.arange(start, min(n, start + per))
            own = mine.repeat_interleave(len(partners))  # row i's modality, with each partner's others
            other = partners.repeat(len(mine))
            pair = {k: xs[k][own] if k == keep else xs[k][other] for k in names}
            parts.append(predict(model, pair).logits.double().view(len(mine), len(partners), -1).mean(dim=1))
        g.append(torch.cat(parts))
    c = torch.stack([gm.mean(dim=0) for gm in g]).mean(dim=0)
    return sum(g) - (len(names) - 1) * c


@dataclass
class Attribution:
    """Every table of one attribution: per row and coalition, per row and modality, per coalition, and EMAP."""

    coalitions: pd.DataFrame  # row, coalition, value
    shapley: pd.DataFrame  # row, modality, phi
    interactions: pd.DataFrame  # row, coalition, mobius
    subsets: pd.DataFrame  # coalition, accuracy, macro_f1
    emap: Dict[str, float]  # accuracy, emap_accuracy, interaction_share
    correct: Optional[np.ndarray] = None  # per row: the model right (full input)
    emap_correct: Optional[np.ndarray] = None  # per row: EMAP's additive copy right


def attribute(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], baselines: Mapping[str, torch.Tensor],
              y: torch.Tensor, cfg: AttributionConfig = AttributionConfig(), with_emap: bool = True) -> Attribution:
    """The attribution of ``model`` on test rows ``xs`` (corrupted or not) with labels ``y``."""
    names = list(xs)
    subsets = coalitions(names)
    logits = coalition_logits(model, xs, baselines, subsets)
    full = logits[-1]  # the last coalition keeps every modality
    classes = full.argmax(dim=1) if cfg.target == "predicted" else torch.as_tensor(y)
    v = values_of(logits, classes, cfg.output).numpy()
    phi, terms = shapley(v, subsets, names), mobius(v, subsets)
    n = v.shape[1]
    labels = [coalition_name(s) for s in subsets]
    rows = np.arange(n)
    y_np = np.asarray(y)
    subset_rows = []
    for i, s in enumerate(subsets[1:], start=1):
        pred = logits[i].argmax(dim=1).numpy()
        subset_rows.append({"coalition": labels[i], "accuracy": float((pred == y_np).mean()),
                            "macro_f1": float(f1_score(y_np, pred, average="macro", labels=list(range(logits.shape[2])),
                                                       zero_division=0))})
    correct = full.argmax(dim=1).numpy() == y_np
    emap = {"accuracy": float(correct.mean()), "interaction_share": interaction_share(terms, subsets)}
    emap_correct = None
    if with_emap and len(names) >= 2:
        emap_correct = emap_logits(model, xs, cfg.emap_rows, cfg.seed).argmax(dim=1).numpy() == y_np
        emap["emap_accuracy"] = float(emap_correct.mean())
    return Attribution(
        pd.DataFrame({"row": np.tile(rows, len(subsets)), "coalition": np.repeat(labels, n), "value": v.ravel()}),
        pd.DataFrame({"row": np.repeat(rows, len(names)), "modality": np.tile(names, n), "phi": phi.ravel()}),
        pd.DataFrame({"row": np.tile(rows, len(subsets) - 1), "coalition": np.repeat(labels[1:], n),
                      "mobius": terms[1:].ravel()}),
        pd.DataFrame(subset_rows), emap, correct, emap_correct)


def attribute_data(model: torch.nn.Module, data, levels: Mapping[str, float] = {}, noise: str = "mix", seed: int = 0,
                   cfg: AttributionConfig = AttributionConfig(), with_emap: bool = True) -> Attribution:
    """``attribute`` on a prepared test set, each modality corrupted at ``levels`` of ``noise`` first (as the
    sliders corrupt it), the baselines the train means (``data.stats``)."""
    from ..noise import corrupt_modalities
    xs = corrupt_modalities(data.test.xs, dict(levels), noise, seed, data.stats)
    return attribute(model, xs, {k: s.mean for k, s in data.stats.items()}, data.test.y, cfg, with_emap)
