"""Batched multi-seed training: S independent seeds of one architecture in one pass.

The fusion-complexity paper (fusion complexity vs robustness) trains twenty initialisations and data
shuffles per setting. Training them one after another spends most of the time in
Python and in tiny matrix products; here the S models' parameters are stacked along
a leading seed axis (``torch.func.stack_module_state``) and every step runs all
seeds at once with ``vmap(functional_call)``, so each layer is one batched matrix
product ``(S, B, F) @ (S, F, H)``.

Each seed keeps what ``fit()`` would give it:

- its initialisation: the model ``build_model(shapes, C, cfg, seed=s)``;
- its batch order: ``batch_order`` drawn from its run's ``order`` stream (``rng.streams``);
- AdamW (element-wise, so one optimiser over the stacked tensors updates every
  seed exactly as its own optimiser would), stepped by the one engine, ``train.train_loop``;
- its best-validation epoch (strictly better accuracy), and its own patience.

Parameter-free fusions (``concat``, ``product`` of equal sizes, ``tensor`` without
projection) with identity encoders are computed once for the whole split; only the
head is then trained per seed, with its backward written out
(:meth:`SeedStack.head_gradients`) and each step's rows gathered into reused buffers.
Dropout must be 0 (the fusion-complexity paper model has none), so the result matches the sequential ``fit()`` of the same seed within float rounding.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from .data.dataset import PreparedData
from .data.lazy import materialise
from .models import FusionModel, ModelConfig, build_model
from . import rng
from .train import STREAMS, EpochInfo, FitResult, LoopResult, Stop, TrainConfig, batch_order, history_frame, make_optimizer, train_loop

Inputs = Dict[str, torch.Tensor]
Callback = Callable[[EpochInfo], Optional[bool]]


def _fusion_is_fixed(model: FusionModel) -> bool:
    """True when everything before the head is a fixed function (no parameters, no encoders)."""
    return (model.refiner is None and model.cfg.encoder == "identity" and model.cfg.temporal == "mean"
            and not any(True for _ in model.fusion.parameters()))


def _projected(model: FusionModel) -> bool:
    """True when the only parameters before the head are the fusion's per-modality projections (``product`` or
    ``tensor`` of unequal sizes, or given ``fusion_dim``): those are written out as batched products too."""
    proj = getattr(model.fusion, "proj", None)
    allowed = {f"proj.{i}.{w}" for i in range(len(model.names)) for w in ("weight", "bias")}
    return (model.refiner is None and model.cfg.encoder == "identity" and model.cfg.temporal == "mean"
            and proj is not None and hasattr(model.fusion, "combine")
            and {n for n, _ in model.fusion.named_parameters()} <= allowed)


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, shared: bool) -> torch.Tensor:
    """Stacked ``nn.Linear`` layers ``w`` ``(S, out, in)``, ``b`` ``(S, out)`` on ``x`` ``(S, B, in)`` or, when
    ``shared``, one ``(B, in)`` multiplied by all seeds in one ``mm``: ``(S, B, out)``."""
    if shared:
        s, o, i = w.shape
        return (x @ w.permute(2, 0, 1).reshape(i, s * o)).view(-1, s, o).transpose(0, 1) + b.unsqueeze(1)
    return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))


def _check(models: Sequence[FusionModel]) -> None:
    cfg = models[0].cfg
    if cfg.dropout != 0:
        raise ValueError(f"batched training needs dropout 0 (got {cfg.dropout}): seeds would share the dropout RNG")
    if cfg.refiner is not None:
        raise ValueError(f"batched training does not support refiners (got '{cfg.refiner}')")


@torch.no_grad()
def fixed_features(model: FusionModel, xs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The fused vector ``(N, F)`` of a parameter-free fusion, computed once for all seeds."""
    hs = [model.encoders[k](xs[k]) for k in model.names]
    return model.fusion(hs).fused


class SeedStack:
    """S copies of one architecture as stacked parameters; a forward for all seeds at once."""

    def __init__(self, models: Sequence[FusionModel]) -> None:
        if not models:
            raise ValueError("need at least one seed")
        _check(models)
        self.base = models[0]
        self.fixed = _fusion_is_fixed(self.base)
        self.projected = not self.fixed and _projected(self.base)
        self.head_prefix = "" if self.fixed else "head."  # the head's parameter names in ``params``
        parts = [m.head if self.fixed else m for m in models]
        params, buffers = stack_module_state(parts)
        self.params: Dict[str, torch.Tensor] = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.module = self.base.head if self.fixed else self.base
        self.prefix = "head." if self.fixed else ""
        self.n_seeds = len(models)

    def inputs(self, xs: Mapping[str, torch.Tensor]):
        """What the stacked module eats: fused features ``(N, F)``, the pooled modalities (projected fusions) or the
        modality dict."""
        xs = materialise(xs)  # a split read from disk (data.lazy), read whole
        if self.fixed:
            return fixed_features(self.base, xs)
        if self.projected:
            with torch.no_grad():
                return {k: self.base.encoders[k](xs[k]).mean(dim=1) for k in self.base.names}
        return dict(xs)

    def _layers(self) -> List[Tuple[str, torch.nn.Module]]:
        layers = []
        for name, layer in self.base.head.named_children():
            if isinstance(layer, (torch.nn.Linear, torch.nn.ReLU)):
                layers.append((name, layer))
            elif not (isinstance(layer, torch.nn.Dropout) and layer.p == 0):
                raise ValueError(f"the batched head supports Linear, ReLU and Dropout(0), not {type(layer).__name__}")
        return layers

    def _head_logits(self, params: Mapping[str, torch.Tensor], x: torch.Tensor, shared: bool,
                     acts: Optional[list] = None) -> torch.Tensor:
        """The head's Linear/ReLU stack as batched matrix products (the fast path).

        Weights are stacked ``nn.Linear`` weights ``(S, out, in)``; ``x`` is ``(S, B, in)``
        or, when ``shared``, ``(B, in)`` multiplied by all seeds in one ``mm``. ``acts``, if
        given, receives every layer's output (what the hand-written backward needs).
        """
        for name, layer in self._layers():
            if isinstance(layer, torch.nn.Linear):
                key = self.head_prefix + name
                x = _linear(x, params[f"{key}.weight"], params[f"{key}.bias"], shared)  # (S, B, out)
                shared = False
            else:
                x = torch.relu(x)
            if acts is not None:
                acts.append(x)
        return x

    @torch.no_grad()
    def head_gradients(self, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-seed mean cross-entropy ``(S,)`` of the head on ``x`` ``(S, B, in)``, labels ``y`` ``(S, B)``;
        the gradients of its sum are written to every parameter's ``.grad``.

        Back-propagation written out for the Linear/ReLU stack: every gradient is one
        batched product already in the parameter's ``(S, out, in)`` layout, no gradient is
        formed for the input (it has none), and autograd's graph, transposed copies and
        accumulation buffers are skipped: about a quarter less time than autograd's
        forward + backward on the fusion-complexity paper's head (checked equal to autograd by a test).
        """
        layers = self._layers()
        acts = [x]  # input of every layer, then each layer's output
        logp = torch.log_softmax(self._head_logits(params, x, False, acts), dim=-1)  # (S, B, C)
        loss = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(1)  # (S,)
        grad = logp.exp_()  # d(sum_s mean_b CE)/d logits = (softmax - onehot) / B
        grad.scatter_add_(-1, y.unsqueeze(-1), torch.full(y.shape + (1,), -1.0))
        grad.div_(y.shape[1])
        for j in range(len(layers) - 1, -1, -1):
            name, layer = layers[j]
            if isinstance(layer, torch.nn.ReLU):
                grad = grad * (acts[j + 1] > 0)
                continue
            w = params[f"{name}.weight"]
            w.grad = torch.bmm(grad.transpose(1, 2), acts[j])  # (S, out, B) @ (S, B, in)
            params[f"{name}.bias"].grad = grad.sum(1)
            if j > 0:
                grad = torch.bmm(grad, w)  # (S, B, in)
        return loss

    def _one(self, params, buffers, x):
        out = functional_call(self.module, (params, buffers), (x,))
        return out if isinstance(out, torch.Tensor) else out.logits

    def _projected_logits(self, params: Mapping[str, torch.Tensor], x: Mapping[str, torch.Tensor],
                          shared: bool) -> torch.Tensor:
        """Projections, the fusion's ``combine`` and the head, as batched products (autograd differentiates them):
        no ``vmap`` dispatch per step. ``x``: pooled modalities ``(S, B, D)`` / ``(B, D)``, or unpooled ``(..., T, D)``."""
        vs = []
        for i, k in enumerate(self.base.names):
            xk = x[k]
            if xk.ndim == (3 if shared else 4):  # not yet pooled: the identity encoder's temporal mean
                xk = xk.mean(dim=-2)
            vs.append(_linear(xk, params[f"fusion.proj.{i}.weight"], params[f"fusion.proj.{i}.bias"], shared))
        return self._head_logits(params, self.base.fusion.combine(vs), False)

    def logits(self, params: Mapping[str, torch.Tensor], x, shared: bool) -> torch.Tensor:
        """``(S, B, C)`` logits; ``x`` is per seed ``(S, B, ...)`` or, when ``shared``, one ``(B, ...)``."""
        if self.fixed:
            return self._head_logits(params, x, shared)
        if self.projected:
            return self._projected_logits(params, x, shared)
        return vmap(self._one, in_dims=(0, 0, None if shared else 0))(dict(params), self.buffers, x)

    def state_dict_of(self, params: Mapping[str, torch.Tensor], i: int) -> Dict[str, torch.Tensor]:
        """Seed ``i``'s parameters under the full model's names."""
        return {self.prefix + k: v[i].detach().clone() for k, v in params.items()}


def gather(x, rows: torch.Tensor, buffer: Optional[dict] = None, name: str = ""):
    """Rows per seed: ``rows`` ``(S, B)`` -> ``(S, B, ...)`` for a tensor or a dict of tensors.

    With ``buffer`` (a dict), the rows land in tensors kept there, one per name and size, and
    reused by the next call of the same size, which overwrites the result.
    """
    if isinstance(x, dict):
        return {k: gather(v, rows, buffer, k) for k, v in x.items()}
    s, b = rows.shape
    flat = rows.reshape(-1)
    if buffer is None:
        return x.index_select(0, flat).view(s, b, *x.shape[1:])  # (S*B, ...) -> (S, B, ...)
    out = buffer.get((name, s * b))
    if out is None:
        out = buffer[(name, s * b)] = torch.empty((s * b, *x.shape[1:]), dtype=x.dtype)
    return torch.index_select(x, 0, flat, out=out).view(s, b, *x.shape[1:])


@dataclass
class BatchedFit:
    """The outcome of ``batched_fit``: per seed, the best-validation weights and the history."""

    seeds: List[int]
    stack: SeedStack
    best_params: Dict[str, torch.Tensor]  # stacked, (S, ...)
    history: pd.DataFrame  # seed, epoch, train_loss, val_loss, val_accuracy
    best_epoch: np.ndarray  # (S,)
    best_val_accuracy: np.ndarray  # (S,)
    stopped_by_user: bool
    seconds: float
    loop: Optional[LoopResult] = None

    def results(self) -> List[FitResult]:
        """Each seed's outcome as the ``FitResult`` ``fit()`` returns (its best model, its history)."""
        return [FitResult(self.model(i), history_frame(self.loop.history[i]), int(self.best_epoch[i]),
                          float(self.best_val_accuracy[i]), self.loop.stopped_early, self.stopped_by_user)
                for i in range(len(self.seeds))]

    @torch.no_grad()
    def predict(self, xs: Mapping[str, torch.Tensor], batch_size: int = 512) -> torch.Tensor:
        """Logits ``(S, N, C)`` of every seed's best model on the same inputs."""
        feats = self.stack.inputs(xs)
        n = len(next(iter(xs.values())))
        outs = []
        for i in range(0, n, batch_size):
            part = feats[i:i + batch_size] if torch.is_tensor(feats) else {k: v[i:i + batch_size] for k, v in feats.items()}
            outs.append(self.stack.logits(self.best_params, part, shared=True))
        return torch.cat(outs, dim=1)

    @torch.no_grad()
    def predict_each(self, xs: Sequence[Mapping[str, torch.Tensor]], batch_size: int = 256) -> torch.Tensor:
        """Logits ``(S, N, C)`` with seed ``i``'s model on its own inputs ``xs[i]`` (e.g. its own noise draw)."""
        if len(xs) != len(self.seeds):
            raise ValueError(f"need one input dict per seed ({len(self.seeds)}), got {len(xs)}")
        n = len(next(iter(xs[0].values())))
        outs = []
        for i in range(0, n, batch_size):
            parts = [{k: v[i:i + batch_size] for k, v in x.items()} for x in xs]
            if self.stack.fixed:
                stacked = torch.stack([fixed_features(self.stack.base, p) for p in parts])  # (S, B, F)
            else:
                stacked = {k: torch.stack([p[k] for p in parts]) for k in parts[0]}  # (S, B, T, D)
            outs.append(self.stack.logits(self.best_params, stacked, shared=False))
        return torch.cat(outs, dim=1)

    def model(self, i: int) -> FusionModel:
        """Seed ``i``'s best model as an ordinary ``FusionModel``."""
        base = self.stack.base
        model = build_model(base.shapes, base.head[-1].out_features, base.cfg, seed=self.seeds[i])
        state = model.state_dict()
        state.update(self.stack.state_dict_of(self.best_params, i))
        model.load_state_dict(state)
        return model.eval()


class StackLearner:
    """The S seeds of a ``SeedStack`` as one learner of ``train.train_loop`` (one optimiser over the
    stacked tensors: AdamW is element-wise, so each seed is updated exactly as its own would be)."""

    def __init__(self, stack: SeedStack, data: PreparedData, cfg: TrainConfig, seeds: Sequence[int]) -> None:
        self.stack, self.cfg, self.runs = stack, cfg, len(seeds)
        self.params = stack.params
        self.optimizer = make_optimizer(list(self.params.values()), cfg)
        self.gens = [rng.streams(s, STREAMS)["order"] for s in seeds]  # fit()'s batch order of each seed
        self.x_tr, self.y_tr = stack.inputs(data.train.xs), data.train.y
        self.x_val, self.y_val = stack.inputs(data.val.xs), data.val.y
        self.buffer: dict = {}  # gathered batches are written into reused tensors (no allocation per step)
        self.best = {k: v.detach().clone() for k, v in self.params.items()}

    def batches(self, epoch: int):
        """Every seed's batch order for one epoch, as one ``(S, B_j)`` tensor per step."""
        orders = [batch_order(len(self.y_tr), self.cfg.batch_size, g) for g in self.gens]
        return [torch.stack([o[j] for o in orders]) for j in range(len(orders[0]))]

    def gradients(self, idx: torch.Tensor):
        xb = gather(self.x_tr, idx, self.buffer)
        if self.stack.fixed:  # hand-written backward of the head (see SeedStack.head_gradients)
            loss = self.stack.head_gradients(self.params, xb, self.y_tr[idx])
        else:
            logits = self.stack.logits(self.params, xb, shared=False)  # (S, B, C)
            loss = F.cross_entropy(logits.transpose(1, 2), self.y_tr[idx], reduction="none").mean(1)  # (S,)
            loss.sum().backward()  # seeds are independent: each gets its own gradient
        return loss.detach(), idx.shape[1]

    def validate(self):
        with torch.no_grad():
            logits = self.stack.logits(self.params, self.x_val, shared=True)  # (S, N, C)
            y = self.y_val
            loss = F.cross_entropy(logits.transpose(1, 2), y.expand(len(logits), -1), reduction="none").mean(1)
            acc = (logits.argmax(-1) == y).float().mean(1)
        return loss, acc

    @torch.no_grad()
    def keep(self, better: torch.Tensor) -> None:
        for k, v in self.params.items():
            mask = better.view(-1, *([1] * (v.ndim - 1)))
            self.best[k] = torch.where(mask, v.detach(), self.best[k])

    def restore(self) -> None:
        """The best weights stay in ``self.best`` (the stack's ``params`` keep training state)."""


def batched_fit(data: PreparedData, model_cfg: ModelConfig, train_cfg: TrainConfig, seeds: Sequence[int],
                callback: Optional[Callback] = None, stop: Optional[Stop] = None) -> BatchedFit:
    """Train one model per seed in ``seeds`` at once through ``train.train_loop``; ``train_cfg.seed`` is
    ignored (each seed is its own run's seed).

    ``callback(info)`` runs after every epoch with the seeds' mean losses and accuracy; it returning
    ``False`` or ``stop()`` returning True stops all seeds (each keeps its best epoch so far).
    """
    if train_cfg.keep != "best":
        raise ValueError("batched training keeps each seed's best epoch (keep='best')")
    if train_cfg.clip_norm is not None:
        raise ValueError("batched training cannot clip the gradient: the norm would be taken over every seed at once")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("need at least one seed")
    t0 = time.perf_counter()
    models = [build_model(data.shapes(), data.n_classes, model_cfg, seed=s) for s in seeds]
    stack = SeedStack(models)
    learner = StackLearner(stack, data, train_cfg, seeds)
    out = train_loop(learner, train_cfg, callback, stop)
    rows = [{"seed": s, **r} for s, h in zip(seeds, out.history) for r in h]
    history = pd.DataFrame(rows)[["seed", "epoch", "train_loss", "val_loss", "val_accuracy"]]
    return BatchedFit(seeds, stack, learner.best, history, out.best_epoch, out.best_val_accuracy,
                      out.stopped_by_user, time.perf_counter() - t0, out)
