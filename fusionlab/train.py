"""The one training engine: every training in fusionlab runs ``train_loop`` (this file's only
``optimizer.step()``).

- ``fit(model, data, cfg, objective, callback, stop)`` trains one model; ``batched_fit``
  (``fusionlab.batched``) trains S seeds of one architecture at once through the same loop, the
  same ``TrainConfig``, the same callbacks, and gives each seed the same ``FitResult``.
- What differs between trainings is an ``Objective``: the default is the cross-entropy plus the
  model's own ``extra_loss`` (VGMR's value target and regulariser); UDML's progressive schedule,
  intensity-labelled noise and loss terms are ``objectives.UDMLObjective``.
- ``callback(info)`` runs after every epoch (live charts, progress); it or ``stop()`` returning
  True/False ends training after that epoch (the page's Stop button).
- Randomness comes only from ``TrainConfig.seed``: its sub-streams (``rng.streams``) give the
  batch order, the dropout masks (installed for this thread only, ``rng.using``) and the
  objective's noise. Evaluation uses scikit-learn's metrics.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from . import rng
from .data.lazy import chunk_size
from .data.dataset import PreparedData, Split
from .models import ModelOutput

STREAMS = ("order", "dropout", "objective")  # one run's sub-streams, in SeedSequence.spawn order
KEEP = ("best", "last")
OPTIMIZERS = ("adamw", "sgd")
TIMING = ["seconds", "train_seconds"]  # wall-clock columns of a history: the only ones that differ between runs
MAX_EPOCHS = 10_000
MAX_BATCH = 1_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and loop settings shared by every training; validated on creation."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: Optional[int] = 10  # epochs without validation gain before stopping; None: never
    seed: int = 0
    keep: str = "best"  # best: the best-validation epoch's weights; last: the final epoch's
    optimizer: str = "adamw"  # adamw (the lab's) | sgd (with momentum; the UDML authors' code)
    momentum: float = 0.9  # sgd only
    lr_steps: Tuple[int, ...] = ()  # after each of these many epochs the learning rate is multiplied by lr_decay
    lr_decay: float = 0.1
    clip_norm: Optional[float] = None  # the gradient's total norm clipped to this before every step; None: never

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got '{self.optimizer}'")
        if not (np.isfinite(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum}")
        object.__setattr__(self, "lr_steps", tuple(int(m) for m in self.lr_steps))
        if len(self.lr_steps) > 100 or any(not 1 <= m <= MAX_EPOCHS for m in self.lr_steps):
            raise ValueError(f"lr_steps must be at most 100 epoch counts in [1, {MAX_EPOCHS}], got {self.lr_steps}")
        if not (np.isfinite(self.lr_decay) and 0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay}")
        if self.clip_norm is not None and not (np.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise ValueError(f"clip_norm must be > 0 or None, got {self.clip_norm}")
        if not 1 <= self.epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be in [1, {MAX_EPOCHS}], got {self.epochs}")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (np.isfinite(self.lr) and self.lr >= 0):
            raise ValueError(f"lr must be a number >= 0, got {self.lr}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.keep not in KEEP:
            raise ValueError(f"keep must be one of {KEEP}, got '{self.keep}'")


@dataclass
class EpochInfo:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    seconds: float  # the whole epoch, validation included
    train_seconds: float = 0.0  # the optimisation steps only
    run: str = ""  # which of several trainings this epoch belongs to (e.g. "pe, seed 1"), if there are several
    overall: Optional[float] = None  # fraction of all those trainings done, for one progress bar over them


@dataclass
class FitResult:
    model: torch.nn.Module
    history: pd.DataFrame  # epoch, train_loss, val_loss, val_accuracy, seconds, train_seconds
    best_epoch: int
    best_val_accuracy: float
    stopped_early: bool
    stopped_by_user: bool


Callback = Callable[[EpochInfo], Optional[bool]]
Stop = Callable[[], bool]


def batch_order(n: int, batch_size: int, generator: torch.Generator) -> List[torch.Tensor]:
    """One epoch's shuffled mini-batches of row indices (drawn from ``generator``)."""
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(batch_size))


def forward(model, xs) -> ModelOutput:
    out = model(xs)
    return out if isinstance(out, ModelOutput) else ModelOutput(out, {})


@torch.no_grad()
def predict(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], batch_size: int = 1024) -> ModelOutput:
    """Logits and extras for all rows of ``xs`` (evaluation mode, no gradient); inputs read from disk
    (``data.lazy``) in chunks of at most ``CHUNK_BYTES``."""
    was_training = model.training
    model.eval()
    n = len(next(iter(xs.values())))
    batch_size = min(batch_size, chunk_size(xs, batch_size))
    outs = [forward(model, {k: v[i:i + batch_size] for k, v in xs.items()}) for i in range(0, n, batch_size)]
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
    return scores(predict(model, xs if xs is not None else split.xs).logits, split.y)


def scores(logits: torch.Tensor, y: torch.Tensor) -> Dict[str, float]:
    """``metrics_from_probs`` of ``logits`` against ``y``, and the cross-entropy ``loss``."""
    res = metrics_from_probs(y.numpy(), torch.softmax(logits, dim=1).numpy())
    res["loss"] = float(F.cross_entropy(logits, y).item())
    return res


def make_optimizer(params: Iterable[torch.Tensor], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, as one fused kernel over all parameters where torch has it: a small model's step is
    otherwise mostly per-tensor optimiser overhead; or SGD with momentum (``cfg.optimizer``)."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, foreach=True)
    try:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - older torch without a fused CPU kernel
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


# -- what differs between trainings --------------------------------------------------------------
class Objective:
    """The hooks of one kind of training. The default: cross-entropy plus ``model.extra_loss``."""

    def start(self, model: torch.nn.Module, data: PreparedData, generator: torch.Generator) -> None:
        """Once, before the first epoch; ``generator`` is the run's own stream for the objective."""

    def epoch(self, model: torch.nn.Module, epoch: int) -> None:
        """At the start of every epoch (a schedule changes the model's mode here)."""

    def batch(self, xs: Dict[str, torch.Tensor], y: torch.Tensor, rows: torch.Tensor,
              epoch: int) -> Tuple[Dict[str, torch.Tensor], Any]:
        """The training batch the model sees (e.g. with noise added) and a context for ``loss``."""
        return xs, None

    def loss(self, model: torch.nn.Module, xs: Mapping[str, torch.Tensor], y: torch.Tensor, context: Any) -> torch.Tensor:
        out = forward(model, xs)
        loss = F.cross_entropy(out.logits, y)
        extra = getattr(model, "extra_loss", None)
        add = extra(xs, y, out) if extra is not None else None
        return loss if add is None else loss + add

    def finish(self, model: torch.nn.Module) -> None:
        """After the last epoch (the kept weights are loaded by then)."""


class Learner(Protocol):
    """What ``train_loop`` drives: ``runs`` trainings stepped together by one optimiser."""

    runs: int
    optimizer: torch.optim.Optimizer

    def batches(self, epoch: int) -> Iterable[Any]: ...

    def gradients(self, batch: Any) -> Tuple[torch.Tensor, int]:
        """Fill every parameter's ``.grad`` for ``batch``; per-run losses ``(runs,)`` and the batch size."""

    def validate(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-run validation loss and accuracy, ``(runs,)`` each."""

    def keep(self, better: torch.Tensor) -> None:
        """Remember the current weights of the runs where ``better`` ``(runs,)`` is True."""

    def restore(self) -> None:
        """Load the remembered weights."""


@dataclass
class LoopResult:
    history: List[List[dict]]  # per run: one row per epoch
    best_epoch: np.ndarray  # (runs,)
    best_val_accuracy: np.ndarray  # (runs,)
    stopped_early: bool
    stopped_by_user: bool


def epoch_lr(cfg: TrainConfig, epoch: int) -> float:
    """The learning rate of epoch ``epoch`` (1-based): ``lr`` times ``lr_decay`` for each of ``lr_steps`` already
    passed (``[70]``: epochs 71 on at a tenth, as the UDML authors' MultiStepLR)."""
    return cfg.lr * cfg.lr_decay ** sum(epoch > m for m in cfg.lr_steps)


def train_loop(learner: Learner, cfg: TrainConfig, callback: Optional[Callback] = None,
               stop: Optional[Stop] = None) -> LoopResult:
    """Epochs of shuffled mini-batches, validation, best-epoch bookkeeping, patience and Stop.

    With ``keep="best"`` each run keeps its strictly best validation accuracy's weights and stops
    after ``patience`` epochs without a gain (the others go on); with ``keep="last"`` the final
    epoch's weights are kept and patience does not apply.
    """
    S = learner.runs
    best_acc = torch.full((S,), -1.0)
    best_epoch = torch.zeros(S, dtype=torch.long)
    stale = torch.zeros(S, dtype=torch.long)
    active = torch.ones(S, dtype=torch.bool)
    history: List[List[dict]] = [[] for _ in range(S)]
    stopped_early = stopped_by_user = False
    params = [p for g in learner.optimizer.param_groups for p in g["params"]]
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        for group in learner.optimizer.param_groups:  # a step schedule (MultiStepLR's): decayed after each milestone
            group["lr"] = epoch_lr(cfg, epoch)
        total, count = torch.zeros(S), 0
        for batch in learner.batches(epoch):
            learner.optimizer.zero_grad(set_to_none=True)
            loss, n = learner.gradients(batch)
            if not bool(torch.isfinite(loss).all()):  # else NaN weights end in a library's message far from here
                raise ValueError(f"training diverged: the loss is not finite at epoch {epoch} (lower the learning "
                                 "rate" + (", or clip the gradient" if cfg.clip_norm is None else "") + ")")
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm)
            learner.optimizer.step()
            total += loss.detach() * n
            count += n
        train_s = time.perf_counter() - t0
        val_loss, val_acc = learner.validate()
        if cfg.keep == "best":
            better = active & (val_acc > best_acc)
            learner.keep(better)
            stale = torch.where(better, torch.zeros_like(stale), stale + 1)
            if cfg.patience is not None:
                active &= stale < cfg.patience
        else:
            better = active
        best_acc = torch.where(better, val_acc, best_acc)
        best_epoch = torch.where(better, torch.full_like(best_epoch, epoch), best_epoch)
        seconds = time.perf_counter() - t0
        train_loss = total / max(count, 1)
        for i in range(S):
            history[i].append({"epoch": epoch, "train_loss": float(train_loss[i]), "val_loss": float(val_loss[i]),
                               "val_accuracy": float(val_acc[i]), "seconds": seconds, "train_seconds": train_s})
        info = EpochInfo(epoch, cfg.epochs, float(train_loss.mean()), float(val_loss.mean()), float(val_acc.mean()),
                         seconds, train_s)
        if (callback is not None and callback(info) is False) or (stop is not None and stop()):
            stopped_by_user = True
            break
        if not active.any():
            stopped_early = True
            break
    if cfg.keep == "best":
        learner.restore()
    return LoopResult(history, best_epoch.numpy(), best_acc.numpy(), stopped_early, stopped_by_user)


class ModelLearner:
    """One ``nn.Module`` trained on ``data`` under an ``Objective``."""

    runs = 1

    def __init__(self, model: torch.nn.Module, data: PreparedData, cfg: TrainConfig, objective: Objective,
                 gens: Mapping[str, torch.Generator]) -> None:
        self.model, self.data, self.cfg, self.objective, self.gens = model, data, cfg, objective, gens
        self.optimizer = make_optimizer(model.parameters(), cfg)
        self.best_state = copy.deepcopy(model.state_dict())

    def batches(self, epoch: int):
        self.model.train()
        self.objective.epoch(self.model, epoch)
        tr = self.data.train
        for idx in batch_order(len(tr), self.cfg.batch_size, self.gens["order"]):
            yield epoch, idx

    def gradients(self, batch):
        epoch, idx = batch
        tr = self.data.train
        xs, context = self.objective.batch({k: v[idx] for k, v in tr.xs.items()}, tr.y[idx], idx, epoch)
        loss = self.objective.loss(self.model, xs, tr.y[idx], context)
        loss.backward()
        return loss.detach().view(1), len(idx)

    def validate(self):
        val = evaluate(self.model, self.data.val)
        return torch.tensor([val["loss"]]), torch.tensor([val["accuracy"]])

    def keep(self, better):
        if bool(better[0]):
            self.best_state = copy.deepcopy(self.model.state_dict())

    def restore(self):
        self.model.load_state_dict(self.best_state)


def history_frame(rows: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["epoch", "train_loss", "val_loss", "val_accuracy", "seconds",
                                             "train_seconds"])


def fit(model: torch.nn.Module, data: PreparedData, cfg: TrainConfig = TrainConfig(),
        objective: Optional[Objective] = None, callback: Optional[Callback] = None,
        stop: Optional[Stop] = None) -> FitResult:
    """Train ``model`` with AdamW under ``objective`` (default: cross-entropy + the model's extra loss).

    ``callback(info)`` runs after every epoch; it returning ``False`` or ``stop()`` returning True
    ends training (the page's Stop button). The returned model holds the kept epoch's weights
    (``cfg.keep``) and is in evaluation mode.
    """
    objective = objective or Objective()
    gens = rng.streams(cfg.seed, STREAMS)
    with rng.using(gens["dropout"]):
        objective.start(model, data, gens["objective"])
        learner = ModelLearner(model, data, cfg, objective, gens)
        out = train_loop(learner, cfg, callback, stop)
        objective.finish(model)
    model.eval()
    return FitResult(model, history_frame(out.history[0]), int(out.best_epoch[0]), float(out.best_val_accuracy[0]),
                     out.stopped_early, out.stopped_by_user)
