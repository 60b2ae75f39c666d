"""Gate and value diagnostics of VGMR (seed 003 §4.4, §4.7, §4.8; METHODS.md §3).

- ``sample_view``: one test sample, each modality optionally corrupted by ``timestep``
  noise (ratio, weight), run through the frozen model: ``G``, ``G_eff``, ``X~ - X``,
  ``v_g``, ``v_c`` per modality (the page's heatmaps).
- ``gate_stats``: §4.4, clean vs a fraction ``ratio`` of one modality's timesteps
  replaced by noise; mean and sample sd over test samples of the global value, the
  channel value (channel mean), the within-sample channel-value sd and the gate ``G``.
- ``robustness_sweeps``: §4.8, accuracy vs noise ratio at a fixed weight and vs noise
  weight at a fixed ratio, noise on all modalities at once, for several methods and seeds.
- ``gate_finding`` / ``heavy_noise_finding``: plain sentences computed from those numbers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from ..data import SyntheticConfig
from ..data.dataset import PreparedData
from ..models import ModelConfig, build_model
from ..noise import corrupt, corrupt_modalities
from ..refiners.vgmr import VGMRConfig, stack_part
from ..train import TrainConfig, fit, predict
from ..text import signed
from .robustness import modality_removal, noisy_metrics

BACKBONES = ("concat", "transformer")
NOISE = "timestep"
STATS = ("global_value", "channel_value", "channel_sd", "gate")
# Three modalities, the first informative but easy to corrupt, the others weak (T = 8 timesteps).
VGMR_SYNTHETIC = SyntheticConfig(n_samples=1200, n_modalities=3, dim=12, seq_len=8, n_classes=4,
                                 informativeness=(0.35, 0.2, 0.1), seed=0)
Progress = Optional[Callable[[float, str], None]]


def backbone_config(backbone: str = "concat", vgmr: Optional[VGMRConfig] = None, dim: int = 64) -> ModelConfig:
    """The plain backbone (identity encoders: pool, fuse, MLP head), with VGMR in front if given."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone '{backbone}'; choose one of {BACKBONES}")
    return ModelConfig(fusion=backbone, encoder="identity", fusion_dim=dim, refiner="vgmr" if vgmr else None,
                       refiner_options=asdict(vgmr) if vgmr else {})


@dataclass
class SampleView:
    """One sample through a frozen VGMR model; arrays per modality (``(T, D)`` or ``(d,)``)."""

    index: int
    label: int
    pred: int
    probs: np.ndarray
    x: Dict[str, np.ndarray]  # the input the refiner saw (corrupted where asked)
    g: Dict[str, np.ndarray]
    g_eff: Dict[str, np.ndarray]
    diff: Dict[str, np.ndarray]  # X~ - X
    v_g: Dict[str, float]
    v_c: Dict[str, np.ndarray]
    noise: Dict[str, Tuple[float, float]] = field(default_factory=dict)


def corrupt_sample(data: PreparedData, index: int, noise: Mapping[str, Tuple[float, float]], seed: int = 0,
                   split: str = "test") -> Dict[str, torch.Tensor]:
    """Row ``index`` of ``split`` with modality ``m`` corrupted at ``noise[m] = (ratio, weight)``.

    Each modality has its own generator (``seed`` + its position), so moving one
    modality's slider never changes another modality's noise.
    """
    part = getattr(data, split)
    if not 0 <= index < len(part):
        raise ValueError(f"sample index {index} is outside the {split} split of {len(part)} rows")
    unknown = set(noise) - set(part.xs)
    if unknown:
        raise ValueError(f"noise names unknown modalities {sorted(unknown)}; have {list(part.xs)}")
    xs = {}
    for i, (k, v) in enumerate(part.xs.items()):
        x = v[index:index + 1]  # (1, T, D)
        ratio, weight = noise.get(k, (0.0, 1.0))
        gen = torch.Generator().manual_seed(seed + i)
        xs[k] = corrupt(NOISE, x, float(ratio), gen, data.stats[k], weight=float(weight))
    return xs


def sample_view(model: torch.nn.Module, data: PreparedData, index: int,
                noise: Mapping[str, Tuple[float, float]] = {}, seed: int = 0) -> SampleView:
    """Re-run only this one sample (corrupted as asked) through the frozen model."""
    xs = corrupt_sample(data, index, noise, seed)
    out = predict(model, xs)
    names = data.modality_names
    parts = {p: {k: t[0].numpy() for k, t in stack_part(out.extras, p, names).items()}
             for p in ("v_g", "v_c", "G", "G_eff", "X_refined")}
    x = {k: v[0].numpy() for k, v in xs.items()}
    probs = torch.softmax(out.logits, dim=1)[0].numpy()
    return SampleView(index, int(data.test.y[index]), int(probs.argmax()), probs, x, parts["G"], parts["G_eff"],
                      {k: parts["X_refined"][k] - x[k] for k in names}, {k: float(v) for k, v in parts["v_g"].items()},
                      parts["v_c"], dict(noise))


def _per_sample(extras: Mapping[str, torch.Tensor], name: str) -> Dict[str, np.ndarray]:
    """The four §4.4 statistics of modality ``name``, one value per sample."""
    v_g = stack_part(extras, "v_g", [name])[name]  # (N,)
    v_c = stack_part(extras, "v_c", [name])[name]  # (N, d)
    g = stack_part(extras, "G", [name])[name]  # (N, T, D)
    return {"global_value": v_g.numpy(), "channel_value": v_c.mean(1).numpy(),
            "channel_sd": v_c.std(1).numpy(), "gate": g.flatten(1).mean(1).numpy()}


def _summary_row(stats: Dict[str, np.ndarray], modality: str, condition: str) -> dict:
    row = {"modality": modality, "condition": condition}
    for s in STATS:
        row[s] = float(np.mean(stats[s]))
        row[f"{s}_sd"] = float(np.std(stats[s], ddof=1)) if len(stats[s]) > 1 else 0.0
    return row


def gate_stats(model: torch.nn.Module, data: PreparedData, ratio: float = 0.3, weight: float = 1.0, seed: int = 0,
               modalities: Optional[Sequence[str]] = None, split: str = "test") -> pd.DataFrame:
    """§4.4: for each modality, its statistics on clean input and with ``ratio`` of its timesteps noised.

    Columns: ``modality, condition`` (clean | corrupted) and ``global_value, channel_value,
    channel_sd, gate`` (means over samples) with ``_sd`` companions (sample sd).
    """
    part = getattr(data, split)
    names = list(modalities) if modalities is not None else data.modality_names
    clean = predict(model, part.xs).extras
    rows = []
    for k in names:
        noisy_xs = corrupt_modalities(part.xs, {k: ratio}, NOISE, seed, data.stats, weight=weight)
        noisy = predict(model, noisy_xs).extras
        rows.append(_summary_row(_per_sample(clean, k), k, "clean"))
        rows.append(_summary_row(_per_sample(noisy, k), k, "corrupted"))
    return pd.DataFrame(rows)


def gate_differences(stats: pd.DataFrame) -> pd.DataFrame:
    """Corrupted minus clean, per modality: ``modality`` and one column per statistic."""
    wide = stats.set_index(["modality", "condition"])[list(STATS)]
    diff = wide.xs("corrupted", level="condition") - wide.xs("clean", level="condition")
    return diff.reset_index()


def gate_finding(stats: pd.DataFrame, tol: float = 0.005) -> str:
    """Whether, per modality, values rose and the gate fell on corrupted input (as seed 003 found).

    A change smaller than ``tol`` counts as no change.
    """
    lines = []
    for _, d in gate_differences(stats).iterrows():
        rose = d["global_value"] > tol and d["channel_value"] > tol
        fell = d["gate"] < -tol
        nums = (f"global value {signed(d['global_value'])}, channel value {signed(d['channel_value'])}, "
                f"channel sd {signed(d['channel_sd'])}, gate {signed(d['gate'])}")
        if rose and fell:
            verdict = "values rose and the gate fell, as the paper found"
        else:
            parts = [("values rose" if rose else "values did not both rise"),
                     ("the gate fell" if fell else "the gate did not fall")]
            verdict = f"{parts[0]} and {parts[1]}: the paper's finding does NOT hold here"
        lines.append(f"corrupting **{d['modality']}**: {nums} — {verdict}.")
    lines.append(f"(a change smaller than ±{tol:g} counts as no change)")
    return "\n".join(f"- {line}" for line in lines)


@dataclass(frozen=True)
class SweepConfig:
    """§4.8 grids: noise on all modalities; ratio sweep at ``fixed_weight``, weight sweep at ``fixed_ratio``."""

    ratios: Tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    weights: Tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    fixed_weight: float = 1.0
    fixed_ratio: float = 0.5
    seeds: Tuple[int, ...] = (0, 1, 2)


def robustness_sweeps(model: torch.nn.Module, data: PreparedData, method: str, seed: int,
                      sweep: SweepConfig = SweepConfig()) -> pd.DataFrame:
    """One frozen model's accuracy over both §4.8 grids.

    Columns: ``method, seed, sweep`` (ratio | weight) ``, ratio, weight, level, accuracy, macro_f1``.
    """
    names = data.modality_names
    grid = [("ratio", r, sweep.fixed_weight) for r in sweep.ratios] + \
           [("weight", sweep.fixed_ratio, w) for w in sweep.weights]
    rows = []
    for kind, ratio, weight in grid:
        m = noisy_metrics(model, data, {k: ratio for k in names}, NOISE, seed, weight=weight)
        rows.append({"method": method, "seed": seed, "sweep": kind, "ratio": ratio, "weight": weight,
                     "level": ratio if kind == "ratio" else weight, "accuracy": m["accuracy"],
                     "macro_f1": m["macro_f1"]})
    return pd.DataFrame(rows)


def train_seeds(data: PreparedData, configs: Mapping[str, ModelConfig], train_cfg: TrainConfig,
                seeds: Sequence[int], progress: Progress = None) -> Dict[Tuple[str, int], torch.nn.Module]:
    """Train every method once per seed (init and batch order from the seed)."""
    models, jobs = {}, [(name, s) for s in seeds for name in configs]
    for j, (name, s) in enumerate(jobs):
        if progress is not None:
            progress(j / len(jobs), f"training {name}, seed {s} ({j + 1}/{len(jobs)})")
        model = build_model(data.shapes(), data.n_classes, configs[name], seed=s)
        cfg = TrainConfig(**{**asdict(train_cfg), "seed": s})
        models[(name, s)] = fit(model, data, cfg).model
    if progress is not None:
        progress(1.0, "done")
    return models


def multi_seed_robustness(data: PreparedData, configs: Mapping[str, ModelConfig], train_cfg: TrainConfig,
                          sweep: SweepConfig = SweepConfig(), progress: Progress = None) -> pd.DataFrame:
    """§4.8 over ``sweep.seeds``: one row per method, seed and grid point (see ``robustness_sweeps``)."""
    return robustness_of(train_seeds(data, configs, train_cfg, sweep.seeds, progress), data, sweep)


def robustness_of(models: Mapping[Tuple[str, int], torch.nn.Module], data: PreparedData,
                  sweep: SweepConfig = SweepConfig()) -> pd.DataFrame:
    """``robustness_sweeps`` of already trained ``{(method, seed): model}``, concatenated."""
    return pd.concat([robustness_sweeps(m, data, name, s, sweep) for (name, s), m in models.items()],
                     ignore_index=True)


def removal_table(models: Mapping[str, torch.nn.Module], data: PreparedData) -> pd.DataFrame:
    """§4.7 for several methods: ``method, removed, accuracy, macro_f1, accuracy_drop``."""
    parts = [modality_removal(m, data).assign(method=name) for name, m in models.items()]
    df = pd.concat(parts, ignore_index=True)
    return df[["method", "removed", "accuracy", "macro_f1", "accuracy_drop"]]


def heavy_noise_finding(rob: pd.DataFrame, method: str = "vgmr", baseline: str = "concat") -> str:
    """Whether ``method`` beat ``baseline`` at the heaviest point of each sweep (mean ± sd over seeds)."""
    have = set(rob["method"])
    if not {method, baseline} <= have:
        return f"Need both '{method}' and '{baseline}' in the robustness table; have {sorted(have)}."
    lines = []
    for kind, part in rob.groupby("sweep", sort=False):
        top = part["level"].max()
        at = part[part["level"] == top].groupby("method")["accuracy"].agg(["mean", "std"])
        a, b = at.loc[method], at.loc[baseline]
        gap = a["mean"] - b["mean"]
        spread = max(float(np.nan_to_num(a["std"])), float(np.nan_to_num(b["std"])))
        if abs(gap) <= spread:  # a gap inside the seed spread is no evidence either way
            verdict = f"{method} and the {baseline} backbone cannot be told apart (difference {signed(gap)}, within one seed sd)"
        else:
            verdict = f"{method} {'beat' if gap > 0 else 'did not beat'} the {baseline} backbone (difference {signed(gap)})"
        fixed = part["weight"].iloc[0] if kind == "ratio" else part["ratio"].iloc[0]
        other = "weight" if kind == "ratio" else "ratio"
        lines.append(f"noise {kind} {top:g} ({other} {fixed:g}): {method} {a['mean']:.3f} ± {np.nan_to_num(a['std']):.3f} vs "
                     f"{baseline} {b['mean']:.3f} ± {np.nan_to_num(b['std']):.3f} — {verdict}.")
    return "\n".join(f"- {line}" for line in lines)


def sample_table(model: torch.nn.Module, data: PreparedData, split: str = "test") -> pd.DataFrame:
    """One row per sample: ``index, label, pred, correct`` and per modality ``<m>_global_value``,
    ``<m>_gate`` (mean ``G``) — what the page's click-to-pick scatter draws."""
    part = getattr(data, split)
    out = predict(model, part.xs)
    pred = out.logits.argmax(1).numpy()
    y = part.y.numpy()
    df = pd.DataFrame({"index": np.arange(len(y)), "label": y, "pred": pred, "correct": pred == y})
    for k in data.modality_names:
        stats = _per_sample(out.extras, k)
        df[f"{k}_global_value"] = stats["global_value"]
        df[f"{k}_gate"] = stats["gate"]
    return df


def gate_range(cfg: VGMRConfig) -> Tuple[float, float]:
    """The open interval ``G_eff`` lies in: ``rho + (1 - rho)(1 -+ lambda)``."""
    return cfg.rho + (1 - cfg.rho) * (1 - cfg.lambda_amp), cfg.rho + (1 - cfg.rho) * (1 + cfg.lambda_amp)
