"""UDML training: intensity-labelled training noise and the progressive schedule.

Seed 001 (UDML, arXiv 2603.19681) as METHODS.md §4 records the authors' code:
every training sample gets an intensity label ``t_m in {1..11}`` per modality,
independently; a random half of the samples is reset to ``t = 1`` for all
modalities; Gaussian noise of the label's scale is added. [choice] ``t = 1`` means
clean input (the code adds noise of scale ``t`` for every label). METHODS.md §4 writes
the noise as ``N(0, t_m)`` in train-sd units, the same notation as the KL prior
``N(0, t)`` whose second argument is a variance; so by default
(``intensity_map = "variance"``) intensity ``t >= 2`` adds gaussian noise of variance
``t`` (sd ``level_scale * sqrt(t)``: 1.4 to 3.3 train sd for t = 2..11) and ``t = 1``
is level 0. The other readings are options: ``"sd"`` (noise sd ``level_scale * t``,
up to 11 train sd) and ``"linear"`` (sd ``level_scale * (t - 1)``).

Progressive schedule: clean data for the first ``clean_epochs`` (E1) epochs, then
noisy data; the weights stay 1 in training until epoch ``E1 + weight_delay``; at
evaluation they are always computed. [choice] ``fit_udml`` keeps the final epoch's
weights (the schedule makes earlier epochs' validation scores incomparable).
Randomness: batch order, noise labels and noise from explicit ``torch.Generator``s;
dropout and the reparameterisation from a forked RNG seeded by ``seed``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import pandas as pd
import torch

from ..data.dataset import ModalityStats, PreparedData
from ..models import seeded
from ..noise import corrupt
from ..train import Callback, EpochInfo, FitResult, batch_order, evaluate, make_optimizer
from .udml import METHODS, UDMLConfig, UDMLModel, build_udml, udml_loss

NOISE = "gaussian"


@dataclass
class UDMLTrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    clean_epochs: int = 3  # E1: clean data before the noise starts
    weight_delay: int = 10  # training weights fixed to 1 until epoch E1 + weight_delay
    max_intensity: int = 11
    level_scale: float = 1.0  # multiplies the gaussian level (train sd) of every intensity
    p_clean: float = 0.5  # fraction of samples reset to t = 1 in every modality
    intensity_map: str = "variance"  # variance: sd sqrt(t); sd: sd t (t >= 2, t = 1 clean); linear: sd t - 1


INTENSITY_MAPS = ("variance", "sd", "linear")


def _check_map(mapping: str) -> None:
    if mapping not in INTENSITY_MAPS:
        raise ValueError(f"unknown intensity map '{mapping}'; choose one of {', '.join(INTENSITY_MAPS)}")


def intensity_to_level(t, cfg: "UDMLTrainConfig"):
    """Gaussian level (noise sd in train sd) of intensity ``t`` (a float or a tensor); ``t = 1`` is level 0."""
    _check_map(cfg.intensity_map)
    tt = torch.as_tensor(t, dtype=torch.float32)
    if cfg.intensity_map == "linear":
        level = (tt - 1) * cfg.level_scale
    else:
        sd = tt.clamp_min(0).sqrt() if cfg.intensity_map == "variance" else tt
        level = torch.where(tt > 1, sd * cfg.level_scale, torch.zeros_like(tt))
    return level if isinstance(t, torch.Tensor) else float(level)


def default_level_scale(mapping: str) -> float:
    """``level_scale`` when the user gives none: 1 (the readings of N(0, t)); 0.3 for the linear ramp."""
    _check_map(mapping)
    return 0.3 if mapping == "linear" else 1.0


def max_level(cfg: "UDMLTrainConfig") -> float:
    """The gaussian level of the largest training intensity (the top of the test-noise range)."""
    return float(intensity_to_level(float(cfg.max_intensity), cfg))


def level_to_intensity(level: float, cfg: "UDMLTrainConfig") -> float:
    """The intensity whose noise has gaussian ``level`` (for marking slider settings on the t axis)."""
    _check_map(cfg.intensity_map)
    u = level / cfg.level_scale
    if cfg.intensity_map == "linear":
        return 1 + u
    return max(1.0, u * u if cfg.intensity_map == "variance" else u)


def draw_intensities(n: int, m: int, generator: torch.Generator, max_intensity: int = 11,
                     p_clean: float = 0.5) -> torch.Tensor:
    """Labels ``t`` ``(n, m)`` uniform on ``{1..max_intensity}``; a fraction ``p_clean`` of rows all 1."""
    if max_intensity < 1:
        raise ValueError(f"max_intensity must be at least 1, got {max_intensity}")
    t = torch.randint(1, max_intensity + 1, (n, m), generator=generator).float()
    clean = torch.rand(n, generator=generator) < p_clean  # (n,)
    return torch.where(clean[:, None], torch.ones_like(t), t)


def add_intensity_noise(xs: Mapping[str, torch.Tensor], t: torch.Tensor, generator: torch.Generator,
                        stats: Mapping[str, ModalityStats], cfg: "UDMLTrainConfig") -> Dict[str, torch.Tensor]:
    """Gaussian noise at each sample's label: modality ``m`` gets level ``intensity_to_level(t[:, m])``."""
    names = list(xs)
    if t.shape != (len(next(iter(xs.values()))), len(names)):
        raise ValueError(f"intensity labels have shape {tuple(t.shape)}; expected (B, {len(names)}) for {names}")
    return {k: corrupt(NOISE, x, intensity_to_level(t[:, m], cfg), generator, stats[k])
            for m, (k, x) in enumerate(xs.items())}


def _epoch(model: UDMLModel, data: PreparedData, cfg: UDMLTrainConfig, epoch: int, opt,
           order_gen: torch.Generator, noise_gen: torch.Generator) -> float:
    tr = data.train
    model.train()
    model.weights_on.fill_(epoch > cfg.clean_epochs + cfg.weight_delay)
    total, count = 0.0, 0
    for idx in batch_order(len(tr), cfg.batch_size, order_gen):
        xs = {k: tr.xs[k][idx] for k in model.names}
        if epoch > cfg.clean_epochs:
            t = draw_intensities(len(idx), len(model.names), noise_gen, cfg.max_intensity, cfg.p_clean)
            xs = add_intensity_noise(xs, t, noise_gen, data.stats, cfg)
        else:
            t = torch.ones(len(idx), len(model.names))
        loss, _ = udml_loss(model, model(xs), tr.y[idx], t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.item()) * len(idx)
        count += len(idx)
    return total / count


def fit_udml(model: UDMLModel, data: PreparedData, cfg: UDMLTrainConfig = UDMLTrainConfig(),
             callback: Optional[Callback] = None) -> FitResult:
    """Train with AdamW under the progressive schedule; ``callback`` returning False stops."""
    if cfg.epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {cfg.epochs}")
    _check_map(cfg.intensity_map)
    if cfg.level_scale <= 0:
        raise ValueError(f"level_scale must be positive, got {cfg.level_scale}")
    missing = [k for k in model.names if k not in data.train.xs]
    if missing:
        raise ValueError(f"the data lack modalities {missing}; the model needs {model.names}")
    opt = make_optimizer(model.parameters(), cfg)
    order_gen = torch.Generator().manual_seed(cfg.seed)
    noise_gen = torch.Generator().manual_seed(cfg.seed + 1_000_003)
    rows: List[dict] = []
    stopped = False
    with seeded(cfg.seed):
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            train_loss = _epoch(model, data, cfg, epoch, opt, order_gen, noise_gen)
            val = evaluate(model, data.val)
            info = EpochInfo(epoch, cfg.epochs, train_loss, val["loss"], val["accuracy"], time.perf_counter() - t0)
            rows.append(vars(info).copy())
            if callback is not None and callback(info) is False:
                stopped = True
                break
    model.weights_on.fill_(True)
    model.eval()
    history = pd.DataFrame(rows).drop(columns=["epochs"])
    last = rows[-1]
    return FitResult(model, history, int(last["epoch"]), float(last["val_accuracy"]), False, stopped)


@dataclass
class UDMLStudy:
    """Every method trained with every seed on one dataset (one user's, in session_state)."""

    data: PreparedData
    model_cfg: UDMLConfig
    train_cfg: UDMLTrainConfig
    models: Dict[Tuple[str, int], UDMLModel]
    histories: Dict[Tuple[str, int], pd.DataFrame]
    stopped: bool = False

    @property
    def methods(self) -> List[str]:
        return list(dict.fromkeys(m for m, _ in self.models))

    @property
    def seeds(self) -> List[int]:
        return list(dict.fromkeys(s for _, s in self.models))


def train_study(data: PreparedData, model_cfg: UDMLConfig = UDMLConfig(), train_cfg: UDMLTrainConfig = UDMLTrainConfig(),
                methods: Sequence[str] = (), seeds: Sequence[int] = (0, 1, 2),
                callback: Optional[Callback] = None) -> UDMLStudy:
    """Train each method with each seed (same data, same schedule, same noise stream per seed).

    ``callback`` sees each run's own epochs, named by ``info.run`` ("method, seed s"), and the
    fraction of the whole study done in ``info.overall``; returning False stops the current run
    and the study.
    """
    methods = list(methods) or METHODS.names()
    for m in methods:
        METHODS.get(m)
    if not seeds:
        raise ValueError("train_study needs at least one seed")
    total, done = len(methods) * len(seeds) * train_cfg.epochs, 0
    study = UDMLStudy(data, model_cfg, train_cfg, {}, {})
    for method in methods:
        for seed in seeds:
            model = build_udml(data.shapes(), data.n_classes, replace(model_cfg, method=method), seed=seed)

            def step(info: EpochInfo, offset: int = done, run: str = f"{method}, seed {seed}") -> Optional[bool]:
                return None if callback is None else callback(
                    replace(info, run=run, overall=(offset + info.epoch) / total))

            res = fit_udml(model, data, replace(train_cfg, seed=seed), step)
            study.models[(method, seed)], study.histories[(method, seed)] = res.model, res.history
            done += train_cfg.epochs
            if res.stopped_by_user:
                study.stopped = True
                return study
    return study
