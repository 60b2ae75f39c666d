"""UDML's training noise: intensity labels and the progressive schedule (the UDML paper; docs/methods.md, UDML).

Every training sample gets an intensity label ``t_m in {1..11}`` per modality, independently; a
random half of the samples is reset to ``t = 1`` for all modalities. [choice] ``t = 1`` means
clean input. docs/methods.md, UDML writes the noise as ``N(0, t_m)`` in train-sd units, the notation of
the KL prior ``N(0, t)`` whose second argument is a variance; so by default
(``intensity_map = "variance"``) intensity ``t >= 2`` adds gaussian noise of variance ``t`` (sd
``level_scale * sqrt(t)``: 1.4 to 3.3 train sd for t = 2..11) and ``t = 1`` is level 0. The other
readings are options: ``"sd"`` (noise sd ``level_scale * t``, up to 11 train sd) and ``"linear"``
(sd ``level_scale * (t - 1)``).

``labels="fixed"`` (the authors' loader): each training sample's labels are drawn once and kept for
every epoch (the noise itself is drawn afresh each time); ``"redrawn"``: new labels every batch.

Progressive schedule: clean data for the first ``clean_epochs`` (E1) epochs, then noisy data; the
weights stay 1 in training until epoch ``E1 + weight_delay``; at evaluation they are always
computed. The training itself is ``fusionlab.train.fit`` with ``objectives.UDMLObjective``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import torch

from ..data.dataset import ModalityStats
from ..noise import corrupt

NOISE = "gaussian"
INTENSITY_MAPS = ("variance", "sd", "linear")
LABELS = ("fixed", "redrawn")
CLEAN_DRAWS = ("bernoulli", "exact")


def _check_map(mapping: str) -> None:
    if mapping not in INTENSITY_MAPS:
        raise ValueError(f"unknown intensity map (intensity_map) '{mapping}'; choose one of {', '.join(INTENSITY_MAPS)}")


def default_level_scale(mapping: str) -> float:
    """``level_scale`` when the user gives none: 1 (the readings of N(0, t)); 0.3 for the linear ramp."""
    _check_map(mapping)
    return 0.3 if mapping == "linear" else 1.0


@dataclass(frozen=True)
class NoiseSchedule:
    """UDML's training noise and progressive schedule; the optimiser settings are ``TrainConfig``'s."""

    clean_epochs: int = 3  # E1: clean data before the noise starts
    weight_delay: int = 10  # training weights fixed to 1 until epoch E1 + weight_delay
    max_intensity: int = 11
    level_scale: Optional[float] = None  # multiplies every noise sd; None: default_level_scale(intensity_map)
    p_clean: float = 0.5  # fraction of samples reset to t = 1 in every modality
    intensity_map: str = "variance"  # variance: sd sqrt(t); sd: sd t (t >= 2, t = 1 clean); linear: sd t - 1
    labels: str = "fixed"  # fixed: drawn once per training sample (the authors) | redrawn: every batch
    # which rows stay clean: each with probability p_clean (bernoulli, ours) | exactly round(p_clean n) of them, a
    # random subset (exact: the authors' code keeps n // 2 clean)
    clean_draw: str = "bernoulli"

    def __post_init__(self) -> None:
        _check_map(self.intensity_map)
        if self.labels not in LABELS:
            raise ValueError(f"labels must be one of {LABELS}, got '{self.labels}'")
        if self.clean_draw not in CLEAN_DRAWS:
            raise ValueError(f"clean_draw must be one of {CLEAN_DRAWS}, got '{self.clean_draw}'")
        if self.clean_epochs < 0 or self.weight_delay < 0:
            raise ValueError(f"clean_epochs and weight_delay must be >= 0, got {self.clean_epochs}, {self.weight_delay}")
        if self.max_intensity < 1:
            raise ValueError(f"max_intensity must be >= 1, got {self.max_intensity}")
        if self.level_scale is not None and not self.level_scale > 0:
            raise ValueError(f"level_scale must be > 0, got {self.level_scale}")
        if not 0 <= self.p_clean <= 1:
            raise ValueError(f"p_clean must lie in [0, 1], got {self.p_clean}")

    @property
    def scale(self) -> float:
        return default_level_scale(self.intensity_map) if self.level_scale is None else float(self.level_scale)


def intensity_to_level(t, cfg: NoiseSchedule):
    """Gaussian level (noise sd in train sd) of intensity ``t`` (a float or a tensor); ``t = 1`` is level 0."""
    tt = torch.as_tensor(t, dtype=torch.float32)
    if cfg.intensity_map == "linear":
        level = (tt - 1) * cfg.scale
    else:
        sd = tt.clamp_min(0).sqrt() if cfg.intensity_map == "variance" else tt
        level = torch.where(tt > 1, sd * cfg.scale, torch.zeros_like(tt))
    return level if isinstance(t, torch.Tensor) else float(level)


def max_level(cfg: NoiseSchedule) -> float:
    """The gaussian level of the largest training intensity (the top of the test-noise range)."""
    return float(intensity_to_level(float(cfg.max_intensity), cfg))


def level_to_intensity(level: float, cfg: NoiseSchedule) -> float:
    """The intensity whose noise has gaussian ``level`` (for marking slider settings on the t axis)."""
    u = level / cfg.scale
    if cfg.intensity_map == "linear":
        return 1 + u
    return max(1.0, u * u if cfg.intensity_map == "variance" else u)


def draw_intensities(n: int, m: int, generator: torch.Generator, max_intensity: int = 11,
                     p_clean: float = 0.5, exact: bool = False) -> torch.Tensor:
    """Labels ``t`` ``(n, m)`` uniform on ``{1..max_intensity}``; rows all 1 (clean) each with probability
    ``p_clean``, or with ``exact`` exactly ``round(p_clean n)`` of them, a random subset (the authors' code)."""
    if max_intensity < 1:
        raise ValueError(f"max_intensity must be at least 1, got {max_intensity}")
    t = torch.randint(1, max_intensity + 1, (n, m), generator=generator).float()
    if exact:
        clean = torch.zeros(n, dtype=torch.bool)
        clean[torch.randperm(n, generator=generator)[:round(p_clean * n)]] = True
    else:
        clean = torch.rand(n, generator=generator) < p_clean  # (n,)
    return torch.where(clean[:, None], torch.ones_like(t), t)


def add_intensity_noise(xs: Mapping[str, torch.Tensor], t: torch.Tensor, generator: torch.Generator,
                        stats: Mapping[str, ModalityStats], cfg: NoiseSchedule) -> Dict[str, torch.Tensor]:
    """Gaussian noise at each sample's label: modality ``m`` gets level ``intensity_to_level(t[:, m])``."""
    names = list(xs)
    if t.shape != (len(next(iter(xs.values()))), len(names)):
        raise ValueError(f"intensity labels have shape {tuple(t.shape)}; expected (B, {len(names)}) for {names}")
    return {k: corrupt(NOISE, x, intensity_to_level(t[:, m], cfg), generator, stats[k])
            for m, (k, x) in enumerate(xs.items())}
