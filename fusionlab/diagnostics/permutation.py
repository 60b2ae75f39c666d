"""Reliability permutation diagnostic: does a quality score change any fused decision?

METHODS.md §5, seed 000 ("When Does Quality-Aware Multimodal Fusion Matter? A
Leakage-Safe Diagnostic for Decision-Level Dependence"). Frozen experts
(:mod:`.experts`) and quality scores ``Q`` (:mod:`.quality`) are fused by frozen rules;
then ``Q`` is permuted across test rows ``K`` times (independently per modality, or one
joint permutation) and the rules re-fuse the *cached* expert outputs:

``Δ_perm = metric(clean Q) - mean_k metric(broken Q)``,
``p = (1 + #{k : metric_k >= metric_clean}) / (K + 1)``.

All ``K`` permuted ``Q`` arrays are fused at once (einsum over chunks of permutations);
balanced accuracy and macro-F1 are computed for all of them from confusion counts
(tested equal to scikit-learn's ``balanced_accuracy_score`` / ``f1_score(average="macro")``).

Rules: ``noq`` (mean posterior), ``weighted`` (``Q`` normalised per row, uniform where it
sums to 0), ``softmax`` (``softmax(Q / τ)``, ``τ = 0.1``), ``route`` (the expert with the
highest ``Q``; **[choice]** tied experts share the weight equally — quantile-scaled scores
are often clipped to 1 for several experts at once), ``moe`` (a router trained on train rows: fused
logit ``Σ_m softmax(W [M; Q] + b)_m log p_m``; **[choice]** ``M`` is the availability mask,
all ones here, and the router is fitted by L-BFGS on the cross-entropy of the fused
train prediction, on the experts' out-of-fold train outputs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np
import pandas as pd
import torch
from scipy.special import log_softmax, softmax
from sklearn.metrics import accuracy_score

from ..registry import Registry
from .experts import ExpertBank
from .quality import Scored

RULES: Registry = Registry("fusion rule")


@dataclass(frozen=True)
class PermutationConfig:
    permutations: int = 200
    joint: bool = False  # one permutation shared by all modalities
    tau: float = 0.1
    seed: int = 0
    chunk: int = 100  # permutations fused at once (bounds memory)


@dataclass
class Router:
    """``moe`` gate: ``softmax(W [M; Q] + b)`` over modalities; ``W`` is ``(M, 2M)``."""

    W: np.ndarray
    b: np.ndarray

    def weights(self, q: np.ndarray) -> np.ndarray:
        feats = np.concatenate([np.ones_like(q), q], axis=-1)  # (..., N, 2M): [mask; Q]
        return softmax(feats @ self.W.T + self.b, axis=-1)  # (..., N, M)


@dataclass(frozen=True)
class Rule:
    weights: Callable  # (q (..., M), router, cfg) -> weights (..., M) over modalities
    space: str  # "prob": mix posteriors; "log": mix log-posteriors


def _noq(q, router, cfg):
    return np.full(q.shape, 1.0 / q.shape[-1])


def _msum(a):
    return sum(a[..., j] for j in range(a.shape[-1]))[..., None]  # sum over the short last axis, fast


def _weighted(q, router, cfg):
    total = _msum(q)
    zero = total == 0  # q >= 0: all zero, so the row becomes uniform
    return (q + zero / q.shape[-1]) / (total + zero)


def _softmax(q, router, cfg):
    return softmax(q / cfg.tau, axis=-1)


def _route(q, router, cfg):
    top = (q == q.max(-1, keepdims=True)).astype(float)  # the highest Q; ties share the weight
    return top / _msum(top)


def _moe(q, router, cfg):
    return router.weights(q)


for _name, _fn, _space, _doc in [
    ("noq", _noq, "prob", "plain mean of posteriors; ignores Q"),
    ("weighted", _weighted, "prob", "posteriors weighted by Q normalised per row"),
    ("softmax", _softmax, "prob", "posteriors weighted by softmax(Q / tau)"),
    ("route", _route, "prob", "the expert with the highest Q"),
    ("moe", _moe, "log", "router trained on train rows mixes log-posteriors"),
]:
    RULES.register(_name, _doc)(Rule(_fn, _space))


def fit_router(logits: np.ndarray, q: np.ndarray, y: np.ndarray, seed: int = 0, l2: float = 1e-3) -> Router:
    """Fit the ``moe`` router on train rows: ``logits`` ``(N, M, C)``, ``q`` ``(N, M)``, ``y`` ``(N,)``."""
    if logits.shape[:2] != q.shape or len(y) != len(q):
        raise ValueError(f"router inputs disagree: logits {logits.shape}, Q {q.shape}, labels {y.shape}")
    m = q.shape[1]
    gen = torch.Generator().manual_seed(seed)
    W = (0.01 * torch.randn(m, 2 * m, generator=gen, dtype=torch.float64)).requires_grad_()
    b = torch.zeros(m, dtype=torch.float64, requires_grad=True)
    logp = torch.as_tensor(log_softmax(logits, axis=-1))
    feats = torch.as_tensor(np.concatenate([np.ones_like(q), q], axis=1))  # (N, 2M)
    target = torch.as_tensor(y)
    opt = torch.optim.LBFGS([W, b], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        w = torch.softmax(feats @ W.T + b, dim=1)  # (N, M)
        fused = torch.einsum("nm,nmc->nc", w, logp)
        loss = torch.nn.functional.cross_entropy(fused, target) + l2 * (W ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return Router(W.detach().numpy(), b.detach().numpy())


def fused_scores(rule: str, probs: np.ndarray, q: np.ndarray, router: Optional[Router],
                 cfg: PermutationConfig) -> np.ndarray:
    """Fused class scores ``(N, K, C)`` for ``K`` quality arrays ``q`` ``(N, K, M)``; ``probs`` ``(N, M, C)``."""
    r: Rule = RULES.get(rule)
    w = r.weights(q, router, cfg)  # (N, K, M)
    src = probs if r.space == "prob" else np.log(np.clip(probs, 1e-300, None))
    return np.matmul(w, src)  # (N, K, M) @ (N, M, C) -> (N, K, C)


def decide(rule: str, probs: np.ndarray, q: np.ndarray, router: Optional[Router],
           cfg: PermutationConfig) -> np.ndarray:
    """Fused decisions ``(K, N)`` (argmax class) for ``K`` quality arrays ``q`` ``(N, K, M)``."""
    return fused_scores(rule, probs, q, router, cfg).argmax(-1).T


def permuted_q(q: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``out[n, k, m] = q[idx[k, m, n], m]``: ``q`` ``(N, M)``, ``idx`` ``(K, M, N)`` -> ``(N, K, M)``."""
    m = q.shape[1]
    flat = idx * m + np.arange(m)[None, :, None]  # (K, M, N) positions in q.ravel()
    return np.take(q.ravel(), flat.transpose(2, 0, 1))  # (N, K, M)


def confusion_counts(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrices ``(K, C, C)`` (rows true, columns predicted) of ``pred`` ``(K, N)``."""
    k = pred.shape[0]
    idx = (np.arange(k)[:, None] * n_classes + y[None, :]) * n_classes + pred  # (K, N)
    return np.bincount(idx.ravel(), minlength=k * n_classes * n_classes).reshape(k, n_classes, n_classes)


def metrics_from_counts(cm: np.ndarray) -> Dict[str, np.ndarray]:
    """Balanced accuracy and macro-F1 per matrix, as scikit-learn computes them.

    Balanced accuracy: mean recall over classes present in ``y``. Macro-F1: mean of
    ``2 tp / (2 tp + fp + fn)`` over classes present in ``y`` or in the prediction.
    """
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)  # (K, C)
    support, predicted = cm.sum(2), cm.sum(1)
    present = support > 0
    recall = np.where(present, tp / np.maximum(support, 1), 0.0)
    bal = recall.sum(1) / present.sum(1)
    denom = support + predicted  # 2 tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return {"balanced_accuracy": bal, "macro_f1": f1.sum(1) / (denom > 0).sum(1)}


def permutation_chunks(n: int, m: int, cfg: PermutationConfig):
    """Yield ``(k, M, N)`` row indices, ``cfg.chunk`` permutations at a time; independent per
    modality or one shared (``joint``) permutation. The draws do not depend on the chunk size."""
    rng = np.random.default_rng(cfg.seed)
    for start in range(0, cfg.permutations, cfg.chunk):
        k = min(cfg.chunk, cfg.permutations - start)
        perms = rng.permuted(np.broadcast_to(np.arange(n), (k, 1 if cfg.joint else m, n)), axis=-1)
        yield np.broadcast_to(perms, (k, m, n))


def permutation_indices(n: int, m: int, cfg: PermutationConfig) -> np.ndarray:
    """All ``(K, M, N)`` permutations of :func:`permutation_chunks` at once."""
    return np.concatenate(list(permutation_chunks(n, m, cfg)))


def p_value(null: np.ndarray, clean: float) -> float:
    """``(1 + #{k : metric_k >= metric_clean}) / (K + 1)``."""
    return float((1 + np.sum(null >= clean)) / (len(null) + 1))


def _null_metrics(rule, probs, q, y, router, cfg, n_classes) -> Dict[str, np.ndarray]:
    """Metrics of the ``K`` re-fusions with permuted ``Q``, computed in chunks of permutations."""
    n, m = q.shape
    out = {"balanced_accuracy": [], "macro_f1": []}
    for idx in permutation_chunks(n, m, cfg):  # (k, M, N)
        pred = decide(rule, probs, permuted_q(q, idx), router, cfg)  # (k, N)
        for key, v in metrics_from_counts(confusion_counts(y, pred, n_classes)).items():
            out[key].append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def context(scored: Scored, y: np.ndarray) -> Dict[str, float]:
    """Oracle accuracy, ρ = mean_m corr(Q_m, 1[expert m correct]) and competitiveness on test rows.

    [choice] Where a correlation is undefined (``Q_m`` constant, or expert ``m`` always
    right or always wrong) it counts as 0 — such a ``Q_m`` says nothing about
    correctness — so ρ is always a mean over all M modalities.
    """
    logits, q = scored.logits["test"], scored.q["test"]
    correct = (logits.argmax(-1) == y[:, None]).astype(float)  # (N, M)
    with np.errstate(invalid="ignore", divide="ignore"):
        cors = [np.corrcoef(q[:, j], correct[:, j])[0, 1] for j in range(q.shape[1])]
    cors = [c if np.isfinite(c) else 0.0 for c in cors]
    p_true = np.sort(softmax(logits, -1)[np.arange(len(y)), :, y], axis=1)  # (N, M) ascending
    comp = float((p_true[:, -1] - p_true[:, -2]).mean()) if q.shape[1] > 1 else float("nan")
    return {"oracle_accuracy": float(correct.max(1).mean()), "rho": float(np.mean(cors)) if cors else float("nan"),
            "competitiveness": comp}


@dataclass
class PermutationResult:
    """``table``: one row per (score, rule); ``null``: tidy K broken metrics per (score, rule)."""

    table: pd.DataFrame
    null: pd.DataFrame


def broken_q_test(scored: Scored, y_train: np.ndarray, y_test: np.ndarray, n_classes: int,
                  cfg: PermutationConfig = PermutationConfig(), rules=None) -> PermutationResult:
    """Fuse with clean ``Q``, then with ``K`` permuted copies; Δ_perm and p per rule."""
    if cfg.permutations < 1:
        raise ValueError(f"need at least one permutation, got {cfg.permutations}")
    probs, q = softmax(scored.logits["test"], axis=-1), scored.q["test"]  # (N, M, C), (N, M)
    if probs.shape[:2] != q.shape or len(y_test) != len(q):
        raise ValueError(f"test outputs {probs.shape}, Q {q.shape} and labels {y_test.shape} disagree")
    router = fit_router(scored.logits["train"], scored.q["train"], y_train, cfg.seed)
    ctx = context(scored, y_test)
    rows, nulls = [], []
    for rule in rules or RULES.names():
        pred = decide(rule, probs, q[:, None], router, cfg)  # (1, N)
        clean = {k: float(v[0]) for k, v in metrics_from_counts(confusion_counts(y_test, pred, n_classes)).items()}
        null = _null_metrics(rule, probs, q, y_test, router, cfg, n_classes)
        acc = float(accuracy_score(y_test, pred[0]))
        rows.append({"score": scored.name, "rule": rule, "control": scored.control,
                     "metric_clean": clean["balanced_accuracy"],
                     "metric_broken_mean": float(null["balanced_accuracy"].mean()),
                     "delta": float(np.mean(clean["balanced_accuracy"] - null["balanced_accuracy"])),
                     "p_value": p_value(null["balanced_accuracy"], clean["balanced_accuracy"]),
                     "f1_clean": clean["macro_f1"], "f1_broken_mean": float(null["macro_f1"].mean()),
                     "f1_delta": float(np.mean(clean["macro_f1"] - null["macro_f1"])),
                     "f1_p_value": p_value(null["macro_f1"], clean["macro_f1"]),
                     "accuracy": acc, "oracle_accuracy": ctx["oracle_accuracy"],
                     "oracle_headroom": ctx["oracle_accuracy"] - acc, "rho": ctx["rho"],
                     "competitiveness": ctx["competitiveness"], "permutations": cfg.permutations,
                     "joint": cfg.joint, "n_test": len(y_test)})
        nulls.append(pd.DataFrame({"score": scored.name, "rule": rule, "k": np.arange(cfg.permutations),
                                   "metric_clean": clean["balanced_accuracy"], **null}))
    return PermutationResult(pd.DataFrame(rows), pd.concat(nulls, ignore_index=True))


def run_scores(bank: ExpertBank, scored: list, cfg: PermutationConfig = PermutationConfig()) -> PermutationResult:
    """:func:`broken_q_test` for several scores on one bank; tables concatenated."""
    parts = [broken_q_test(s, bank.y["train"], bank.y["test"], bank.n_classes, cfg) for s in scored]
    return PermutationResult(pd.concat([p.table for p in parts], ignore_index=True),
                             pd.concat([p.null for p in parts], ignore_index=True))


def q_vs_correct(scored: Scored, y: np.ndarray, names: list) -> pd.DataFrame:
    """Tidy test rows: ``score, modality, q, correct`` (for the Q-against-correctness figure)."""
    correct = scored.logits["test"].argmax(-1) == y[:, None]
    return pd.DataFrame({"score": scored.name, "control": scored.control,
                         "modality": np.repeat(np.array(names)[None], len(y), 0).ravel(),
                         "q": scored.q["test"].ravel(), "correct": correct.ravel()})
