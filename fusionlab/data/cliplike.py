"""``clip-like``: two synthetic 768-d embeddings that share latent structure (the fusion-complexity paper).

The fusion-complexity paper trains on CLIP text and image embeddings of tweets with a human sentiment
label ("real"), and on a synthetic label, the sign of the two embeddings' dot
product ("dot", §3). We have no tweets, so this loader makes a stand-in whose
structure is known:

- a shared latent ``z ~ N(0, I_k)``; each modality is ``x_m = A_m z + σ ε_m`` with
  its own random mixing ``A_m`` (768 × k, unit signal variance per feature) and
  private noise, so the two embeddings share content but not coordinates;
- ``label="real"`` [choice]: a non-trivial latent rule, ``s = u·z + (v·z)² − 1 +
  0.5·(w·z)·(t·z)``, thresholded at its median (balanced classes), with a fraction
  ``label_noise`` of labels flipped — like sentiment, learnable from either
  modality but never perfectly;
- ``label="dot"``: ``y = 1[<x_1, x_2> > 0]`` on the embeddings themselves. The
  embeddings have mean 0 and roughly unit sd per feature, so train-split
  standardisation leaves the product structure intact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataset import MultimodalDataset
from ..limits import MAX_CELLS
from ..options import check_options
from .spec import DatasetInfo, option, register_dataset

CLIP_LABELS = ("real", "dot")


def _real_label(z: np.ndarray, rng: np.random.Generator, label_noise: float) -> np.ndarray:
    k = z.shape[1]
    u, v, w, t = (rng.standard_normal(k) / np.sqrt(k) for _ in range(4))
    score = z @ u + (z @ v) ** 2 - 1.0 + 0.5 * (z @ w) * (z @ t)
    y = (score > np.median(score)).astype(np.int64)
    flip = rng.random(len(y)) < label_noise
    return np.where(flip, 1 - y, y)


@dataclass(frozen=True)
class ClipLikeConfig:
    label: str = option("dot", "clip-like label: dot (sign of <x1, x2>, the fusion-complexity paper section 3) or real (a non-trivial "
                        "latent rule, like sentiment)", flag="--label", choices=CLIP_LABELS, label="label")
    n_samples: int = option(1500, "clip-like: number of samples (10% validation, 15% test, the rest the pool the "
                            "training sizes draw from)", flag="--clip-samples", lo=20, hi=1_000_000, step=500,
                            label="samples")
    dim: int = 768
    latent_dim: int = 16
    noise: float = 0.1
    label_noise: float = 0.1
    seed: int = option(0, "seed of the clip-like generator", flag="--data-seed", lo=0, hi=2**31 - 1,
                       label="data seed")

    def __post_init__(self) -> None:
        check_options(self)  # every declared option within its one range (the widget's)
        if 2 * self.n_samples * self.dim > MAX_CELLS:
            raise ValueError(f"n_samples must be >= 20 and 2 x n_samples x dim <= {MAX_CELLS:,}, got n_samples "
                             f"{self.n_samples} (dim {self.dim})")


def _info(cfg: ClipLikeConfig) -> DatasetInfo:
    return DatasetInfo({"text": (1, cfg.dim), "image": (1, cfg.dim)}, 2, "generated stand-in for CLIP embeddings")


@register_dataset("clip-like", "two synthetic 768-d embeddings sharing a latent; 'real' or 'dot' label (the fusion-complexity paper)",
                  ClipLikeConfig, _info)
def _load(cfg: ClipLikeConfig) -> MultimodalDataset:
    return load_clip_like(cfg.label, cfg.n_samples, cfg.dim, cfg.latent_dim, cfg.noise, cfg.label_noise, cfg.seed)


def load_clip_like(label: str = "real", n_samples: int = 6000, dim: int = 768, latent_dim: int = 16,
                   noise: float = 0.1, label_noise: float = 0.1, seed: int = 0) -> MultimodalDataset:
    """Modalities ``text`` and ``image``, ``(N, dim)`` each; see the module docstring."""
    if label not in CLIP_LABELS:
        raise ValueError(f"unknown clip-like label '{label}'; choose one of {CLIP_LABELS}")
    if n_samples < 20 or dim < 2 or latent_dim < 1:
        raise ValueError(f"clip-like needs n_samples >= 20, dim >= 2, latent_dim >= 1; "
                         f"got n_samples={n_samples}, dim={dim}, latent_dim={latent_dim}")
    if not 0 <= label_noise < 0.5:
        raise ValueError(f"label_noise must lie in [0, 0.5), got {label_noise}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_samples, latent_dim))  # (N, k) shared content
    scale = 1.0 / np.sqrt(latent_dim)
    mods = {}
    for name in ("text", "image"):
        mix = rng.standard_normal((latent_dim, dim)) * scale  # (k, D)
        x = (z @ mix + noise * rng.standard_normal((n_samples, dim))) / np.sqrt(1.0 + noise**2)
        mods[name] = x.astype(np.float32)  # (N, D), mean 0, sd ~1 per feature
    if label == "dot":
        y = (np.sum(mods["text"].astype(np.float64) * mods["image"], axis=1) > 0).astype(np.int64)
    else:
        y = _real_label(z, rng, label_noise)
    names = ["negative", "positive"] if label == "real" else ["<x1,x2> <= 0", "<x1,x2> > 0"]
    return MultimodalDataset(mods, y, names, f"clip-like ({label})")
