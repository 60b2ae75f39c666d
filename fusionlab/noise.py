"""Corruptions, registered by name (docs/methods.md, corruptions and robustness).

Every corruption has the signature ``f(x, level, generator, stats, **options)``:
``x`` is ``(B, T, D)``, ``level`` a float or a per-sample tensor ``(B,)``,
``generator`` a ``torch.Generator`` (never the global RNG), ``stats`` the modality's
train statistics. It returns a tensor of ``x``'s shape; where the level is 0 the
rows are returned unchanged, bit for bit.

| name       | formula                                                     |
|------------|-------------------------------------------------------------|
| gaussian   | ``x + level * s * eps``                                     |
| mix        | ``(1 - a) x + a n``, ``n ~ N(mu, s)`` (the fusion-complexity paper [choice])    |
| additive   | ``x + a n`` (the other reading of the fusion-complexity paper)                 |
| timestep   | a fraction ``level`` of timesteps (or entries): ``(1-w) x + w n`` |
| drop       | the modality replaced by the train mean (zeros after scaling) |
| missing    | a share ``level`` of samples lose the modality (as ``drop``; availability flag 0) |
| snr        | white noise at a signal-to-noise ratio of ``30 - 40 level`` dB, per row; on a modality with a raw signal  |
|            | (av-digits' recordings) added to the signal, and the features recomputed (``SIGNAL_CORRUPTIONS``)         |
| gap        | a contiguous share ``level`` of the timesteps (a vector: of its features) at the train mean, at a random   |
|            | start per row; on a recording, that share of its samples silenced, and the features recomputed            |
| occlusion  | a rectangle covering a share ``level`` of the timesteps x features at the train mean, at a random place;  |
|            | on an image (av-digits' digits), a grey patch over that share of its pixels                               |

On an image, ``gaussian`` is noise of sd ``level`` x the train pixels' sd on every pixel, clipped to [0, 1], and the
features recomputed from the noisy picture (``SIGNAL_CORRUPTIONS``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Mapping, Optional, Union

import numpy as np
import torch

from . import rng
from .data.dataset import ModalityStats, PreparedData, Split
from .data.lazy import is_mapped, materialise, whole
from .registry import Registry

CORRUPTIONS: Registry = Registry("corruption")
Level = Union[float, torch.Tensor]


def _per_sample(level: Level, x: torch.Tensor) -> torch.Tensor:
    """Level as a ``(B, 1, 1)`` tensor broadcastable against ``x`` ``(B, T, D)``."""
    lv = torch.as_tensor(level, dtype=x.dtype)
    if lv.ndim == 0:
        lv = lv.expand(x.shape[0])
    if lv.shape != (x.shape[0],):
        raise ValueError(f"level has shape {tuple(lv.shape)}; expected a float or ({x.shape[0]},)")
    return lv.view(-1, 1, 1)


def _keep_clean(x: torch.Tensor, lv: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return torch.where(lv == 0, x, out)


def _draw(x: torch.Tensor, stats: ModalityStats, generator: torch.Generator) -> torch.Tensor:
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return stats.mean + stats.std * eps  # n ~ N(mu, s), per feature


def _is_zero(level: Level) -> bool:
    return not isinstance(level, torch.Tensor) and float(level) == 0.0


@CORRUPTIONS.register("gaussian", "x + level * s * eps")
def gaussian(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    lv = _per_sample(level, x)
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return _keep_clean(x, lv, x + lv * stats.std * eps)


@CORRUPTIONS.register("mix", "(1 - a) x + a n, n ~ N(mu, s)")
def mix(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    lv = _per_sample(level, x)
    if (lv < 0).any() or (lv > 1).any():
        raise ValueError("mix level (alpha) must lie in [0, 1]")
    return _keep_clean(x, lv, (1 - lv) * x + lv * _draw(x, stats, generator))


@CORRUPTIONS.register("additive", "x + a n, n ~ N(mu, s)")
def additive(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    lv = _per_sample(level, x)
    return _keep_clean(x, lv, x + lv * _draw(x, stats, generator))


@CORRUPTIONS.register("timestep", "a fraction of timesteps (or entries) mixed toward noise")
def timestep(x, level, generator, stats, weight: float = 1.0, granularity: str = "auto", **_):
    """``level`` is the noise ratio; ``weight`` the noise weight ``w`` (1 replaces)."""
    if _is_zero(level):
        return x
    lv = _per_sample(level, x)
    if (lv < 0).any() or (lv > 1).any():
        raise ValueError("timestep noise ratio must lie in [0, 1]")
    if not 0 <= weight <= 1:
        raise ValueError(f"noise weight must lie in [0, 1], got {weight}")
    b, t, d = x.shape
    if granularity == "auto":
        granularity = "timestep" if t > 1 else "entry"
    if granularity not in ("timestep", "entry"):
        raise ValueError(f"granularity must be 'timestep', 'entry' or 'auto', got '{granularity}'")
    units = t if granularity == "timestep" else t * d
    scores = torch.rand((b, units), generator=generator)
    ranks = scores.argsort(dim=1).argsort(dim=1)  # a random rank per unit, per sample
    k = torch.round(lv.view(-1, 1) * units)  # (B, 1) units to corrupt
    chosen = ranks < k  # (B, units)
    mask = chosen.view(b, t, 1) if granularity == "timestep" else chosen.view(b, t, d)
    noisy = (1 - weight) * x + weight * _draw(x, stats, generator)
    return torch.where(mask, noisy, x)


@CORRUPTIONS.register("drop", "the whole modality replaced by its train mean")
def drop(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    lv = _per_sample(level, x)
    return _keep_clean(x, lv, stats.mean.expand_as(x).to(x.dtype))


def missing_rows(n: int, level: Level, generator: torch.Generator) -> torch.Tensor:
    """``(n,)`` bool: the samples that lose the modality. A float ``level`` is the fraction of samples
    (exactly ``round(level * n)``, chosen at random); a per-sample ``level`` ``(n,)`` is each sample's
    probability (1: surely missing, 0: surely kept)."""
    lv = torch.as_tensor(level, dtype=torch.float64)
    if (lv < 0).any() or (lv > 1).any():
        raise ValueError("missing: the level (a share of samples) must lie in [0, 1]")
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    if lv.ndim == 0:
        k = int(round(float(lv) * n))
        return u.argsort().argsort() < k
    if lv.shape != (n,):
        raise ValueError(f"level has shape {tuple(lv.shape)}; expected a float or ({n},)")
    return u < lv


@CORRUPTIONS.register("missing", "a share of samples lose the modality (features -> train mean, present = 0)")
def missing(x, level, generator, stats, **_):
    """docs/methods.md, corruptions and robustness: the chosen samples' features become the train mean, as ``drop`` leaves them; a caller that
    tracks availability sets ``present_<m> = 0`` on the same rows (``missing_rows`` with the same draws)."""
    if _is_zero(level):
        return x
    gone = missing_rows(x.shape[0], level, generator).view(-1, 1, 1)
    return torch.where(gone, stats.mean.expand_as(x).to(x.dtype), x)


def snr_db(level: Level) -> Level:
    """The signal-to-noise ratio (dB) of ``snr`` at ``level``: 30 dB at the first step up from clean, 10 dB at 0.5,
    0 dB at 0.75, -10 dB at 1 (level 0 is clean: no noise at all)."""
    return 30.0 - 40.0 * level


def _at_snr(x: torch.Tensor, level: Level, generator: torch.Generator) -> torch.Tensor:
    """Rows of ``x`` ``(B, ...)`` plus white noise whose power is each row's mean square over 10^(SNR/10)."""
    flat = x.reshape(len(x), -1)
    lv = torch.as_tensor(level, dtype=flat.dtype)
    lv = lv.expand(len(x)) if lv.ndim == 0 else lv
    power = flat.pow(2).mean(dim=1)
    sigma = torch.sqrt(power / torch.pow(10.0, snr_db(lv) / 10.0))
    noisy = flat + sigma[:, None] * torch.randn(flat.shape, generator=generator, dtype=flat.dtype)
    return torch.where((lv == 0)[:, None], flat, noisy).reshape(x.shape)


@CORRUPTIONS.register("snr", "white noise at a signal-to-noise ratio of 30 - 40 level dB (on a recording: the sound)")
def snr(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    return _at_snr(x, level, generator)


def _gap_mask(n: int, length: int, level: Level, generator: torch.Generator) -> torch.Tensor:
    """``(n, length)`` True on one contiguous run of ``round(level * length)`` positions per row, at a random start."""
    lv = torch.as_tensor(level, dtype=torch.float64)
    lv = lv.expand(n) if lv.ndim == 0 else lv
    width = torch.round(lv.clamp(0, 1) * length).long()  # (n,)
    start = (torch.rand(n, generator=generator, dtype=torch.float64) * (length - width + 1)).floor().long()
    pos = torch.arange(length)[None, :]
    return (pos >= start[:, None]) & (pos < (start + width)[:, None])


def _gap_signal(x: torch.Tensor, level: Level, generator: torch.Generator) -> torch.Tensor:
    """Rows of a signal ``(B, L)`` with a contiguous share ``level`` of their samples silenced."""
    return torch.where(_gap_mask(len(x), x.shape[1], level, generator), torch.zeros_like(x), x)


@CORRUPTIONS.register("gap", "a contiguous share of the timesteps (or features) masked out (on a recording: silence)")
def gap(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    b, t, d = x.shape
    axis_len = t if t > 1 else d  # a sequence loses a run of timesteps, a vector a run of features
    mask = _gap_mask(b, axis_len, level, generator)
    mask = mask[:, :, None].expand(b, t, d) if t > 1 else mask[:, None, :]
    return torch.where(mask, stats.mean.expand_as(x).to(x.dtype), x)


def _patch_mask(n: int, height: int, width: int, level: Level, generator: torch.Generator) -> torch.Tensor:
    """``(n, height, width)`` True on one rectangle per row covering about a share ``level`` of the grid, at a random
    place: ``h = round(sqrt(level) height)`` rows (at least one) by ``round(level height width / h)`` columns."""
    lv = torch.as_tensor(level, dtype=torch.float64)
    lv = lv.expand(n) if lv.ndim == 0 else lv
    lv = lv.clamp(0, 1)
    h = torch.where(lv > 0, torch.round(lv.sqrt() * height).clamp(min=1), torch.zeros_like(lv))
    w = torch.where(h > 0, torch.round(lv * height * width / h.clamp(min=1)).clamp(max=width), torch.zeros_like(lv))
    h, w = h.long(), w.long()
    top = (torch.rand(n, generator=generator, dtype=torch.float64) * (height - h + 1)).floor().long()
    left = (torch.rand(n, generator=generator, dtype=torch.float64) * (width - w + 1)).floor().long()
    r = torch.arange(height)[None, :, None]
    c = torch.arange(width)[None, None, :]
    return ((r >= top[:, None, None]) & (r < (top + h)[:, None, None])
            & (c >= left[:, None, None]) & (c < (left + w)[:, None, None]))


@CORRUPTIONS.register("occlusion", "a rectangle covering a share of the timesteps x features at the train mean (on an "
                      "image: a grey patch over its pixels)")
def occlusion(x, level, generator, stats, **_):
    if _is_zero(level):
        return x
    b, t, d = x.shape
    return torch.where(_patch_mask(b, t, d, level, generator), stats.mean.expand_as(x).to(x.dtype), x)


GREY = 0.5  # the occluding patch on an image [choice]: mid-grey, visible on the paper and on the ink alike


def _pixel_gaussian(x: torch.Tensor, level: Level, generator: torch.Generator, unit: float) -> torch.Tensor:
    """Images ``(B, H, W)`` in [0, 1] plus gaussian noise of sd ``level * unit`` on every pixel (``unit``: the sd of
    the train images' pixels), clipped to [0, 1] as a picture is."""
    lv = _per_sample(level, x)
    noisy = (x + lv * unit * torch.randn(x.shape, generator=generator, dtype=x.dtype)).clamp(0.0, 1.0)
    return torch.where(lv == 0, x, noisy)


def _pixel_occlusion(x: torch.Tensor, level: Level, generator: torch.Generator, unit: float) -> torch.Tensor:
    """Images ``(B, H, W)`` with a grey rectangle over a share ``level`` of their pixels, at a random place."""
    return torch.where(_patch_mask(len(x), x.shape[1], x.shape[2], level, generator), torch.full_like(x, GREY), x)


# corruptions that act on a modality's raw signal where it has one (``data.dataset.RawView``), by the signal's kind:
# the signal is corrupted and the features recomputed; on any other modality the same name acts on the features
SIGNAL_CORRUPTIONS = {
    "snr": {"audio": lambda x, level, gen, unit: _at_snr(x, level, gen)},
    "gap": {"audio": lambda x, level, gen, unit: _gap_signal(x, level, gen)},
    "gaussian": {"image": _pixel_gaussian},
    "occlusion": {"image": _pixel_occlusion},
}


def acts_on_signal(name: str, kind: str) -> bool:
    """Whether corruption ``name`` acts on a raw signal of ``kind`` (``audio`` or ``image``) rather than on features."""
    return kind in SIGNAL_CORRUPTIONS.get(name, {})


def corrupt_signal(name: str, signal: np.ndarray, level: Level, generator: torch.Generator, kind: str = "audio",
                   unit: float = 1.0) -> np.ndarray:
    """``signal`` ``(n, ...)`` of ``kind`` corrupted by the signal form of ``name`` (what a person would hear or see)."""
    if _is_zero(level):
        return np.asarray(signal)
    x = torch.as_tensor(np.asarray(signal, np.float32))
    return SIGNAL_CORRUPTIONS[name][kind](x, level, generator, unit).numpy()


def corrupt(name: str, x: torch.Tensor, level: Level, generator: torch.Generator,
            stats: ModalityStats, **options) -> torch.Tensor:
    """Apply the registered corruption ``name``."""
    if x.ndim != 3:
        raise ValueError(f"corruptions take (B, T, D) tensors, got shape {tuple(x.shape)}")
    return CORRUPTIONS.get(name)(x, level, generator, stats, **options)


def corrupt_modalities(xs: Mapping[str, torch.Tensor], levels: Mapping[str, Level], name: str,
                       seed: int, stats: Mapping[str, ModalityStats], **options) -> Dict[str, torch.Tensor]:
    """Corrupt each modality of ``xs`` at its level in ``levels`` (missing = clean).

    Each modality draws from its own stream of ``seed`` (``rng.streams(seed, modalities)``): the same call
    always draws the same noise, and changing one modality's level never changes another's noise.
    """
    unknown = set(levels) - set(xs)
    if unknown:
        raise ValueError(f"noise levels name unknown modalities {sorted(unknown)}; have {list(xs)}")
    gens = rng.streams(seed, tuple(xs))
    raw = getattr(xs, "raw", {})  # a split's inputs with their raw signals (data.dataset.RawInputs)
    xs = materialise(xs) if is_mapped(xs) else xs  # a split on disk, read whole (data.lazy)
    out = {}
    for k, x in xs.items():
        lv = levels.get(k, 0.0)
        if k in raw and acts_on_signal(name, raw[k].kind) and not _is_zero(lv):  # corrupt the signal, recompute
            r = raw[k]
            heard = r.inputs(corrupt_signal(name, r.signal, lv, gens[k], r.kind, r.unit)).to(x.dtype)
            out[k] = torch.where(_per_sample(lv, x) == 0, x, heard)  # a row at level 0 stays as it was, bit for bit
        else:
            out[k] = corrupt(name, x, lv, gens[k], stats[k], **options)
    return out


def corrupted_signal(xs: Mapping[str, torch.Tensor], levels: Mapping[str, Level], name: str, seed: int,
                     modality: str) -> Optional[np.ndarray]:
    """The raw signal of ``modality`` ``(N, L)`` as ``corrupt_modalities`` corrupts it with the same arguments (the
    same stream, the same draw): what a page plays. None where the modality has no raw signal; the signal as
    recorded where ``name`` does not act on it."""
    raw = getattr(xs, "raw", {})
    if modality not in raw:
        return None
    lv, r = levels.get(modality, 0.0), raw[modality]
    if not acts_on_signal(name, r.kind) or _is_zero(lv):
        return r.signal
    return corrupt_signal(name, r.signal, lv, rng.streams(seed, tuple(xs))[modality], r.kind, r.unit)


def sample_levels(n: int, max_level: float, generator: torch.Generator, p_clean: float = 0.0,
                  min_level: float = 0.0) -> torch.Tensor:
    """Per-sample severities ``U(min, max)`` with a fraction ``p_clean`` set to 0; ``(n,)``."""
    if not 0 <= p_clean <= 1:
        raise ValueError(f"p_clean must lie in [0, 1], got {p_clean}")
    lv = min_level + (max_level - min_level) * torch.rand(n, generator=generator)
    clean = torch.rand(n, generator=generator) < p_clean
    return torch.where(clean, torch.zeros_like(lv), lv)


def level_range(name: str) -> tuple[float, float]:
    """The natural slider range of a corruption's level."""
    return {"gaussian": (0.0, 3.0), "additive": (0.0, 3.0)}.get(name, (0.0, 1.0))


def level_label(name: str, level: float) -> str:
    """How a slider shows a level of ``name``: ``snr`` in dB (``clean`` at 0), every other level as a number."""
    if name == "snr":
        return "clean" if level == 0 else f"{snr_db(level):.0f} dB"
    return f"{level:g}"


def on_off(name: str) -> bool:
    """Corruptions with no level in between (docs/methods.md, corruptions and robustness: ``drop`` removes the whole modality)."""
    return name == "drop"


# corruptions that give the same numbers as another on the lab's inputs: every feature is standardised with its
# train mean and sd, so additive noise n ~ N(mu, s) of those statistics is x + a * N(0, 1), gaussian's draw
SAME_AS = {"additive": "gaussian"}


def distinct_corruptions() -> list[str]:
    """The registered corruptions a page offers: those not equal to another on standardised inputs (``SAME_AS``);
    the command line still takes every name."""
    return [n for n in CORRUPTIONS.names() if n not in SAME_AS]


def default_levels(name: str, n: int = 9, top: Optional[float] = None) -> list[float]:
    """Levels of a robustness curve: ``n`` steps over the whole range the noise sliders offer (mix up to 1, pure
    noise: the curve ended at 0.95 while the slider went to 1, so the current-setting mark left the curve); an on/off
    corruption has 0 and 1."""
    if on_off(name):
        return [0.0, 1.0]
    lo, hi = level_range(name)
    hi = top if top is not None else hi
    return [round(lo + (hi - lo) * i / (n - 1), 4) for i in range(n)]


@dataclass(frozen=True)
class RowCorruption:
    """Point 5: corrupt a ``fraction`` of one modality's rows, severity ``U(min, max)`` each."""

    modality: str = ""
    fraction: float = 0.0
    noise: str = "mix"
    max_level: float = 1.0
    min_level: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"fraction must lie in [0, 1], got {self.fraction}")
        if not (np.isfinite(self.max_level) and np.isfinite(self.min_level) and 0 <= self.min_level <= self.max_level):
            raise ValueError(f"levels must be finite with 0 <= min <= max, got {self.min_level}, {self.max_level}")


def corrupt_rows(data: PreparedData, cfg: RowCorruption) -> PreparedData:
    """Corrupt ``cfg.fraction`` of ``cfg.modality``'s rows in every split (train and test alike).

    With ``noise='missing'`` those rows lose the modality: features at the train mean and
    ``extras['present_<modality>'] = False``, which the experts, scores and rules read as a mask.

    The drawn levels go to ``split.extras['severity_<modality>']`` (0 = clean). One
    ``torch.Generator`` seeded by ``cfg.seed`` serves the splits in a fixed order.
    """
    if not cfg.modality or cfg.fraction == 0:
        return data
    if cfg.modality not in data.modality_names:
        raise ValueError(f"cannot corrupt modality '{cfg.modality}'; this dataset has {data.modality_names}")
    if not 0 <= cfg.fraction <= 1:
        raise ValueError(f"corrupted fraction must lie in [0, 1], got {cfg.fraction}")
    gen = torch.Generator().manual_seed(cfg.seed)
    parts = {}
    for s in ("train", "val", "test"):
        part: Split = getattr(data, s)
        lv = sample_levels(len(part), cfg.max_level, gen, p_clean=1 - cfg.fraction, min_level=cfg.min_level)
        xs = dict(part.xs)
        extras = dict(part.extras)
        if cfg.noise == "missing":  # every corrupted row loses the modality, and says so
            lv = (lv > 0).to(lv.dtype)
            before = np.asarray(extras.get(f"present_{cfg.modality}", np.ones(len(part), bool)), bool)
            extras[f"present_{cfg.modality}"] = before & (lv.numpy() == 0)
        xs[cfg.modality] = corrupt(cfg.noise, whole(part.xs[cfg.modality]), lv, gen, data.stats[cfg.modality])
        before = part.extras.get(f"severity_{cfg.modality}")  # e.g. the synthetic generator's own corruption
        sev = lv.numpy() if before is None else np.maximum(before, lv.numpy())
        extras[f"severity_{cfg.modality}"] = sev
        parts[s] = Split(xs, part.y, part.index, extras)
    return replace(data, **parts)
