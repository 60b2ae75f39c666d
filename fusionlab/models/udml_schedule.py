"""UDML's training noise: intensity labels and the progressive schedule (the UDML paper; docs/methods.md, UDML).

Every training sample gets an intensity label ``t_m in {1..11}`` per modality, independently; a
random half of the samples is reset to ``t = 1`` for all modalities. [choice] ``t = 1`` means
clean input. docs/methods.md, UDML writes the noise as ``N(0, t_m)`` in train-sd units, the notation of
the KL prior ``N(0, t)`` whose second argument is a variance; so by default
(``intensity_map = "variance"``) intensity ``t >= 2`` adds gaussian noise of variance ``t`` (sd
``level_scale * sqrt(t)``: 1.4 to 3.3 train sd for t = 2..11) and ``t = 1`` is level 0. The other
readings are options: ``"sd"`` (noise sd ``level_scale * t``, up to 11 train sd), ``"squared"`` (sd
``level_scale * t²``) and ``"linear"`` (sd ``level_scale * (t - 1)``).

**The authors' units** (their public code): a modality may take its own map and scale (``maps``, ``scales``, one
per modality), and from intensity ``pure_from`` on the input is replaced by noise (the signal is gone) instead of
noise being added. Their code adds sd ``t`` to the audio's log-magnitude spectrogram and sd ``t²`` to the frames'
0–255 pixels, and at ``t = 11`` replaces both by noise; ``AUTHORS_UNITS`` (below) converts those units to train sd.

``labels="fixed"`` (the authors' loader): each training sample's labels are drawn once and kept for
every epoch (the noise itself is drawn afresh each time); ``"redrawn"``: new labels every batch.

Progressive schedule: clean data for the first ``clean_epochs`` (E1) epochs, then noisy data; the
weights stay 1 in training until epoch ``E1 + weight_delay``; at evaluation they are always
computed. The training itself is ``fusionlab.train.fit`` with ``objectives.UDMLObjective``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Mapping, Optional, Tuple

import torch

from ..data.dataset import ModalityStats
from ..noise import corrupt

NOISE = "gaussian"
INTENSITY_MAPS = ("variance", "sd", "squared", "linear")
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
    maps: Tuple[str, ...] = ()  # one intensity map per modality (empty: intensity_map for every modality)
    scales: Tuple[float, ...] = ()  # one level scale per modality (empty: level_scale for every modality)
    pure_from: Optional[int] = None  # from this intensity on, the input is replaced by noise of its level

    def __post_init__(self) -> None:
        _check_map(self.intensity_map)
        object.__setattr__(self, "maps", tuple(str(v) for v in self.maps))
        object.__setattr__(self, "scales", tuple(float(v) for v in self.scales))
        for mapping in self.maps:
            _check_map(mapping)
        if len(self.maps) > 256 or len(self.scales) > 256:
            raise ValueError(f"maps and scales take at most 256 values (one per modality), got {len(self.maps)} and "
                             f"{len(self.scales)}")
        if self.maps and self.scales and len(self.maps) != len(self.scales):
            raise ValueError(f"maps and scales give one value per modality each: {len(self.maps)} and {len(self.scales)}")
        if not all(0 < v <= 1000 for v in self.scales):
            raise ValueError(f"scales must lie in (0, 1000], got {list(self.scales)}")
        if self.pure_from is not None and not 2 <= self.pure_from <= self.max_intensity:
            raise ValueError(f"pure_from must lie in [2, max_intensity = {self.max_intensity}], got {self.pure_from}")
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

    def map_of(self, m: Optional[int] = None) -> str:
        """Modality ``m``'s intensity map (``None``: the shared one)."""
        return self.maps[m] if m is not None and self.maps else self.intensity_map

    def scale_of(self, m: Optional[int] = None) -> float:
        """Modality ``m``'s level scale (``None``: the shared one)."""
        if m is not None and self.scales:
            return self.scales[m]
        return default_level_scale(self.map_of(m)) if self.level_scale is None else float(self.level_scale)

    def check_modalities(self, m: int) -> None:
        """One line if ``maps`` or ``scales`` do not give one value per modality."""
        for name in ("maps", "scales"):
            if getattr(self, name) and len(getattr(self, name)) != m:
                raise ValueError(f"the noise schedule's {name} give {len(getattr(self, name))} values for {m} "
                                 f"modalities (give one per modality, or none)")


def intensity_to_level(t, cfg: NoiseSchedule, m: Optional[int] = None):
    """Gaussian level (noise sd in train sd) of intensity ``t`` (a float or a tensor) on modality ``m`` (``None``:
    the shared map); ``t = 1`` is level 0."""
    tt = torch.as_tensor(t, dtype=torch.float32)
    mapping, scale = cfg.map_of(m), cfg.scale_of(m)
    if mapping == "linear":
        level = (tt - 1) * scale
    else:
        sd = {"variance": tt.clamp_min(0).sqrt(), "sd": tt, "squared": tt * tt}[mapping]
        level = torch.where(tt > 1, sd * scale, torch.zeros_like(tt))
    return level if isinstance(t, torch.Tensor) else float(level)


def max_level(cfg: NoiseSchedule, m: Optional[int] = None) -> float:
    """The gaussian level of the largest training intensity on modality ``m`` (``None``: the largest over the
    modalities the schedule names, the top of the test-noise range)."""
    if m is None and (cfg.maps or cfg.scales):
        return max(max_level(cfg, i) for i in range(max(len(cfg.maps), len(cfg.scales))))
    return float(intensity_to_level(float(cfg.max_intensity), cfg, m))


def level_to_intensity(level: float, cfg: NoiseSchedule, m: Optional[int] = None) -> float:
    """The intensity whose noise has gaussian ``level`` on modality ``m`` (for marking slider settings on the t
    axis)."""
    mapping, u = cfg.map_of(m), level / cfg.scale_of(m)
    if mapping == "linear":
        return 1 + u
    return max(1.0, {"variance": u * u, "sd": u, "squared": u ** 0.5}[mapping])


def is_pure(t, cfg: NoiseSchedule):
    """Where intensity ``t`` replaces the input by noise (``t >= pure_from``); a bool or a bool tensor."""
    if cfg.pure_from is None:
        return torch.zeros_like(t, dtype=torch.bool) if isinstance(t, torch.Tensor) else False
    return t >= cfg.pure_from


def pure_noise(x: torch.Tensor, level, generator: torch.Generator, stats: ModalityStats) -> torch.Tensor:
    """The input replaced by noise: the train mean plus gaussian noise of sd ``level`` train sd (a float or ``(B,)``)."""
    return corrupt(NOISE, torch.broadcast_to(stats.mean, x.shape).to(x.dtype).clone(), level, generator, stats)


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
    cfg.check_modalities(len(names))
    out = {}
    for m, (k, x) in enumerate(xs.items()):
        level = intensity_to_level(t[:, m], cfg, m)
        out[k] = corrupt(NOISE, x, level, generator, stats[k])
        pure = is_pure(t[:, m], cfg)
        if pure.any():  # (the generator is consumed only where a row is replaced: schedules without it draw as before)
            out[k] = torch.where(pure.view(-1, *[1] * (x.ndim - 1)), pure_noise(x, level, generator, stats[k]), out[k])
    return out


# The authors' noise, in train sd (their public code; docs/methods.md, UDML). Their audio noise is sd t in the
# log-magnitude spectrogram's units; a bin of speech varies with sd 1.83 there (measured on FSDD recordings with their
# STFT settings, n_fft 512 and hop 353 at 22,050 Hz), so one unit is 1 / 1.83 train sd. Their frames get sd t² in
# 0-255 pixel units before ImageNet's Normalize (sd 0.226 x 255 = 57.6 pixels), so one unit is 1 / 57.6 train sd.
# From t = 11 both inputs are replaced by noise. The first modality is read as the audio, the second as the video.
NOISE_UNITS = ("ours", "authors")
AUTHORS_UNITS = {"maps": ("sd", "squared"), "scales": (round(1 / 1.83, 4), round(1 / (0.226 * 255), 5)),
                 "pure_from": 11}


def with_units(schedule: NoiseSchedule, units: str) -> NoiseSchedule:
    """``schedule`` with the noise in our units (one map and scale for all, noise always added) or the authors'."""
    if units not in NOISE_UNITS:
        raise ValueError(f"noise units must be one of {NOISE_UNITS}, got '{units}'")
    if units == "authors":
        return replace(schedule, max_intensity=11, **AUTHORS_UNITS)
    return replace(schedule, maps=(), scales=(), pure_from=None)


def units_of(schedule: NoiseSchedule) -> str:
    """``"authors"`` when the schedule's per-modality noise is the authors', else ``"ours"``."""
    return "authors" if all(getattr(schedule, k) == v for k, v in AUTHORS_UNITS.items()) else "ours"
