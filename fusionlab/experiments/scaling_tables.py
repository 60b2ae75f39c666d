"""The fusion-complexity paper's measurement stage: a trained unit's rows of the score, ROC and robustness tables, and the
summary over seeds (``fusionlab.experiments.scaling`` trains the units and assembles the result)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Sequence, Tuple

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.preprocessing import label_binarize

from ..batched import BatchedFit
from ..data import PreparedData
from ..noise import corrupt_modalities

if TYPE_CHECKING:  # annotations only: scaling.py imports this module
    from .scaling import ScalingConfig

ALL = "all"
FPR_GRID = np.linspace(0.0, 1.0, 101)


def roc_rows(y: np.ndarray, probs: np.ndarray) -> Tuple[np.ndarray, float]:
    """TPR on ``FPR_GRID`` and AUC (binary, or micro-averaged one-vs-rest)."""
    n_classes = probs.shape[1]
    if n_classes == 2:
        truth, score = y, probs[:, 1]
    else:
        truth, score = label_binarize(y, classes=list(range(n_classes))).ravel(), probs.ravel()
    if len(np.unique(truth)) < 2:
        return np.full_like(FPR_GRID, np.nan), float("nan")
    fpr, tpr, _ = roc_curve(truth, score)
    return np.interp(FPR_GRID, fpr, tpr), float(roc_auc_score(truth, score))


def score_rows(fit: BatchedFit, data: PreparedData, fusion: str, label: str, size: int, params: int):
    """Every seed's score row and ROC curve on the clean test set."""
    probs = torch.softmax(fit.predict(data.test.xs), dim=-1).numpy()  # (S, N, C)
    y = data.test.y.numpy()
    scores, rocs = [], []
    for i, s in enumerate(fit.seeds):
        tpr, auc = roc_rows(y, probs[i])
        scores.append({"fusion": fusion, "label": label, "size": size, "seed": s,
                       "val_accuracy": float(fit.best_val_accuracy[i]),
                       "test_accuracy": float((probs[i].argmax(1) == y).mean()), "test_auc": auc,
                       "best_epoch": int(fit.best_epoch[i]), "params": params})
        rocs.append(pd.DataFrame({"fusion": fusion, "size": size, "seed": s, "fpr": FPR_GRID, "tpr": tpr}))
    return scores, rocs


def robustness_rows(fit: BatchedFit, data: PreparedData, fusion: str, noise: str,
                    levels: Sequence[float]) -> pd.DataFrame:
    """Test accuracy of every seed's best model with noise on each modality alone and on all.

    The noise for seed ``s`` is drawn from a generator seeded by ``s`` (as the
    Playground's ``robustness_curve`` does for a model trained with seed ``s``).
    """
    names = data.modality_names
    conditions = names + ([ALL] if len(names) > 1 else [])
    y = data.test.y
    rows = []
    for cond in conditions:
        targets = names if cond == ALL else [cond]
        for lv in levels:
            xs = [corrupt_modalities(data.test.xs, {k: lv for k in targets}, noise, s, data.stats) for s in fit.seeds]
            acc = (fit.predict_each(xs).argmax(-1) == y).float().mean(1)  # (S,)
            rows += [{"fusion": fusion, "condition": cond, "noise": noise, "level": float(lv),
                      "accuracy": float(a), "seed": s} for s, a in zip(fit.seeds, acc)]
    return pd.DataFrame(rows)


def emap_rows(fit: BatchedFit, data: PreparedData, fusion: str, label: str, size: int) -> pd.DataFrame:
    """Each seed's model beside EMAP, its best additive copy, on the clean test set, and its interaction share
    (``diagnostics.attribution``, docs/methods.md "Modality attribution and interaction")."""
    from ..diagnostics.attribution import attribute
    base = {k: s.mean for k, s in data.stats.items()}
    rows = []
    for i, s in enumerate(fit.seeds):
        e = attribute(fit.model(i), data.test.xs, base, data.test.y).emap
        rows.append({"fusion": fusion, "label": label, "size": size, "seed": s, "accuracy": e["accuracy"],
                     "emap_accuracy": e["emap_accuracy"], "interaction_share": e["interaction_share"]})
    return pd.DataFrame(rows)


def fit_tables(data: PreparedData, cfg: ScalingConfig, fusion: str, n: int, label: str, fit: BatchedFit,
               n_params: int, robust_size: int) -> Dict[str, pd.DataFrame]:
    """One unit's rows of every table from its trained seeds (what ``reopen`` recomputes from a bundle)."""
    s, r = score_rows(fit, data, fusion, label, n, n_params)
    out = {"scaling": pd.DataFrame(s), "roc": pd.concat(r, ignore_index=True),
           "params": pd.DataFrame([{"fusion": fusion, "params": n_params}])}
    if n == robust_size:
        out["robustness"] = robustness_rows(fit, data, fusion, cfg.noise, cfg.levels)
    if cfg.attribution:
        out["emap"] = emap_rows(fit, data, fusion, label, n)
    return out


def seed_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of each fusion's and size's validation and test accuracy and test ROC-AUC."""
    cols = ["val_accuracy", "test_accuracy", "test_auc"]
    if scores.empty:
        return pd.DataFrame(columns=["fusion", "size"] + [f"{c}_{s}" for c in cols for s in ("mean", "std")])
    out = scores.groupby(["fusion", "size"])[cols].agg(["mean", "std"])
    out.columns = [f"{c}_{s}" for c, s in out.columns]
    return out.reset_index()
