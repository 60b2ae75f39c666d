"""Gate and value diagnostics of VGMR (the VGMR paper's §4.4, §4.7, §4.8; docs/methods.md, VGMR).

- ``sample_view``: one test sample, each modality optionally corrupted by ``timestep``
  noise (ratio, weight), run through the frozen model: ``G``, ``G_eff``, ``X~ - X``,
  ``v_g``, ``v_c`` per modality (the page's heatmaps).
- ``gate_stats``: §4.4, clean vs a fraction ``ratio`` of one modality's timesteps
  replaced by noise; mean and sample sd over test samples of the global value, the
  channel value (channel mean), the within-sample channel-value sd and the gate ``G``.
- ``robustness_sweeps``: §4.8, accuracy vs noise ratio at a fixed weight and vs noise
  weight at a fixed ratio, noise on all modalities at once, for several methods and seeds.
- ``gate_findings`` / ``robustness_findings``: typed findings decided from those numbers by the
  shared paired rule (``fusionlab.findings``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from .. import rng
from ..data.dataset import PreparedData
from ..noise import corrupt, corrupt_modalities
from ..refiners.vgmr import VGMRConfig, stack_part
from ..train import predict
from ..papers import CLAIMS
from ..findings import FAILS, HOLDS, UNKNOWN, Finding, describe, direction, from_directions
from .robustness import effective_robustness, modality_removal, noisy_metrics, relative_robustness

NOISE = "timestep"
STATS = ("global_value", "channel_value", "channel_sd", "gate")
SATURATED = 0.01  # a channel value below SATURATED or above 1 - SATURATED counts as saturated


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
    noised: Dict[str, np.ndarray] = field(default_factory=dict)  # (T, D) bool: the cells the noise changed


def corrupt_sample(data: PreparedData, index: int, noise: Mapping[str, Tuple[float, float]], seed: int = 0,
                   split: str = "test") -> Dict[str, torch.Tensor]:
    """Row ``index`` of ``split`` with modality ``m`` corrupted at ``noise[m] = (ratio, weight)``.

    Each modality has its own stream (``rng.streams(seed, modalities)``), so moving one
    modality's slider never changes another modality's noise.
    """
    part = getattr(data, split)
    if not 0 <= index < len(part):
        raise ValueError(f"sample index {index} is outside the {split} split of {len(part)} rows")
    unknown = set(noise) - set(part.xs)
    if unknown:
        raise ValueError(f"noise names unknown modalities {sorted(unknown)}; have {list(part.xs)}")
    xs, gens = {}, rng.streams(seed, tuple(part.xs))  # a stream per modality
    for k, v in part.xs.items():
        x = v[index:index + 1]  # (1, T, D)
        ratio, weight = noise.get(k, (0.0, 1.0))
        xs[k] = corrupt(NOISE, x, float(ratio), gens[k], data.stats[k], weight=float(weight))
    return xs


def corrupt_test(data: PreparedData, noise: Mapping[str, Tuple[float, float]], seed: int = 0,
                 split: str = "test") -> Dict[str, torch.Tensor]:
    """Every row of ``split`` with modality ``m`` corrupted at ``noise[m] = (ratio, weight)`` (the
    page's sliders), each modality from its own stream of ``seed``, as :func:`corrupt_modalities` draws."""
    xs = getattr(data, split).xs
    unknown = set(noise) - set(xs)
    if unknown:
        raise ValueError(f"noise names unknown modalities {sorted(unknown)}; have {list(xs)}")
    gens = rng.streams(seed, tuple(xs))
    return {k: corrupt(NOISE, v, float(noise[k][0]), gens[k], data.stats[k], weight=float(noise[k][1]))
            if k in noise else v for k, v in xs.items()}


def noise_label(noise: Mapping[str, Tuple[float, float]]) -> str:
    """``clean`` or e.g. ``m1 corrupted (ratio 0.30, weight 1)``: the condition column of the signal test."""
    parts = [f"{k} (ratio {r:.2f}, weight {w:g})" for k, (r, w) in noise.items() if r > 0 and w > 0]
    return "clean" if not parts else ", ".join(parts) + " corrupted"


def sample_view(model: torch.nn.Module, data: PreparedData, index: int,
                noise: Mapping[str, Tuple[float, float]] = {}, seed: int = 0) -> SampleView:
    """Re-run only this one sample (corrupted as asked) through the frozen model."""
    xs = corrupt_sample(data, index, noise, seed)
    out = predict(model, xs)
    names = data.modality_names
    parts = {p: {k: t[0].numpy() for k, t in stack_part(out.extras, p, names).items()}
             for p in ("v_g", "v_c", "G", "G_eff", "X_refined")}
    x = {k: v[0].numpy() for k, v in xs.items()}
    noised = {k: x[k] != data.test.xs[k][index].numpy() for k in names}
    probs = torch.softmax(out.logits, dim=1)[0].numpy()
    return SampleView(index, int(data.test.y[index]), int(probs.argmax()), probs, x, parts["G"], parts["G_eff"],
                      {k: parts["X_refined"][k] - x[k] for k in names}, {k: float(v) for k, v in parts["v_g"].items()},
                      parts["v_c"], dict(noise), noised)


def _per_sample(extras: Mapping[str, torch.Tensor], name: str) -> Dict[str, np.ndarray]:
    """The four §4.4 statistics of modality ``name``, one value per sample."""
    v_g = stack_part(extras, "v_g", [name])[name]  # (N,)
    v_c = stack_part(extras, "v_c", [name])[name]  # (N, d)
    g = stack_part(extras, "G", [name])[name]  # (N, T, D)
    return {"global_value": v_g.numpy(), "channel_value": v_c.mean(1).numpy(),
            "channel_sd": v_c.std(1).numpy(), "gate": g.flatten(1).mean(1).numpy()}


def _health(extras: Mapping[str, torch.Tensor], name: str, post_gate_norm: bool = True) -> Dict[str, np.ndarray]:
    """Per sample: the share of its ``v_c`` entries that are saturated, and ``log G_eff``'s sum of
    squares about its mean over all rows, whole and in the part uniform within each timestep.

    A post-gate LayerNorm over channels cancels a factor common to a timestep's channels, and
    ``log G_eff = log(its channel geometric mean) + the rest`` splits the gate exactly into what
    that LayerNorm erases and what reaches ``X~``: ``sum(ss_uniform) / sum(ss)`` is the share erased
    (0 for a model whose LayerNorm is not after the gate: ``post_gate_norm=False``).
    """
    v_c = stack_part(extras, "v_c", [name])[name]  # (N, d)
    log_g = stack_part(extras, "G_eff", [name])[name].clamp_min(1e-12).log().double()  # (N, T, D)
    dev = log_g - log_g.mean()
    uniform = dev.mean(-1, keepdim=True)  # (N, T, 1): the part common to a timestep's channels
    return {"channel_value_saturation": ((v_c < SATURATED) | (v_c > 1 - SATURATED)).double().mean(1).numpy(),
            "g_eff_ss": dev.pow(2).flatten(1).sum(1).numpy(),
            "g_eff_ss_uniform": (uniform.pow(2) * log_g.shape[-1] * float(post_gate_norm)).flatten(1).sum(1).numpy()}


def _summary_row(g: pd.DataFrame, modality: str, condition: str) -> dict:
    row = {"modality": modality, "condition": condition}
    for s in STATS:
        row[s] = float(g[s].mean())
        row[f"{s}_sd"] = float(g[s].std(ddof=1)) if len(g) > 1 else 0.0
    if "channel_value_saturation" in g:
        row["channel_value_saturation"] = float(g["channel_value_saturation"].mean())
        total = float(g["g_eff_ss"].sum())
        row["layernorm_erased_share"] = float(g["g_eff_ss_uniform"].sum()) / total if total > 0 else float("nan")
    row["seeds"] = int(g["seed"].nunique()) if "seed" in g else 1
    row["samples"] = len(g)
    return row


def gate_samples(model: torch.nn.Module, data: PreparedData, ratio: float = 0.3, weight: float = 1.0, seed: int = 0,
                 modalities: Optional[Sequence[str]] = None, split: str = "test") -> pd.DataFrame:
    """§4.4 per test sample: for each modality, its four statistics on clean input and with ``ratio``
    of its timesteps noised. Columns ``modality, condition, row``, one per statistic, and the health
    columns of ``_health`` (the saturated share of ``v_c``, ``log G_eff``'s sums of squares)."""
    part = getattr(data, split)
    names = list(modalities) if modalities is not None else data.modality_names
    clean = predict(model, part.xs).extras
    post_gate = getattr(getattr(model, "refiner", None), "cfg", None)
    post_gate = post_gate is None or getattr(post_gate, "norm", "post-gate") == "post-gate"
    frames = []
    for k in names:
        noisy_xs = corrupt_modalities(part.xs, {k: ratio}, NOISE, seed, data.stats, weight=weight)
        noisy = predict(model, noisy_xs).extras
        for cond, extras in (("clean", clean), ("corrupted", noisy)):
            frames.append(pd.DataFrame({"modality": k, "condition": cond, "row": np.arange(len(part)),
                                        **_per_sample(extras, k), **_health(extras, k, post_gate)}))
    return pd.concat(frames, ignore_index=True)


def gate_stats(model: torch.nn.Module, data: PreparedData, ratio: float = 0.3, weight: float = 1.0, seed: int = 0,
               modalities: Optional[Sequence[str]] = None, split: str = "test") -> pd.DataFrame:
    """§4.4: for each modality, its statistics on clean input and with ``ratio`` of its timesteps noised.

    Columns: ``modality, condition`` (clean | corrupted) and ``global_value, channel_value,
    channel_sd, gate`` (means over samples) with ``_sd`` companions (sample sd).
    """
    return summarise_samples(gate_samples(model, data, ratio, weight, seed, modalities, split))


def summarise_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """Per modality and condition, pooled over rows (and seeds, given a ``seed`` column): mean and
    sample sd of every §4.4 statistic, ``channel_value_saturation`` (share of ``v_c`` entries below
    0.01 or above 0.99), ``layernorm_erased_share`` (share of ``log G_eff``'s variance uniform within
    a timestep, which a post-gate LayerNorm cancels), ``seeds`` and ``samples``."""
    rows = []
    for (k, cond), g in samples.groupby(["modality", "condition"], sort=False):
        rows.append(_summary_row(g, k, cond))
    return pd.DataFrame(rows)


def gate_differences(stats: pd.DataFrame) -> pd.DataFrame:
    """Corrupted minus clean, per modality: ``modality`` and one column per statistic."""
    wide = stats.set_index(["modality", "condition"])[list(STATS)]
    diff = wide.xs("corrupted", level="condition") - wide.xs("clean", level="condition")
    return diff.reset_index()


# the VGMR paper's §4.4 (Table 4.4): corruption raises the global value, the channel value and the channel values'
# spread, and lowers the average gate (papers.CLAIMS["vgmr-gates"])
WANTED = {"global_value": 1, "channel_value": 1, "channel_sd": 1, "gate": -1}
WORD = {1: "rose", -1: "fell", 0: "no change"}


def gate_findings(samples: pd.DataFrame) -> List[Finding]:
    """Per corrupted modality: does each statistic rise or fall (paired over test samples, the shared
    rule), and does the paper's §4.4 pattern (``WANTED``) hold?"""
    out = []
    unit = ["seed", "row"] if "seed" in samples else ["row"]
    for k, g in samples.groupby("modality", sort=False):
        clean = g[g["condition"] == "clean"].set_index(unit)
        bad = g[g["condition"] == "corrupted"].set_index(unit).loc[clean.index]
        dirs, parts = {}, []
        for s in STATS:
            d = (bad[s] - clean[s]).to_numpy()
            dirs[s] = direction(d)
            parts.append(f"{s.replace('_', ' ')} {WORD[dirs[s]]} ({describe(d)})")
        verdict = from_directions(list(WANTED.values()), [dirs[s] for s in WANTED])
        out.append(Finding(f"{k} corrupted, the VGMR paper's §4.4: {CLAIMS['vgmr-gates'].text}", verdict,
                           "; ".join(parts) + " — corrupted minus clean, mean over test samples"
                           + (f" of {g['seed'].nunique()} seeds" if "seed" in g else "")
                           + " [95% interval of the per-sample difference]."))
    return out


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


def robustness_summary(rob: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per method, seed and sweep: relative robustness (area under the accuracy curve over the grid,
    per unit of level) and effective robustness against ``baseline`` with the same seed (docs/methods.md, corruptions and robustness;
    NaN for the baseline itself or a seed it lacks). Columns ``method, seed, sweep, clean_accuracy,
    relative_robustness, effective_robustness``."""
    rows = []
    for (kind, seed), part in rob.groupby(["sweep", "seed"], sort=False):
        curves = {m: g.sort_values("level") for m, g in part.groupby("method", sort=False)}
        base = curves.get(baseline)
        for m, c in curves.items():
            eff = float("nan")
            if base is not None and m != baseline and np.array_equal(c["level"].to_numpy(), base["level"].to_numpy()):
                eff = effective_robustness(c["level"], c["accuracy"], base["accuracy"])
            rows.append({"method": m, "seed": seed, "sweep": kind, "clean_accuracy": float(c["accuracy"].iloc[0]),
                         "relative_robustness": relative_robustness(c["level"], c["accuracy"]),
                         "effective_robustness": eff})
    return pd.DataFrame(rows)


def robustness_findings(rob: pd.DataFrame, method: str = "vgmr", baseline: str = "concat") -> List[Finding]:
    """The VGMR paper §4.8 over the whole curve: is ``method`` more robust than ``baseline``? Per sweep, its
    effective robustness against the baseline (paired by seed: does it lose less accuracy as noise
    grows?) decides; the paired difference in relative robustness is given beside it."""
    have = set(rob["method"])
    claim = f"{method} is more robust than the plain {baseline} backbone (the VGMR paper's §4.8, whole curve)"
    if not {method, baseline} <= have:
        return [Finding(claim, UNKNOWN, f"needs both '{method}' and '{baseline}'; have {sorted(have)}.")]
    summary = robustness_summary(rob, baseline)
    out = []
    for kind, part in summary.groupby("sweep", sort=False):
        wide = part.pivot_table(index="seed", columns="method", values="relative_robustness")
        rel = (wide[method] - wide[baseline]).dropna().to_numpy()
        eff = part.loc[part["method"] == method, "effective_robustness"].dropna().to_numpy()
        grid = rob[rob["sweep"] == kind]
        fixed = grid["weight"].iloc[0] if kind == "ratio" else grid["ratio"].iloc[0]
        other = "weight" if kind == "ratio" else "ratio"
        verdict = {1: HOLDS, -1: FAILS, 0: UNKNOWN}[direction(eff)]
        out.append(Finding(f"{claim}: noise {kind} {grid['level'].min():g}–{grid['level'].max():g} ({other} {fixed:g})",
                           verdict,
                           f"effective robustness of {method} against {baseline} {describe(eff)} (accuracy lost "
                           f"relative to clean, averaged over the grid, minus the backbone's; > 0 is more robust); "
                           f"relative robustness {wide[method].mean():.3f} vs {wide[baseline].mean():.3f}, paired "
                           f"difference {describe(rel)}; {len(eff)} seeds."))
    return out


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
