"""Frozen per-modality experts for decision-level fusion (docs/methods.md, reliability permutation test, the reliability paper).

One scikit-learn classifier per modality (``logreg`` by default, a small ``mlp`` as an
option), trained on the train rows only and then frozen. Their logits and
probabilities are computed once per split and cached in an :class:`ExpertBank`, so
the reliability permutation test re-fuses cached outputs and never runs an expert
again.

**[choice]** The learned quality scores and the ``moe`` router must be fitted on
train rows whose expert outputs look like test outputs; an expert's predictions on
its own training rows are nearly always correct. The bank therefore also keeps
*out-of-fold* train outputs (``oof_folds`` stratified folds, a fresh copy of the
expert per fold); ``oof_folds=0`` uses the in-sample outputs instead.

Fitting them is training (scikit-learn's), so they live here, beside ``train.py``, not in ``diagnostics/``
(which measures trained models and trains nothing). The corruption that makes quality matter (a fraction of one
modality's rows, train and test alike) is ``noise.RowCorruption``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import torch
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier

from .data.dataset import ModalityStats, MultimodalDataset, PreparedData, Split, fit_all, split_of, unit_stats
from .data.lazy import materialise
from .registry import Registry

EXPERTS: Registry = Registry("expert")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ExpertConfig:
    """Which classifier each modality gets, and how train outputs are produced."""

    kind: str = "logreg"
    C: float = 1.0
    hidden: int = 32
    max_iter: int = 500
    oof_folds: int = 5  # out-of-fold train outputs for the learned scores / router; 0 = in-sample
    seed: int = 0


@EXPERTS.register("logreg", "multinomial logistic regression")
def make_logreg(cfg: ExpertConfig):
    return LogisticRegression(C=cfg.C, max_iter=cfg.max_iter)


@EXPERTS.register("mlp", "one-hidden-layer MLP (ReLU)")
def make_mlp(cfg: ExpertConfig):
    return MLPClassifier(hidden_layer_sizes=(cfg.hidden,), max_iter=cfg.max_iter, random_state=cfg.seed,
                         alpha=1e-3)


def flatten(x: torch.Tensor) -> np.ndarray:
    """``(N, T, D)`` -> ``(N, T*D)`` float64 array for scikit-learn."""
    arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return arr.reshape(arr.shape[0], -1).astype(np.float64)  # (N, T*D)


def expert_logits(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Pre-softmax scores ``(N, C)`` of a fitted expert, on all ``n_classes`` columns.

    Classes the expert never saw get a very low logit. For the MLP the forward pass
    is written out from ``coefs_`` (scikit-learn exposes no decision function).
    """
    if isinstance(model, MLPClassifier):
        a = x
        for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
            a = a @ w + b
            if i < len(model.coefs_) - 1:
                a = np.maximum(a, 0.0)
        raw = a if a.shape[1] > 1 else np.hstack([np.zeros_like(a), a])
    else:
        raw = model.decision_function(x)
        raw = raw[:, None] if raw.ndim == 1 else raw
        raw = np.hstack([np.zeros_like(raw), raw]) if raw.shape[1] == 1 else raw
    out = np.full((x.shape[0], n_classes), -1e9)
    out[:, model.classes_] = raw
    return out


@dataclass
class ExpertBank:
    """Frozen experts and their cached outputs: ``logits[split]`` is ``(N, M, C)``."""

    names: List[str]
    models: Dict[str, object]
    logits: Dict[str, np.ndarray]
    y: Dict[str, np.ndarray]
    x: Dict[str, Dict[str, np.ndarray]]  # split -> modality -> (N, T*D)
    clean: Dict[str, np.ndarray]  # split -> (N, M) bool: row not corrupted by point 5
    cfg: ExpertConfig
    n_classes: int
    severity: Dict[str, np.ndarray] = field(default_factory=dict)  # split -> (N, M) point-5 levels
    present: Dict[str, np.ndarray] = field(default_factory=dict)  # split -> (N, M) bool; {}: all present
    user_q: Dict[str, np.ndarray] = field(default_factory=dict)  # split -> (N, M): Q given with your outputs

    def mask(self, split: str) -> np.ndarray:
        """``(N, M)`` bool: where each modality is present (all True without masks)."""
        if split in self.present:
            return self.present[split]
        return np.ones((len(self.y[split]), len(self.names)), bool)

    def probs(self, split: str) -> np.ndarray:
        return softmax(self.logits[split], axis=-1)  # (N, M, C)

    def log_probs(self, split: str) -> np.ndarray:
        return log_softmax(self.logits[split], axis=-1)

    def correct(self, split: str) -> np.ndarray:
        """``1[expert m is correct]`` per row, ``(N, M)`` (uses that split's labels); 0 where ``m`` is missing."""
        return ((self.logits[split].argmax(-1) == self.y[split][:, None]) & self.mask(split)).astype(float)


def present_of(split: Split, names: List[str]) -> np.ndarray:
    """``(N, M)`` bool availability of a split: ``extras['present_<m>']`` where a dataset or the ``missing``
    corruption set it, True elsewhere."""
    return np.stack([np.asarray(split.extras.get(f"present_{k}", np.ones(len(split), bool)), bool)
                     for k in names], 1)


def _oof_logits(proto, x: np.ndarray, y: np.ndarray, cfg: ExpertConfig, n_classes: int, full=None) -> np.ndarray:
    """Out-of-fold logits of ``proto`` on the train rows. A logistic regression starts each fold from ``full``'s
    solution (the expert fitted on all train rows): its L2-penalised loss has one optimum, so this only saves
    iterations (fitting the folds from zero took half of the page's first result)."""
    folds, counts = cfg.oof_folds, np.bincount(y)
    if folds < 2 or counts[counts > 0].min() < folds:
        raise ValueError(f"out-of-fold experts need at least {cfg.oof_folds} train rows per class; "
                         f"class counts are {counts.tolist()} (set oof_folds=0)")
    out = np.zeros((len(y), n_classes))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=cfg.seed).split(x, y):
        model = clone(proto)
        if isinstance(model, LogisticRegression) and full is not None and np.array_equal(np.unique(y[tr]), full.classes_):
            model.set_params(warm_start=True)
            model.coef_, model.intercept_ = full.coef_.copy(), full.intercept_.copy()
        out[te] = expert_logits(model.fit(x[tr], y[tr]), x[te], n_classes)
    return out


def _inputs(data: PreparedData):
    names = data.modality_names
    xs = {s: {k: flatten(v) for k, v in materialise(getattr(data, s).xs).items()} for s in SPLITS}  # read whole
    ys = {s: getattr(data, s).y.numpy() for s in SPLITS}
    present = {s: present_of(getattr(data, s), names) for s in SPLITS}
    return xs, ys, present


def fit_experts(data: PreparedData, cfg: ExpertConfig = ExpertConfig()) -> ExpertBank:
    """Fit one expert per modality on ``data.train`` and cache train / test outputs.

    A modality's expert is fitted on the train rows where it is present and run on the present rows
    only; its logits are 0 (a uniform posterior, weight 0 in every rule) where it is missing."""
    names, c = data.modality_names, data.n_classes
    xs, ys, present = _inputs(data)
    models, oof = {}, {}
    for j, k in enumerate(names):
        proto = EXPERTS.create(cfg.kind, cfg)
        tr = present["train"][:, j]
        if len(np.unique(ys["train"][tr])) < 2:
            raise ValueError(f"modality '{k}' is present on train rows of {len(np.unique(ys['train'][tr]))} "
                             "class(es); its expert needs two or more")
        models[k] = clone(proto).fit(xs["train"][k][tr], ys["train"][tr])
        if cfg.oof_folds:
            oof[k] = np.zeros((len(ys["train"]), c))
            oof[k][tr] = _oof_logits(proto, xs["train"][k][tr], ys["train"][tr], cfg, c, models[k])
    return bank_of(data, cfg, models, oof)


def bank_of(data: PreparedData, cfg: ExpertConfig, models: Dict[str, object], oof: Dict[str, np.ndarray]) -> ExpertBank:
    """The bank of fitted ``models`` (one per modality): test outputs from each expert on its present rows, train
    outputs ``oof[m]`` (the out-of-fold ones) or, with ``cfg.oof_folds = 0``, the expert's own."""
    names, c = data.modality_names, data.n_classes
    xs, ys, present = _inputs(data)
    logits = {s: [] for s in SPLITS}
    for j, k in enumerate(names):
        out = {s: np.zeros((len(ys[s]), c)) for s in SPLITS}
        te, tr = present["test"][:, j], present["train"][:, j]
        out["test"][te] = expert_logits(models[k], xs["test"][k][te], c)
        if cfg.oof_folds:
            out["train"] = oof[k]
        else:
            out["train"][tr] = expert_logits(models[k], xs["train"][k][tr], c)
        for s in SPLITS:
            logits[s].append(out[s])
    severity = {s: np.stack([getattr(data, s).extras.get(f"severity_{k}", np.zeros(len(ys[s]))) for k in names], 1)
                for s in SPLITS}
    masks = {s: present[s] for s in SPLITS} if not all(present[s].all() for s in SPLITS) else {}
    return ExpertBank(names, models, {s: np.stack(v, axis=1) for s, v in logits.items()}, ys, xs,
                      {s: severity[s] == 0 for s in SPLITS}, cfg, c, severity, masks)  # logits (N, M, C)


def expert_state(bank: ExpertBank) -> Dict[str, torch.Tensor]:
    """The experts as tensors (a run bundle's weights; no pickle): ``<m>/classes`` and a logistic regression's
    ``<m>/coef``, ``<m>/intercept`` or an MLP's ``<m>/layer<i>.weight``, ``.bias``; with out-of-fold train
    outputs also ``<m>/oof`` (the fold experts' outputs: five more models each, kept as what they gave)."""
    out = {}
    for k, m in bank.models.items():
        out[f"{k}/classes"] = torch.as_tensor(np.asarray(m.classes_, np.int64))
        if isinstance(m, MLPClassifier):
            for i, (w, b) in enumerate(zip(m.coefs_, m.intercepts_)):
                out[f"{k}/layer{i}.weight"], out[f"{k}/layer{i}.bias"] = torch.as_tensor(w), torch.as_tensor(b)
        else:
            out[f"{k}/coef"], out[f"{k}/intercept"] = torch.as_tensor(m.coef_), torch.as_tensor(m.intercept_)
        if bank.cfg.oof_folds:
            out[f"{k}/oof"] = torch.as_tensor(bank.logits["train"][:, bank.names.index(k)])
    return out


def bank_from_state(data: PreparedData, cfg: ExpertConfig, state: Dict[str, torch.Tensor]) -> ExpertBank:
    """``expert_state``'s inverse on ``data`` (the split the experts were fitted on): the bank, its test outputs
    recomputed from the experts' weights. Names, shapes and classes are checked against the data and ``cfg``."""
    names, c = data.modality_names, data.n_classes
    dims = {k: flatten(data.test.xs[k][:1]).shape[1] for k in names}
    n_train = len(data.train)
    if cfg.kind == "mlp":
        want = {k: {f"{k}/layer{i}.{p}" for i in range(2) for p in ("weight", "bias")} for k in names}
    else:
        want = {k: {f"{k}/coef", f"{k}/intercept"} for k in names}
    want = {k: v | {f"{k}/classes"} | ({f"{k}/oof"} if cfg.oof_folds else set()) for k, v in want.items()}
    every = set().union(*want.values())
    missing, extra = sorted(every - set(state)), sorted(set(state) - every)
    if missing or extra:
        raise ValueError(f"the experts' weights do not fit the config's {cfg.kind} experts on {names}: missing "
                         f"{missing[:3]}, unexpected {extra[:3]}")
    models, oof = {}, {}
    for k in names:
        classes = state[f"{k}/classes"].numpy()
        if classes.ndim != 1 or not 2 <= len(classes) <= c or len(set(classes.tolist())) != len(classes) \
                or classes.min() < 0 or classes.max() >= c:
            raise ValueError(f"expert '{k}' names classes {classes.tolist()[:5]}; the data have {c}")
        nc = len(classes)
        out_dim = 1 if nc == 2 else nc
        if cfg.kind == "mlp":
            shapes = {f"{k}/layer0.weight": (dims[k], cfg.hidden), f"{k}/layer0.bias": (cfg.hidden,),
                      f"{k}/layer1.weight": (cfg.hidden, out_dim), f"{k}/layer1.bias": (out_dim,)}
        else:
            shapes = {f"{k}/coef": (out_dim, dims[k]), f"{k}/intercept": (out_dim,)}
        if cfg.oof_folds:
            shapes[f"{k}/oof"] = (n_train, c)
        for name, shape in shapes.items():
            v = state[name]
            if tuple(v.shape) != shape or v.dtype != torch.float64 or not torch.isfinite(v).all():
                raise ValueError(f"weight '{name}' is {tuple(v.shape)} {v.dtype}; the experts need {shape} "
                                 "torch.float64, finite")
        model = EXPERTS.create(cfg.kind, cfg)
        model.classes_ = classes
        if cfg.kind == "mlp":
            model.coefs_ = [state[f"{k}/layer{i}.weight"].numpy() for i in range(2)]
            model.intercepts_ = [state[f"{k}/layer{i}.bias"].numpy() for i in range(2)]
        else:
            model.coef_, model.intercept_ = state[f"{k}/coef"].numpy(), state[f"{k}/intercept"].numpy()
            model.n_features_in_ = dims[k]
        models[k] = model
        if cfg.oof_folds:
            oof[k] = state[f"{k}/oof"].numpy()
    return bank_of(data, cfg, models, oof)


def fold_data(ds: MultimodalDataset, train: np.ndarray, test: np.ndarray) -> PreparedData:
    """Standardise with ``train`` rows' statistics; ``test`` is a stratified fold (no validation rows)."""
    raw: Dict[str, ModalityStats] = fit_all(ds, train)
    return PreparedData(split_of(ds, train, raw), split_of(ds, train[:0], raw), split_of(ds, test, raw),
                        unit_stats(raw), raw, list(ds.class_names), ds.name)
