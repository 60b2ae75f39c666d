"""Training: ``fit()`` with a per-epoch callback, best-validation checkpoint and
early stopping; evaluation with scikit-learn's metrics.

Randomness comes only from ``TrainConfig.seed``: the batch order from a
``torch.Generator`` (see ``batch_order``), dropout from a forked, seeded RNG.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from .data.dataset import PreparedData, Split
from .models import ModelOutput, seeded


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: Optional[int] = 10  # epochs without validation gain before stopping; None: never
    seed: int = 0


@dataclass
class EpochInfo:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    seconds: float
    run: str = ""  # which of several trainings this epoch belongs to (e.g. "pe, seed 1"), if there are several
    overall: Optional[float] = None  # fraction of all those trainings done, for one progress bar over them


@dataclass
class FitResult:
    model: torch.nn.Module
    history: pd.DataFrame  # epoch, train_loss, val_loss, val_accuracy, seconds
    best_epoch: int
    best_val_accuracy: float
    stopped_early: bool
    stopped_by_user: bool


Callback = Callable[[EpochInfo], Optional[bool]]


def batch_order(n: int, batch_size: int, generator: torch.Generator) -> List[torch.Tensor]:
    """One epoch's shuffled mini-batches of row indices (drawn from ``generator``)."""
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(batch_size))


def _forward(model, xs) -> ModelOutput:
    out = model(xs)
    return out if isinstance(out, ModelOutput) else ModelOutput(out, {})


@torch.no_grad()
def predict(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], batch_size: int = 1024) -> ModelOutput:
    """Logits and extras for all rows of ``xs`` (evaluation mode, no gradient)."""
    was_training = model.training
    model.eval()
    n = len(next(iter(xs.values())))
    outs = [_forward(model, {k: v[i:i + batch_size] for k, v in xs.items()}) for i in range(0, n, batch_size)]
    model.train(was_training)
    logits = torch.cat([o.logits for o in outs])
    extras = {k: torch.cat([o.extras[k] for o in outs]) for k in outs[0].extras if outs[0].extras[k].ndim > 0}
    return ModelOutput(logits, extras)


def metrics_from_probs(y: np.ndarray, probs: np.ndarray) -> Dict[str, float]:
    """Accuracy, macro-F1 and ROC-AUC (one-vs-rest; NaN when a class is absent from ``y``)."""
    pred = probs.argmax(axis=1)
    n_classes = probs.shape[1]
    out = {"accuracy": float(accuracy_score(y, pred)),
           "macro_f1": float(f1_score(y, pred, average="macro", labels=list(range(n_classes)), zero_division=0))}
    if len(np.unique(y)) < n_classes:  # ROC-AUC is undefined for a class absent from y
        out["roc_auc"] = float("nan")
    elif n_classes == 2:
        out["roc_auc"] = float(roc_auc_score(y, probs[:, 1]))
    else:
        out["roc_auc"] = float(roc_auc_score(y, probs, multi_class="ovr", labels=list(range(n_classes))))
    return out


def evaluate(model: torch.nn.Module, split: Split, xs: Optional[Mapping[str, torch.Tensor]] = None) -> Dict[str, float]:
    """Metrics of ``model`` on ``split`` (optionally on corrupted inputs ``xs``)."""
    out = predict(model, xs if xs is not None else split.xs)
    probs = torch.softmax(out.logits, dim=1).numpy()
    res = metrics_from_probs(split.y.numpy(), probs)
    res["loss"] = float(F.cross_entropy(out.logits, split.y).item())
    return res


def _loss(model, xs, y) -> torch.Tensor:
    out = _forward(model, xs)
    loss = F.cross_entropy(out.logits, y)
    extra = getattr(model, "extra_loss", None)
    if extra is not None:
        add = extra(xs, y, out)
        if add is not None:
            loss = loss + add
    return loss


def make_optimizer(params: Iterable[torch.Tensor], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, as one fused kernel over all parameters where torch has it: a small model's step is
    otherwise mostly per-tensor optimiser overhead."""
    try:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - older torch without a fused CPU kernel
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


def fit(model: torch.nn.Module, data: PreparedData, cfg: TrainConfig = TrainConfig(),
        callback: Optional[Callback] = None) -> FitResult:
    """Train with AdamW; keep the best-validation-accuracy weights.

    ``callback(info)`` runs after every epoch; returning ``False`` stops training
    (the page's Stop button). The returned model holds the best epoch's weights.
    """
    if cfg.epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {cfg.epochs}")
    opt = make_optimizer(model.parameters(), cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    rows: List[dict] = []
    best_acc, best_epoch, best_state = -1.0, 0, copy.deepcopy(model.state_dict())
    stale, stopped_early, stopped_by_user = 0, False, False
    tr = data.train
    with seeded(cfg.seed):
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            total, count = 0.0, 0
            for idx in batch_order(len(tr), cfg.batch_size, gen):
                xs = {k: v[idx] for k, v in tr.xs.items()}
                loss = _loss(model, xs, tr.y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.item()) * len(idx)
                count += len(idx)
            val = evaluate(model, data.val)
            info = EpochInfo(epoch, cfg.epochs, total / count, val["loss"], val["accuracy"], time.perf_counter() - t0)
            rows.append(vars(info).copy())
            if val["accuracy"] > best_acc:
                best_acc, best_epoch, stale = val["accuracy"], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
            if callback is not None and callback(info) is False:
                stopped_by_user = True
                break
            if cfg.patience is not None and stale >= cfg.patience:
                stopped_early = True
                break
    model.load_state_dict(best_state)
    model.eval()
    history = pd.DataFrame(rows).drop(columns=["epochs"])
    return FitResult(model, history, best_epoch, best_acc, stopped_early, stopped_by_user)
