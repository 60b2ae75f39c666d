"""Reliability permutation diagnostic: does a quality score change any fused decision?

docs/methods.md, reliability permutation test, the reliability paper ("When Does Quality-Aware Multimodal Fusion Matter? A
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
logit ``Σ_m softmax(W [M; Q] + b)_m log p_m``; ``M`` is the availability mask, and the router is
fitted by L-BFGS on the cross-entropy of the fused train prediction, on the experts' out-of-fold
train outputs; **[choice]** from two starts, keeping the lower penalised loss, see :func:`fit_router`;
``router_fit="adam"`` fits it as the authors' script does instead: Adam, 800 full-batch steps of rate 0.01 from
one start of sd 0.01, penalty 1e-4, on the fully observed train rows).

**Availability masks** (docs/methods.md, reliability permutation test): ``Scored.present`` marks, per split, row and modality, whether
the modality is there (default: everywhere). Rules renormalise over the present modalities, the
router sees ``[M; Q]``, Broken-Q permutes ``Q_m`` only among the rows where ``m`` is present (the
authors' "present-only" permutation; a joint permutation moves only rows present in every modality,
**[choice]**), and the metric counts all test rows or, with ``observed_only``, the fully observed ones
(the authors' FULL-only evaluation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.metrics import accuracy_score

from .. import rng
from ..limits import MAX_PERMUTATIONS
from ..registry import Registry
from ..threads import thread_budget
from ..train import TrainConfig, make_optimizer, train_loop
from . import refuse
from ..experts import ExpertBank
from .quality import Scored
from .permutation_draws import permutation_chunks, permutation_indices  # noqa: F401  (re-exported)

RULES: Registry = Registry("fusion rule")


ROUTE_TIES = ("split", "first")  # [choice] split: tied experts share the weight; first: the authors' argmax
# [choice] how the moe router is fitted: lbfgs (ours: L-BFGS from two starts, every train row) | adam (the
# authors' script: Adam, ADAM_STEPS full-batch steps at ADAM_RATE from one start, the fully observed train rows)
ROUTER_FITS = ("lbfgs", "adam")
ROUTER_L2 = {"lbfgs": 1e-3, "adam": 1e-4}  # the penalty l2 * ||W||^2 when router_l2 is None
ADAM_STEPS, ADAM_RATE = 800, 0.01


@dataclass(frozen=True)
class PermutationConfig:
    permutations: int = 200
    joint: bool = False  # one permutation shared by all modalities
    tau: float = 0.1
    seed: int = 0
    chunk: int = 100  # permutations fused at once (bounds memory)
    observed_only: bool = False  # metrics on the fully observed test rows only (the authors' FULL-only)
    route_ties: str = "split"  # route: experts tied at the top Q share the weight; "first": the first takes it all
    router_fit: str = "lbfgs"  # the moe router's fit (ROUTER_FITS)
    router_l2: Optional[float] = None  # its penalty on W; None: ROUTER_L2[router_fit]
    router_start: Optional[int] = None  # adam: the seed of its start (None: seed; the authors' is seed * 100 + fold)

    @property
    def l2(self) -> float:
        return ROUTER_L2[self.router_fit] if self.router_l2 is None else float(self.router_l2)

    def __post_init__(self) -> None:
        if not 1 <= self.permutations <= MAX_PERMUTATIONS:
            raise ValueError(f"permutations must be in [1, {MAX_PERMUTATIONS:,}], got {self.permutations}")
        if not (np.isfinite(self.tau) and self.tau > 0):
            raise ValueError(f"tau must be a positive number, got {self.tau}")
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")
        if self.route_ties not in ROUTE_TIES:
            raise ValueError(f"route_ties must be one of {ROUTE_TIES}, got '{self.route_ties}'")
        if self.router_fit not in ROUTER_FITS:
            raise ValueError(f"router_fit must be one of {ROUTER_FITS}, got '{self.router_fit}'")
        if self.router_l2 is not None and not (np.isfinite(self.router_l2) and 0 <= self.router_l2 <= 10):
            raise ValueError(f"router_l2 must lie in [0, 10], got {self.router_l2}")


@dataclass
class Router:
    """``moe`` gate: ``softmax(W [M; Q] + b)`` over modalities; ``W`` is ``(M, 2M)``."""

    W: np.ndarray
    b: np.ndarray

    def weights(self, q: np.ndarray, present: Optional[np.ndarray] = None) -> np.ndarray:
        """Gate weights ``(N, M)`` for quality ``q`` ``(N, M)`` (and availability ``present``)."""
        return weights("moe", q, self, present=present)


@dataclass(frozen=True)
class Rule:
    code: int  # the rule's branch in :func:`.refuse.rule_weights`
    space: str  # "prob": mix posteriors; "log": mix log-posteriors


for _name, _code, _space, _doc in [
    ("noq", refuse.NOQ, "prob", "plain mean of posteriors; ignores Q"),
    ("weighted", refuse.WEIGHTED, "prob", "posteriors weighted by Q normalised per row"),
    ("softmax", refuse.SOFTMAX, "prob", "posteriors weighted by softmax(Q / tau)"),
    ("route", refuse.ROUTE, "prob", "the expert with the highest Q"),
    ("moe", refuse.MOE, "log", "router trained on train rows mixes log-posteriors"),
]:
    RULES.register(_name, _doc)(Rule(_code, _space))


def _rule_args(rule: str, m: int, router: Optional[Router], cfg: PermutationConfig):
    """The compiled kernels' rule arguments for ``m`` modalities: code, tau, W, b."""
    code = RULES.get(rule).code
    if code == refuse.ROUTE and cfg.route_ties == "first":
        code = refuse.ROUTE_FIRST
    if code == refuse.MOE and router is None:
        raise ValueError("the 'moe' rule needs a router fitted on train rows")
    W, b = (router.W, router.b) if code == refuse.MOE else (np.zeros((m, 2 * m)), np.zeros(m))
    return code, float(cfg.tau), np.ascontiguousarray(W, np.float64), np.ascontiguousarray(b, np.float64)


def availability(present: Optional[np.ndarray], shape) -> np.ndarray:
    """``present`` as a float ``(N, M)`` array of 0 / 1 (all ones when None); every row needs one."""
    if present is None:
        return np.ones(shape)
    a = np.asarray(present, dtype=np.float64)
    if a.shape != tuple(shape):
        raise ValueError(f"availability has shape {a.shape}; expected {tuple(shape)}")
    empty = np.nonzero(a.sum(1) == 0)[0]
    if len(empty):
        raise ValueError(f"{len(empty)} row(s) have no modality present (first rows: {empty[:5].tolist()})")
    return a


def _class_scores(rule: str, probs: np.ndarray, a: Optional[np.ndarray] = None) -> np.ndarray:
    """What the rule mixes, class-major for the kernels: posteriors or log-posteriors ``(C, M, N)``.
    A missing modality's posterior (weight 0 in every rule) is read as uniform, so it stays finite."""
    probs = np.asarray(probs, dtype=np.float64)
    if a is not None and (a == 0).any():
        probs = np.where(a[..., None] > 0, np.nan_to_num(probs, nan=0.0), 1.0 / probs.shape[-1])
    src = probs if RULES.get(rule).space == "prob" else np.log(np.clip(probs, 1e-300, None))
    return np.ascontiguousarray(src.transpose(2, 1, 0))


def weights(rule: str, q: np.ndarray, router: Optional[Router] = None,
            cfg: PermutationConfig = PermutationConfig(), present: Optional[np.ndarray] = None) -> np.ndarray:
    """A rule's fusion weights ``(N, M)`` over modalities for quality ``q`` ``(N, M)``."""
    q = np.asarray(q, dtype=np.float64)
    a = availability(present, q.shape)
    code, tau, W, b = _rule_args(rule, q.shape[1], router, cfg)
    qT, aT, out = np.ascontiguousarray(q.T), np.ascontiguousarray(a.T), np.empty((q.shape[1], len(q)))
    refuse.rule_weights(code, qT, aT, len(q), tau, W, b, out)
    return out.T


def fit_router(logits: np.ndarray, q: np.ndarray, y: np.ndarray, seed: int = 0, l2: Optional[float] = None,
               present: Optional[np.ndarray] = None, method: str = "lbfgs") -> Router:
    """Fit the ``moe`` router on train rows: ``logits`` ``(N, M, C)``, ``q`` ``(N, M)``, ``y`` ``(N,)``,
    availability ``present`` ``(N, M)`` (the router's ``M`` input; a missing modality gets weight 0).
    The loss: the cross-entropy of the fused prediction plus ``l2 * ||W||^2`` (``l2`` None: ``ROUTER_L2``).

    ``method="lbfgs"`` (ours): a full-batch problem solved by scipy's L-BFGS-B (as scikit-learn fits its logistic
    regressions), the gradient from torch's autograd; it is not a training loop. The loss is not convex in
    ``(W, b)``: from a start near zero, L-BFGS can drive an expert that is often wrong off through its
    bias (``b ≈ -8``), where the softmax leaves no gradient for the weights on ``Q`` — on the corruption
    control the router then ignored ``Q`` (Δ 0.000, p 1.0 on a synthetic split) although a router
    that gates on ``Q`` fits the same train rows better. **[choice]** So it starts twice — near zero,
    and at a router that already follows ``Q`` (``W_Q = 10 I``, ``b = -10``: weight ~0 where ``Q = 0``)
    — and keeps the start whose penalised train loss is lower (a criterion on train rows only).

    ``method="adam"`` (the reliability paper's authors' script): torch's Adam, ``ADAM_STEPS`` full-batch steps at
    rate ``ADAM_RATE`` from one start, ``W`` drawn as ``0.01 * randn(2M, M)`` by numpy's legacy generator seeded
    ``seed`` (transposed to our ``(M, 2M)``), ``b = 0``, on the train rows where every modality is present. For two
    classes the loss is theirs: ``Σ_m w_m log p_m`` over the classes is their ``sigmoid(Σ_m w_m logit p_m)``.
    """
    if logits.shape[:2] != q.shape or len(y) != len(q):
        raise ValueError(f"router inputs disagree: logits {logits.shape}, Q {q.shape}, labels {y.shape}")
    if method not in ROUTER_FITS:
        raise ValueError(f"router fit must be one of {ROUTER_FITS}, got '{method}'")
    l2 = ROUTER_L2[method] if l2 is None else float(l2)
    n, m = q.shape
    a = availability(present, q.shape)
    if method == "adam":
        rows = a.min(1) > 0
        if not rows.any():
            raise ValueError("no train row has every modality present: the authors' router trains on those rows")
        logits, q, y, a = logits[rows], q[rows], np.asarray(y)[rows], a[rows]
    logp = torch.as_tensor(log_softmax(logits, axis=-1))
    feats = torch.as_tensor(np.concatenate([a, q], axis=1))  # (N, 2M)
    absent = torch.as_tensor(a == 0)
    target = torch.as_tensor(y)

    def loss_of(W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        w = torch.softmax((feats @ W.T + b).masked_fill(absent, float("-inf")), dim=1)  # (N, M)
        fused = torch.einsum("nm,nmc->nc", w, logp.masked_fill(absent[..., None], 0.0))
        return torch.nn.functional.cross_entropy(fused, target) + l2 * (W ** 2).sum()

    if method == "adam":
        W = torch.as_tensor(0.01 * np.random.RandomState(seed).randn(2 * m, m).T.copy()).requires_grad_()
        b = torch.zeros(m, dtype=torch.float64, requires_grad=True)
        train_loop(_RouterLearner(W, b, loss_of), ADAM_TRAINING)  # the lab's one engine: 800 full-batch steps
        return Router(W.detach().numpy().copy(), b.detach().numpy().copy())

    def loss_and_grad(theta: np.ndarray):
        t = torch.as_tensor(theta).requires_grad_()
        loss = loss_of(t[:2 * m * m].view(m, 2 * m), t[2 * m * m:])
        loss.backward()
        return float(loss.detach()), t.grad.numpy().copy()

    near_zero = np.concatenate([0.01 * rng.numpy_rng(seed).standard_normal(m * 2 * m), np.zeros(m)])
    gated = near_zero.copy()
    gated[:2 * m * m].reshape(m, 2 * m)[:, m:] += 10.0 * np.eye(m)
    gated[2 * m * m:] = -10.0
    fits = [minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", options={"maxiter": 100})
            for start in (near_zero, gated)]
    theta = min(fits, key=lambda r: r.fun).x  # the first on a tie
    return Router(theta[:2 * m * m].reshape(m, 2 * m), theta[2 * m * m:])


# the authors' router training as the engine's config: Adam is AdamW without weight decay (the penalty is in the
# loss, on W only, as theirs); one full-batch step per "epoch", every step kept
ADAM_TRAINING = TrainConfig(epochs=ADAM_STEPS, lr=ADAM_RATE, weight_decay=0.0, optimizer="adamw", patience=None,
                            keep="last")


class _RouterLearner:
    """The router fit as a learner of ``train.train_loop``: one run, one full-batch step per epoch."""

    runs = 1

    def __init__(self, W: torch.Tensor, b: torch.Tensor, loss_of) -> None:
        self.W, self.b, self.loss_of = W, b, loss_of
        self.optimizer = make_optimizer([W, b], ADAM_TRAINING)
        self.last = torch.zeros(1)

    def batches(self, epoch: int):
        return [None]

    def gradients(self, batch):
        loss = self.loss_of(self.W, self.b)
        loss.backward()
        self.last = loss.detach().reshape(1)
        return self.last, 1

    def validate(self):
        return self.last, torch.zeros(1)  # nothing held out: the fit is on train rows only

    def keep(self, better) -> None:
        """The last step is kept (``keep="last"``)."""

    def restore(self) -> None:
        """Nothing to restore."""


def decide(rule: str, probs: np.ndarray, q: np.ndarray, router: Optional[Router],
           cfg: PermutationConfig, present: Optional[np.ndarray] = None) -> np.ndarray:
    """Fused decisions ``(K, N)`` (argmax class, first on ties) for ``K`` quality arrays ``q`` ``(N, K, M)``;
    ``probs`` ``(N, M, C)``; availability ``present`` ``(N, M)``."""
    a = availability(present, probs.shape[:2])
    code, tau, W, b = _rule_args(rule, probs.shape[1], router, cfg)
    S = _class_scores(rule, probs, a)
    Q = np.ascontiguousarray(np.asarray(q, dtype=np.float64).transpose(1, 2, 0))  # (K, M, N)
    with thread_budget():  # this caller's share of the cores (sessions run side by side)
        return refuse.decisions(code, S, Q, np.ascontiguousarray(a.T), tau, W, b)


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


def p_value(null: np.ndarray, clean: float) -> float:
    """``(1 + #{k : metric_k >= metric_clean}) / (K + 1)``."""
    return float((1 + np.sum(null >= clean)) / (len(null) + 1))


def counted_labels(y: np.ndarray, a: np.ndarray, cfg: PermutationConfig) -> np.ndarray:
    """The labels the metric counts: all rows, or (``observed_only``) the fully observed ones (-1 elsewhere)."""
    y = np.asarray(y, dtype=np.int64)
    if not cfg.observed_only:
        return y
    full = a.min(1) > 0
    if not full.any():
        raise ValueError("no test row has every modality present: the fully-observed metric has no rows")
    return np.where(full, y, -1)


def _null_metrics(rule, probs, q, y, router, cfg, n_classes, present=None) -> Dict[str, np.ndarray]:
    """Metrics of the ``K`` re-fusions with permuted ``Q``, computed in chunks of permutations."""
    n, m = q.shape
    a = availability(present, q.shape)
    code, tau, W, b = _rule_args(rule, m, router, cfg)
    S = _class_scores(rule, probs, a)
    qT, y = np.ascontiguousarray(np.asarray(q, dtype=np.float64).T), np.asarray(y, dtype=np.int64)
    if S.shape[0] > n_classes or len(y) != n or (len(y) and not 0 <= y.min() <= y.max() < n_classes):
        raise ValueError(f"{S.shape[0]} expert classes and labels in [{y.min()}, {y.max()}] do not fit "
                         f"{n_classes} classes, or {len(y)} labels for {n} rows")
    counted, aT = counted_labels(y, a, cfg), np.ascontiguousarray(a.T)
    out = {"balanced_accuracy": [], "macro_f1": []}
    with thread_budget():  # counts this caller once for the whole test ...
        for perms in permutation_chunks(n, m, cfg, None if present is None else a):  # (k, M or 1, N)
            with thread_budget():  # ... and re-reads its share before each kernel launch
                cm = refuse.null_confusions(code, S, qT, aT, counted, perms, tau, W, b, n_classes)  # (k, C, C)
            for key, v in metrics_from_counts(cm).items():
                out[key].append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def warm_kernels() -> None:
    """Compile (or load from numba's cache) every kernel the test uses, on a tiny input."""
    rng = np.random.default_rng(0)
    probs, q, y = softmax(rng.normal(size=(8, 2, 3)), -1), rng.uniform(size=(8, 2)), np.arange(8) % 3
    router = Router(np.zeros((2, 4)), np.zeros(2))
    for rule in RULES.names():
        decide(rule, probs, q[:, None], router, PermutationConfig())
        _null_metrics(rule, probs, q, y, router, PermutationConfig(permutations=2), 3)
    weights("weighted", q)
    shuffle = np.empty((1, 4), np.int32)
    refuse.shuffles(rng.random((1, 4)), shuffle)


def context(scored: Scored, y: np.ndarray, cfg: PermutationConfig = PermutationConfig()) -> Dict[str, float]:
    """Oracle accuracy (plain and balanced), ρ = mean_m corr(Q_m, 1[expert m correct]) and competitiveness (the
    median over rows of the top-1 minus top-2 true-class confidence among the experts, as the authors define it;
    ``competitiveness_mean`` the mean)
    on the test rows the metric counts (all, or the fully observed). The headroom the table reports is in
    balanced accuracy, the metric of Δ_perm (docs/methods.md, reliability permutation test). With availability masks the oracle picks among
    the present experts, ``corr(Q_m, ...)`` runs over the rows where ``m`` is present, and competitiveness
    over rows with two or more present experts.

    [choice] Where a correlation is undefined (``Q_m`` constant, or expert ``m`` always
    right or always wrong) it counts as 0 — such a ``Q_m`` says nothing about
    correctness — so ρ is always a mean over all M modalities.
    """
    logits, q = scored.logits["test"], scored.q["test"]
    a = availability(scored.mask("test"), q.shape) > 0
    rows = counted_labels(y, a.astype(float), cfg) >= 0
    logits, q, a, y = logits[rows], q[rows], a[rows], np.asarray(y)[rows]
    correct = (logits.argmax(-1) == y[:, None]) & a  # (N, M): a missing expert is never the right pick
    with np.errstate(invalid="ignore", divide="ignore"):
        cors = [np.corrcoef(q[a[:, j], j], correct[a[:, j], j].astype(float))[0, 1] if a[:, j].sum() > 1 else np.nan
                for j in range(q.shape[1])]
    cors = [c if np.isfinite(c) else 0.0 for c in cors]
    p_true = np.where(a, softmax(logits, -1)[np.arange(len(y)), :, y], -np.inf)  # (N, M)
    p_true = np.sort(p_true, axis=1)
    two = np.isfinite(p_true[:, -2]) if q.shape[1] > 1 else np.zeros(len(y), bool)
    gap = p_true[two, -1] - p_true[two, -2]
    comp = float(np.median(gap)) if two.any() else float("nan")  # the authors' per-run median
    comp_mean = float(gap.mean()) if two.any() else float("nan")
    any_right = correct.max(1).astype(float)  # (N,): the oracle picks a correct expert where one exists
    oracle_ba = float(np.mean([any_right[y == c].mean() for c in np.unique(y)]))  # in the metric of Δ_perm
    return {"oracle_accuracy": float(any_right.mean()), "oracle_balanced_accuracy": oracle_ba,
            "rho": float(np.mean(cors)) if cors else float("nan"), "competitiveness": comp,
            "competitiveness_mean": comp_mean}


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
    present = scored.mask("test")
    a = availability(present, q.shape)
    start = cfg.seed if cfg.router_start is None else cfg.router_start
    router = fit_router(scored.logits["train"], scored.q["train"], y_train, start, cfg.l2,
                        present=scored.mask("train"), method=cfg.router_fit)
    ctx = context(scored, y_test, cfg)
    counted = counted_labels(y_test, a, cfg) >= 0
    rows, nulls = [], []
    for rule in rules or RULES.names():
        pred = decide(rule, probs, q[:, None], router, cfg, present)  # (1, N)
        clean = {k: float(v[0]) for k, v in metrics_from_counts(
            confusion_counts(y_test[counted], pred[:, counted], n_classes)).items()}
        null = _null_metrics(rule, probs, q, y_test, router, cfg, n_classes, present)
        acc = float(accuracy_score(y_test[counted], pred[0, counted]))
        rows.append({"score": scored.name, "rule": rule, "control": scored.control,
                     "metric_clean": clean["balanced_accuracy"],
                     "metric_broken_mean": float(null["balanced_accuracy"].mean()),
                     "delta": float(np.mean(clean["balanced_accuracy"] - null["balanced_accuracy"])),
                     "p_value": p_value(null["balanced_accuracy"], clean["balanced_accuracy"]),
                     "f1_clean": clean["macro_f1"], "f1_broken_mean": float(null["macro_f1"].mean()),
                     "f1_delta": float(np.mean(clean["macro_f1"] - null["macro_f1"])),
                     "f1_p_value": p_value(null["macro_f1"], clean["macro_f1"]),
                     "accuracy": acc, "oracle_accuracy": ctx["oracle_accuracy"],
                     "oracle_headroom": ctx["oracle_balanced_accuracy"] - clean["balanced_accuracy"],
                     "rho": ctx["rho"],
                     "competitiveness": ctx["competitiveness"],
                     "competitiveness_mean": ctx["competitiveness_mean"], "permutations": cfg.permutations,
                     "joint": cfg.joint, "n_test": int(counted.sum()),
                     "observed_only": cfg.observed_only, "missing_share": float(1 - a.mean())})
        nulls.append(pd.DataFrame({"score": scored.name, "rule": rule, "k": np.arange(cfg.permutations),
                                   "metric_clean": clean["balanced_accuracy"], **null}))
    return PermutationResult(pd.DataFrame(rows), pd.concat(nulls, ignore_index=True))


def run_scores(bank: ExpertBank, scored: list, cfg: PermutationConfig = PermutationConfig()) -> PermutationResult:
    """:func:`broken_q_test` for several scores on one bank; tables concatenated."""
    parts = [broken_q_test(s, bank.y["train"], bank.y["test"], bank.n_classes, cfg) for s in scored]
    return PermutationResult(pd.concat([p.table for p in parts], ignore_index=True),
                             pd.concat([p.null for p in parts], ignore_index=True))


def q_vs_correct(scored: Scored, y: np.ndarray, names: list) -> pd.DataFrame:
    """Tidy test rows: ``score, modality, q, correct`` (for the Q-against-correctness figure), only where the
    modality is present (a missing one has no output to be right or wrong)."""
    correct = scored.logits["test"].argmax(-1) == y[:, None]
    mask = scored.mask("test")
    here = np.ones(correct.shape, bool) if mask is None else mask
    return pd.DataFrame({"score": scored.name, "control": scored.control,
                         "modality": np.repeat(np.array(names)[None], len(y), 0)[here],
                         "q": scored.q["test"][here], "correct": correct[here]})
