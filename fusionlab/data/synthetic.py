"""A synthetic multimodal dataset whose ground truth is known.

Label rules:
- ``linear``: a linear rule of a shared latent ``z``; every modality sees ``z``
  through its own random projection, scaled by its informativeness.
- ``dot``: the fusion-complexity paper's §3, ``y = 1[<x_1, x_2> > 0]`` for two independent Gaussian
  embeddings; the other modalities are noise.
- ``conflict``: each sample trusts one modality chosen at random (``extras['trusted']``);
  the others carry the latent of a *different* class and extra noise, so they
  contradict the trusted one and are less reliable.

Optional XOR coding (``xor_modalities``, rules ``linear`` and ``conflict``): the listed
modalities hide their signal behind a random per-sample sign, so they stay
informative but a linear read-out sees nothing; a modality that is hard to learn
(the UDML paper's "dual suppression" setting).

Optional per-sample corruption: a fraction of samples get Gaussian noise of a
severity drawn per sample; the severities come back as ``extras['severity']``
``(N, M)`` and per modality as ``extras['severity_<name>']`` ``(N,)``, the ground
truth for reliability experiments. [choice] The noise scale is each modality's sd
over all generated rows: a property of the generator, fixed before any split.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .dataset import MultimodalDataset
from ..limits import MAX_CELLS
from ..options import check_options
from .spec import DatasetInfo, option, register_dataset

RULES = ("linear", "dot", "conflict")
STRUCTURES = ("iid", "persistent")
JITTER = 0.2  # "persistent": the share (sd) of a sample's noise that is drawn afresh at every timestep
MIN_SAMPLES, MAX_SAMPLES = 20, 1_000_000


@dataclass(frozen=True)
class SyntheticConfig:
    n_samples: int = option(1200, "synthetic: number of samples", flag="--samples", lo=MIN_SAMPLES, hi=MAX_SAMPLES, step=100,
                            label="samples")
    n_modalities: int = option(3, "synthetic: number of modalities", flag="--modalities", lo=1, hi=64,
                               label="modalities")
    dim: int = option(16, "synthetic: features per modality", flag="--dim", lo=1, hi=4096, label="features per modality")
    seq_len: int = option(1, "synthetic: timesteps per modality", flag="--seq-len", lo=1, hi=1024, label="timesteps T")
    n_classes: int = option(2, "synthetic: classes (rule 'dot' has 2)", flag="--classes", lo=2, hi=1000, label="classes")
    informativeness: Optional[Tuple[float, ...]] = option(
        None, "synthetic: informativeness per modality in [0, 1], comma-separated (default 0.9 down to 0.4)",
        flag="--informativeness", kind="floats", per="n_modalities", lo=0.0, hi=1.0, step=0.05,
        label="informativeness")
    rule: str = option("linear", "synthetic label rule: linear (a latent every modality sees), dot (sign of "
                       "<x1, x2>, the fusion-complexity paper), conflict (each sample trusts one modality)", flag="--rule",
                       choices=RULES, label="label rule")
    structure: str = option("iid", "synthetic: the noise over timesteps — iid (drawn afresh at every timestep) or "
                            "persistent (a per-sample pattern held over time, with a little jitter), under which a "
                            "noised timestep stands out from the sample's other timesteps", flag="--structure",
                            choices=STRUCTURES, label="noise over time")
    latent_dim: int = 8
    corrupt_fraction: float = option(0.0, "synthetic: fraction of samples corrupted at a per-sample severity "
                                     "(returned as ground truth)", flag="--corrupt-fraction", lo=0.0, hi=1.0,
                                     step=0.05, label="fraction of samples corrupted")
    corrupt_max: float = 3.0
    corrupt_modality: Optional[int] = None  # None: each corrupted sample picks one at random
    seed: int = option(0, "seed of the synthetic generator", flag="--data-seed", lo=0, hi=2**31 - 1, label="data seed")
    xor_modalities: Tuple[int, ...] = option(
        (), "synthetic: XOR-coded modalities, hard to learn (their signal hides behind a random per-sample "
        "sign), e.g. m2", flag="--xor", kind="modalities", per="n_modalities", label="hard (XOR-coded) modalities")

    def __post_init__(self) -> None:
        if self.informativeness is not None:
            object.__setattr__(self, "informativeness", tuple(float(v) for v in self.informativeness))
        object.__setattr__(self, "xor_modalities", tuple(int(v) for v in self.xor_modalities))
        check_options(self)  # every declared option within its one range (the widget's)
        cells = self.n_samples * self.n_modalities * self.seq_len * self.dim
        if cells > MAX_CELLS:
            raise ValueError(f"n_samples x n_modalities x seq_len x dim = {cells:,} numbers, above the limit of "
                             f"{MAX_CELLS:,}")
        _validate(self)


def default_informativeness(n: int) -> Tuple[float, ...]:
    """0.9 down to 0.4 over ``n`` modalities (what ``informativeness=None`` means)."""
    return tuple(float(v) for v in np.linspace(0.9, 0.4, n).round(2))


def _validate(cfg: SyntheticConfig) -> Tuple[float, ...]:
    if cfg.rule not in RULES:
        raise ValueError(f"unknown rule '{cfg.rule}'; choose one of {RULES}")
    if cfg.structure not in STRUCTURES:
        raise ValueError(f"unknown structure '{cfg.structure}'; choose one of {STRUCTURES}")
    if cfg.n_modalities < 1 or (cfg.rule in ("dot", "conflict") and cfg.n_modalities < 2):
        raise ValueError(f"rule '{cfg.rule}' needs at least 2 modalities, got {cfg.n_modalities}")
    if cfg.n_classes < 2:
        raise ValueError(f"need at least 2 classes, got {cfg.n_classes}")
    info = cfg.informativeness or default_informativeness(cfg.n_modalities)
    if len(info) != cfg.n_modalities:
        raise ValueError(f"informativeness has {len(info)} values for {cfg.n_modalities} modalities")
    if any(not 0 <= v <= 1 for v in info):
        raise ValueError(f"informativeness values must lie in [0, 1], got {info}")
    bad = [i for i in cfg.xor_modalities if not 0 <= i < cfg.n_modalities]
    if bad:
        raise ValueError(f"xor_modalities {bad} are not modality indices 0..{cfg.n_modalities - 1}")
    if cfg.xor_modalities and cfg.rule == "dot":
        raise ValueError("xor_modalities works with the 'linear' and 'conflict' rules, not 'dot'")
    if not 0 <= cfg.corrupt_fraction <= 1:
        raise ValueError(f"corrupt_fraction must lie in [0, 1], got {cfg.corrupt_fraction}")
    return tuple(float(v) for v in info)


def _observe(signal: np.ndarray, info: float, rng: np.random.Generator, seq_len: int,
             structure: str = "iid") -> np.ndarray:
    """Mix a per-sample signal ``(N, D)`` with unit-variance noise over ``seq_len`` timesteps -> ``(N, T, D)``.

    ``iid``: the noise is drawn afresh at every timestep, so a clean timestep of an uninformative
    modality is mostly unit noise, and replacing it by noise changes little that a per-timestep gate
    could see. ``persistent``: the noise is a per-sample pattern held over time plus a jitter of sd
    ``JITTER`` (same marginal variance), so a sample's clean timesteps agree with each other and a
    noised one does not — the class information (``info``) is the same.
    """
    n, d = signal.shape
    signal = signal / (signal.std() + 1e-8)
    envelope = 1.0 + 0.3 * np.sin(np.linspace(0, np.pi, seq_len))[None, :, None]  # (1, T, 1)
    if structure == "persistent" and seq_len > 1:
        held = rng.standard_normal((n, 1, d))
        noise = np.sqrt(1 - JITTER**2) * held + JITTER * rng.standard_normal((n, seq_len, d))
    else:
        noise = rng.standard_normal((n, seq_len, d))
    return (info * signal[:, None, :] * envelope + np.sqrt(1 - info**2) * noise).astype(np.float32)


def _xor_code(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Feature 0 becomes a carrier ``g ~ N(0, 1)`` per sample; the others are multiplied by
    ``sign(g)``. Every feature's class mean is then 0, yet ``x * sign(g)`` recovers the signal."""
    g = rng.standard_normal((x.shape[0], 1, 1)).astype(np.float32)  # (N, 1, 1)
    out = x * np.sign(g)
    out[:, :, :1] = g
    return out


def _info(cfg: SyntheticConfig) -> DatasetInfo:
    shapes = {f"m{i + 1}": (cfg.seq_len, cfg.dim) for i in range(cfg.n_modalities)}
    return DatasetInfo(shapes, 2 if cfg.rule == "dot" else cfg.n_classes, "generated (fusionlab.data.synthetic)")


@register_dataset("synthetic", "Synthetic modalities with known informativeness and label rule", SyntheticConfig, _info)
def make_synthetic(cfg: Optional[SyntheticConfig] = None, **overrides) -> MultimodalDataset:
    cfg = cfg or SyntheticConfig(**overrides)
    info = _validate(cfg)
    rng = np.random.default_rng(cfg.seed)
    n, m, d = cfg.n_samples, cfg.n_modalities, cfg.dim
    extras = {}
    if cfg.rule == "dot":
        base = [rng.standard_normal((n, d)) for _ in range(m)]
        y = (np.sum(base[0] * base[1], axis=1) > 0).astype(np.int64)
        n_classes = 2
        mods = {f"m{i + 1}": _observe(base[i] if i < 2 else rng.standard_normal((n, d)), info[i] if i < 2 else 0.0, rng,
                                      cfg.seq_len, cfg.structure) for i in range(m)}
    else:
        n_classes = cfg.n_classes
        protos = rng.standard_normal((n_classes, cfg.latent_dim)) * 1.5
        y = rng.integers(0, n_classes, n)
        z = protos[y] + rng.standard_normal((n, cfg.latent_dim))  # (N, k)
        trusted = rng.integers(0, m, n)
        mods = {}
        for i in range(m):
            proj = rng.standard_normal((cfg.latent_dim, d)) / np.sqrt(cfg.latent_dim)
            zi = z
            if cfg.rule == "conflict":
                other = (y + rng.integers(1, n_classes, n)) % n_classes  # a wrong class
                zc = protos[other] + rng.standard_normal((n, cfg.latent_dim))
                zi = np.where((trusted == i)[:, None], z, zc)
            x = _observe(zi @ proj, info[i], rng, cfg.seq_len, cfg.structure)
            if i in cfg.xor_modalities:
                x = _xor_code(x, rng)
            if cfg.rule == "conflict":
                x = x + (trusted != i)[:, None, None] * 0.8 * rng.standard_normal(x.shape).astype(np.float32)
            mods[f"m{i + 1}"] = x
        if cfg.rule == "conflict":
            extras["trusted"] = trusted
    severity = np.zeros((n, m), dtype=np.float32)
    if cfg.corrupt_fraction > 0:
        hit = rng.random(n) < cfg.corrupt_fraction
        which = np.full(n, cfg.corrupt_modality) if cfg.corrupt_modality is not None else rng.integers(0, m, n)
        level = rng.uniform(0, cfg.corrupt_max, n)
        for i, key in enumerate(mods):
            rows = hit & (which == i)
            severity[rows, i] = level[rows]
            sd = mods[key].std(axis=(0, 1), keepdims=True)
            mods[key] = mods[key] + (severity[:, i][:, None, None] * sd * rng.standard_normal(mods[key].shape)).astype(np.float32)
    extras["severity"] = severity
    for i, key in enumerate(mods):  # by name too, so it survives ``select`` and reaches the experts' clean mask
        extras[f"severity_{key}"] = severity[:, i].copy()
    return MultimodalDataset(mods, y.astype(np.int64), [f"class {c}" for c in range(n_classes)],
                             f"synthetic-{cfg.rule}", extras)
