"""Robustness curves, modality removal and per-sample modality contributions.

The fusion-complexity paper evaluates noise on each modality alone and on all at once; the VGMR paper's §4.7
drops one modality at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ..data.dataset import PreparedData, Split
from ..data.lazy import chunk_size, chunks, is_mapped
from ..noise import corrupt_modalities, default_levels
from ..rng import sub_seed
from ..train import evaluate, metrics_from_probs, predict, scores

ALL = "all"


def noisy_metrics(model: torch.nn.Module, data: PreparedData, levels: Mapping[str, float], noise: str = "mix",
                  seed: int = 0, split: str = "test", **options) -> Dict[str, float]:
    """Metrics of a frozen model on ``split`` with each modality corrupted at its level. A split read from disk
    (``data.lazy``) is corrupted and predicted a chunk at a time, chunk ``i`` drawing its noise from
    ``sub_seed(seed, i)``: the same draws on every call, and memory bounded by the chunk, not the split."""
    part: Split = getattr(data, split)
    if is_mapped(part.xs):
        size, logits = chunk_size(part.xs), []
        for i, rows in enumerate(chunks(len(part), size)):
            xs = corrupt_modalities({k: v[rows] for k, v in part.xs.items()}, levels, noise, sub_seed(seed, i),
                                    data.stats, **options)
            logits.append(predict(model, xs).logits)
        return scores(torch.cat(logits), part.y)
    xs = corrupt_modalities(part.xs, levels, noise, seed, data.stats, **options)
    return evaluate(model, part, xs)


def robustness_curve(model: torch.nn.Module, data: PreparedData, noise: str = "mix",
                     levels: Optional[Sequence[float]] = None, seed: int = 0, fusion: str = "",
                     conditions: Optional[Sequence[str]] = None, **options) -> pd.DataFrame:
    """Test accuracy over a grid of levels, for each modality alone and for all together.

    Columns: ``fusion, condition, noise, level, accuracy, macro_f1, seed``; ``condition``
    is a modality name or ``'all'``.
    """
    levels = list(levels) if levels is not None else default_levels(noise)
    names = data.modality_names
    conditions = list(conditions) if conditions is not None else names + ([ALL] if len(names) > 1 else [])
    rows = []
    for cond in conditions:
        targets = names if cond == ALL else [cond]
        for lv in levels:
            m = noisy_metrics(model, data, {k: lv for k in targets}, noise, seed, **options)
            rows.append({"fusion": fusion, "condition": cond, "noise": noise, "level": float(lv),
                         "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "seed": seed})
    return pd.DataFrame(rows)


def modality_removal(model: torch.nn.Module, data: PreparedData, seed: int = 0) -> pd.DataFrame:
    """Accuracy with each modality dropped (replaced by its train mean), and with none.

    Columns: ``removed, accuracy, macro_f1, accuracy_drop``.
    """
    full = noisy_metrics(model, data, {}, "drop", seed)
    rows = [{"removed": "none", "accuracy": full["accuracy"], "macro_f1": full["macro_f1"], "accuracy_drop": 0.0}]
    for k in data.modality_names:
        m = noisy_metrics(model, data, {k: 1.0}, "drop", seed)
        rows.append({"removed": k, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "accuracy_drop": full["accuracy"] - m["accuracy"]})
    return pd.DataFrame(rows)


def modality_contributions(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], data: PreparedData) -> pd.DataFrame:
    """Per sample and modality: how much the predicted class's probability falls when
    that modality is dropped (occlusion). Columns ``row, modality, p_full, p_without,
    contribution``.
    """
    full = torch.softmax(predict(model, xs).logits, dim=1)
    pred = full.argmax(dim=1, keepdim=True)
    pf = full.gather(1, pred).squeeze(1).double().numpy()
    parts = []
    for k in data.modality_names:
        dropped = corrupt_modalities(xs, {k: 1.0}, "drop", 0, data.stats)
        pw = torch.softmax(predict(model, dropped).logits, dim=1).gather(1, pred).squeeze(1).double().numpy()
        parts.append(pd.DataFrame({"row": np.arange(len(pf)), "modality": k, "p_full": pf, "p_without": pw,
                                   "contribution": pf - pw}))
    return pd.concat(parts, ignore_index=True)


def noisy_predictions(model: torch.nn.Module, data: PreparedData, levels: Mapping[str, float], noise: str = "mix",
                      seed: int = 0, split: str = "test", **options):
    """Corrupted inputs and the frozen model's output on them: ``(xs, ModelOutput)``."""
    part: Split = getattr(data, split)
    xs = corrupt_modalities(part.xs, levels, noise, seed, data.stats, **options)
    return xs, predict(model, xs)


@dataclass
class NoisyEvaluation:
    """A frozen model on the corrupted test set: what a live view draws for one setting of the noise sliders."""

    xs: Dict[str, torch.Tensor]  # the corrupted inputs, standardised as the model sees them
    probs: np.ndarray  # (N, C) softmax of the logits
    y: np.ndarray  # (N,) true classes
    metrics: Dict[str, float]  # accuracy, macro_f1, roc_auc
    confusion: np.ndarray  # (C, C): rows true, columns predicted
    extras: Dict[str, torch.Tensor]  # the model's named intermediates (a gate...)

    def raw(self, data: PreparedData, i: int) -> Dict[str, np.ndarray]:
        """Test sample ``i``'s corrupted inputs on the raw scale (the train statistics undone)."""
        return {k: (v[i] * data.raw_stats[k].std + data.raw_stats[k].mean).numpy() for k, v in self.xs.items()}


def noisy_evaluation(model: torch.nn.Module, data: PreparedData, levels: Mapping[str, float], noise: str = "mix",
                     seed: int = 0) -> NoisyEvaluation:
    """``noisy_predictions`` on the test set, with its probabilities, metrics and confusion matrix."""
    from sklearn.metrics import confusion_matrix
    xs, out = noisy_predictions(model, data, levels, noise, seed)
    probs = torch.softmax(out.logits, dim=1).numpy()
    y = data.test.y.numpy()
    cm = confusion_matrix(y, probs.argmax(1), labels=list(range(data.n_classes)))
    return NoisyEvaluation(xs, probs, y, metrics_from_probs(y, probs), cm, dict(out.extras))


def relative_robustness(levels: Sequence[float], accuracy: Sequence[float]) -> float:
    """MultiBench's relative robustness (docs/methods.md, corruptions and robustness): the area under the accuracy curve over the
    level grid divided by the grid's width, so a flat curve scores its accuracy."""
    x, f = np.asarray(levels, dtype=float), np.asarray(accuracy, dtype=float)
    order = np.argsort(x)
    x, f = x[order], f[order]
    if len(x) < 2 or x[-1] == x[0]:
        raise ValueError(f"a robustness summary needs at least two distinct levels, got {list(levels)}")
    return float(np.trapezoid(f, x) / (x[-1] - x[0]))


def effective_robustness(levels: Sequence[float], accuracy: Sequence[float], baseline: Sequence[float]) -> float:
    """MultiBench's effective robustness against a baseline curve on the same grid (docs/methods.md, corruptions and robustness),
    unnormalised: ``mean_i [(f_i - f_0) - (b_i - b_0)]``, ``l_0`` the lowest level."""
    x = np.asarray(levels, dtype=float)
    f, b = np.asarray(accuracy, dtype=float), np.asarray(baseline, dtype=float)
    if not len(x) == len(f) == len(b) or len(x) < 2:
        raise ValueError("the method's and the baseline's curves need the same grid of at least two levels")
    first = int(np.argmin(x))
    return float(np.mean((f - f[first]) - (b - b[first])))
