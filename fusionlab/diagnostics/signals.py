"""Does the decision depend on a learned signal, or on a modality at all? (docs/methods.md, signal permutation test and §5)

The reliability paper's Broken-Q test asks whether a fused decision depends on decision-level quality scores.
:func:`signal_permutation` asks the same of the per-sample signals a feature-level model computes
and then uses (VGMR's ``v_g``, ``v_c``, ``G_eff``; UDML's ``w_m``; the ``gated`` operator's ``z``):
with the trained model frozen (evaluation mode), the signal of test row ``i`` is replaced by that of
row ``pi(i)`` and the rest of the forward pass runs (``fusionlab.signals``). One row per signal and
modality, and one per signal with every modality's signal permuted at once (``modality = "all"``).

:func:`input_permutation` is the companion test of §5, the *perceptual score* (Gat et al., 2021):
modality ``m``'s **inputs** are permuted across test rows, the model unchanged.

Both report what :func:`.permutation.broken_q_test` reports, with its machinery (permutations,
confusion counts, ``p = (1 + #{k : metric_k >= metric_clean}) / (K + 1)``):
``metric_clean``, ``metric_broken_mean``, ``delta``, ``p_value`` in balanced accuracy, and the same
in macro-F1. Several permutations run as one forward pass: the replaced signal holds one permuted
copy of the test rows per permutation, stacked, and the model runs the rest of its pass on them with
everything upstream of the signal computed once (``fusionlab.signals``). The clean metric comes from
the same layout (the first variant is the identity), so a signal the decision ignores gives
``delta = 0`` and ``p = 1`` exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from ..findings import FAILS, HOLDS, PARTLY, Finding
from ..limits import MAX_PERMUTATIONS
from ..signals import Signal, repeat_rows
from ..data.lazy import materialise
from .permutation import PermutationConfig, PermutationResult, confusion_counts, metrics_from_counts, \
    p_value, permutation_indices

ALL = "all"  # the row that permutes every modality's signal (or input) at once
ROWS_PER_PASS = 4096  # stacked test rows per forward pass (bounds memory; 2048-16384 measured, 4096 fastest)


@dataclass(frozen=True)
class SignalTestConfig:
    """``permutations`` K; ``joint``: the ``all`` row uses one permutation for every modality."""

    permutations: int = 200
    joint: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.permutations <= MAX_PERMUTATIONS:
            raise ValueError(f"permutations must be in [1, {MAX_PERMUTATIONS:,}], got {self.permutations}")


@dataclass(frozen=True)
class Target:
    """What one table row permutes. ``build(index, xs)`` takes the row order of ``c`` stacked
    variants per permuted modality (``(c N,)``, values in ``[0, N)``) and the test inputs, and gives
    one forward pass's inputs and ``replace``."""

    label: Dict[str, str]  # the table's identifying columns, e.g. {"signal": "G_eff", "modality": "pix"}
    modalities: Tuple[str, ...]  # the modalities whose rows are permuted
    build: Callable[[Dict[str, torch.Tensor], Mapping[str, torch.Tensor]], Tuple[Dict, Dict]]


def _metrics(pred: np.ndarray, y: np.ndarray, n_classes: int) -> Dict[str, np.ndarray]:
    return metrics_from_counts(confusion_counts(y, pred, n_classes))


def _permutations(n: int, names: Sequence[str], cfg: SignalTestConfig) -> Dict[str, np.ndarray]:
    """``(K, N)`` row permutations per modality, plus the ``all`` row's ``(K, M, N)``; from ``cfg.seed``."""
    base = PermutationConfig(permutations=cfg.permutations, seed=cfg.seed)
    own = permutation_indices(n, len(names), base)  # (K, M, N), one stream per modality
    shared = permutation_indices(n, 1, PermutationConfig(permutations=cfg.permutations, seed=cfg.seed, joint=True))
    return {"own": own, "shared": shared}


def _run(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], y: torch.Tensor, n_classes: int,
         targets: Sequence[Target], cfg: SignalTestConfig) -> PermutationResult:
    xs = materialise(xs)  # a split read from disk (data.lazy) is permuted whole
    names = list(xs)
    y_np = np.asarray(y, dtype=np.int64)
    n = len(y_np)
    if n < 2:
        raise ValueError(f"a permutation test needs at least 2 test rows, got {n}")
    perms = _permutations(n, names, cfg)
    chunk = max(1, min(cfg.permutations + 1, ROWS_PER_PASS // n))
    was_training = model.training
    model.eval()
    rows, nulls = [], []
    try:
        with torch.inference_mode():
            for target in targets:
                # block 0 is the identity (the clean pass), blocks 1..K the permutations
                order = {}
                for j, k in enumerate(names):
                    if k not in target.modalities:
                        continue
                    p = perms["shared"][:, 0] if (cfg.joint and len(target.modalities) > 1) else perms["own"][:, j]
                    order[k] = np.concatenate([np.arange(n)[None], p])  # (K + 1, N)
                preds = []
                for start in range(0, cfg.permutations + 1, chunk):
                    c = min(chunk, cfg.permutations + 1 - start)
                    index = {k: torch.from_numpy(np.ascontiguousarray(o[start:start + c]).ravel().astype(np.int64))
                             for k, o in order.items()}
                    inputs, replace = target.build(index, xs)
                    out = model(inputs, replace=replace) if replace else model(inputs)
                    logits = out.logits if hasattr(out, "logits") else out
                    preds.append(logits.argmax(-1).view(c, n).numpy())
                pred = np.concatenate(preds)  # (K + 1, N)
                metrics = _metrics(pred, y_np, n_classes)
                clean = {k: float(v[0]) for k, v in metrics.items()}
                null = {k: v[1:] for k, v in metrics.items()}
                ba, f1 = null["balanced_accuracy"], null["macro_f1"]
                rows.append({**target.label, "metric": "balanced_accuracy",
                             "metric_clean": clean["balanced_accuracy"], "metric_broken_mean": float(ba.mean()),
                             "delta": float(np.mean(clean["balanced_accuracy"] - ba)),
                             "p_value": p_value(ba, clean["balanced_accuracy"]),
                             "f1_clean": clean["macro_f1"], "f1_broken_mean": float(f1.mean()),
                             "f1_delta": float(np.mean(clean["macro_f1"] - f1)),
                             "f1_p_value": p_value(f1, clean["macro_f1"]),
                             "permutations": cfg.permutations, "joint": cfg.joint, "n_test": n})
                nulls.append(pd.DataFrame({**target.label, "k": np.arange(cfg.permutations),
                                           "metric_clean": clean["balanced_accuracy"], **null}))
    finally:
        model.train(was_training)
    return PermutationResult(pd.DataFrame(rows), pd.concat(nulls, ignore_index=True))


def declared_signals(model: torch.nn.Module) -> Dict[str, Signal]:
    """What the model declares (``model.signals()``); ``{}`` for a model with none."""
    return dict(model.signals()) if hasattr(model, "signals") else {}


def signal_targets(signals: Mapping[str, Signal], names: Sequence[str]) -> List[Target]:
    """One target per signal and modality, and one per signal over all its modalities."""
    by_name: Dict[str, Dict[str, str]] = {}
    for key, sig in signals.items():
        by_name.setdefault(sig.name, {})[sig.modality] = key
    targets = []
    for name, keys in by_name.items():
        groups = [(m,) for m in names if m in keys] + ([tuple(m for m in names if m in keys)] if len(keys) > 1 else [])
        for mods in groups:
            def build(index, xs, keys=keys, mods=mods):
                return dict(xs), {keys[m]: (lambda v, i=index[m]: v[i]) for m in mods}
            targets.append(Target({"signal": name, "modality": mods[0] if len(mods) == 1 else ALL}, mods, build))
    return targets


def signal_permutation(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], y, n_classes: int,
                       cfg: SignalTestConfig = SignalTestConfig(), signals: Optional[Sequence[str]] = None
                       ) -> PermutationResult:
    """Permute each declared signal across the rows of ``xs`` (clean or corrupted test inputs).

    ``signals``: names to test (``["G_eff"]``); all declared ones by default. ``table`` has
    ``signal, modality, metric_clean, metric_broken_mean, delta, p_value`` (and macro-F1 twins).
    """
    declared = declared_signals(model)
    if signals is not None:
        unknown = sorted(set(signals) - {s.name for s in declared.values()})
        if unknown:
            raise ValueError(f"the model has no signal(s) {unknown}; it declares "
                             f"{sorted({s.name for s in declared.values()}) or 'none'}")
        declared = {k: s for k, s in declared.items() if s.name in signals}
    if not declared:
        raise ValueError(f"{type(model).__name__} declares no per-sample signal to permute "
                         "(VGMR, UDML and the 'gated' operator do)")
    return _run(model, xs, y, n_classes, signal_targets(declared, list(xs)), cfg)


def input_targets(names: Sequence[str]) -> List[Target]:
    """One target per modality's inputs, and one with every modality's inputs permuted."""
    groups = [(m,) for m in names] + ([tuple(names)] if len(names) > 1 else [])
    targets = []
    for mods in groups:
        def build(index, xs, mods=mods):
            c = len(next(iter(index.values()))) // len(next(iter(xs.values())))
            return {k: (v[index[k]] if k in mods else repeat_rows(v, c * len(v))) for k, v in xs.items()}, {}
        targets.append(Target({"modality": mods[0] if len(mods) == 1 else ALL}, mods, build))
    return targets


def input_permutation(model: torch.nn.Module, xs: Mapping[str, torch.Tensor], y, n_classes: int,
                      cfg: SignalTestConfig = SignalTestConfig()) -> PermutationResult:
    """The perceptual score (docs/methods.md, reliability permutation test): permute modality ``m``'s inputs across test rows.

    ``table`` has ``modality, metric_clean, metric_permuted_mean, delta, p_value`` (and macro-F1).
    """
    res = _run(model, xs, y, n_classes, input_targets(list(xs)), cfg)
    table = res.table.rename(columns={"metric_broken_mean": "metric_permuted_mean",
                                      "f1_broken_mean": "f1_permuted_mean"})
    return PermutationResult(table, res.null)


def over_conditions(test, model: torch.nn.Module, conditions: Mapping[str, Mapping[str, torch.Tensor]], y,
                    n_classes: int, cfg: SignalTestConfig = SignalTestConfig(), **options) -> PermutationResult:
    """``test`` (:func:`signal_permutation` or :func:`input_permutation`) on each of ``conditions``
    (``{"clean": xs, "m1 corrupted": xs'}``): tables stacked with a ``condition`` column first."""
    parts = [(name, test(model, xs, y, n_classes, cfg, **options)) for name, xs in conditions.items()]
    table = pd.concat([r.table.assign(condition=name) for name, r in parts], ignore_index=True)
    null = pd.concat([r.null.assign(condition=name) for name, r in parts], ignore_index=True)
    first = ["condition"] + [c for c in table.columns if c != "condition"]
    return PermutationResult(table[first], null)


GROUPS = ("method", "condition", "signal")  # the columns a finding is made per, where present


def signal_findings(table: pd.DataFrame, alpha: float = 0.05) -> List[Finding]:
    """Per signal (and method and condition, where the table has them): does the decision depend on
    it? *holds* when permuting every modality's signal at once (the ``all`` row; the only row for one
    modality) costs balanced accuracy significantly (``p <= alpha``, ``delta > 0``), *partly* when only
    some modality's row does, *does not hold* when no row does."""
    by = [c for c in GROUPS if c in table]
    out = []
    for keys, g in table.groupby(by, sort=False):
        label = dict(zip(by, keys if isinstance(keys, tuple) else (keys,)))
        hurt = (g["p_value"] <= alpha) & (g["delta"] > 0)
        whole = g.index[g["modality"] == ALL] if (g["modality"] == ALL).any() else g.index
        verdict = HOLDS if bool(hurt[whole].any()) else PARTLY if bool(hurt.any()) else FAILS
        evidence = "; ".join(f"{r.modality}: delta {r.delta:+.3f}, p {r.p_value:.3f}" for r in g.itertuples())
        where = ", ".join(str(label[c]) for c in ("method", "condition") if c in label)
        out.append(Finding(f"The decision depends on {label['signal']}" + (f" ({where})" if where else ""), verdict,
                           f"{evidence} (balanced accuracy, {int(g['permutations'].iloc[0])} permutations, "
                           f"significant at p <= {alpha:g})"))
    return out


def input_findings(table: pd.DataFrame, alpha: float = 0.05) -> List[Finding]:
    """Per modality (and condition, where present): does the decision use its inputs? *holds* when
    permuting them costs balanced accuracy significantly (``p <= alpha``, ``delta > 0``)."""
    out = []
    for r in table[table["modality"] != ALL].itertuples():
        where = f" ({r.condition})" if "condition" in table else ""
        hurt = r.p_value <= alpha and r.delta > 0
        out.append(Finding(f"The decision uses {r.modality}{where}", HOLDS if hurt else FAILS,
                           f"permuting its inputs: delta {r.delta:+.3f} balanced accuracy, p {r.p_value:.3f} "
                           f"({int(r.permutations)} permutations, significant at p <= {alpha:g})"))
    return out
