"""``udml``: the Uncertainty-weighting page's headless twin (seed 001, UDML).

Trains static / pe / udml_no_alpha / udml with ``--seeds`` seeds (S, S+1, ...) and writes
``estimator.csv`` (method, modality, injected, predicted, seed), ``weights.csv``,
``alpha.json``, ``robustness.csv`` and ``summary.json`` (Spearman ρ per method and
modality, clean and noisy accuracy per method, and the paper's findings judged from
these numbers).
"""
from __future__ import annotations

import argparse
from dataclasses import asdict

import pandas as pd

from ..data import SplitConfig, SyntheticConfig, load_dataset, prepare
from ..diagnostics.udml import (accuracy_table, alpha_table, findings, per_sample_levels, robustness_table,
                                sample_weights, spearman_table, study_response)
from ..refiners.udml import ALPHA_MODES, METHODS, UDMLConfig
from ..refiners.udml_train import INTENSITY_MAPS, UDMLTrainConfig, default_level_scale, max_level, train_study
from ._common import add_data_args, csv_list, float_list, load_from_args, out_dir, write_csv, write_json



def add_parser(sub) -> None:
    p = sub.add_parser("udml", help="UDML vs static / PE: estimator response, weights, alpha, robustness")
    add_data_args(p, default="synthetic")
    p.set_defaults(modalities=2)
    p.add_argument("--informativeness", type=float_list, default=[0.45, 0.9],
                   help="synthetic: informativeness per modality (default: the dual-suppression preset)")
    p.add_argument("--hard", default="m2", help="synthetic: the XOR-coded (hard to learn) modality, or 'none'")
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (S, S+1, ...)")
    p.add_argument("--clean-epochs", type=int, default=2, help="E1: clean epochs before the training noise")
    p.add_argument("--weight-delay", type=int, default=10, help="training weights fixed to 1 until E1 + this")
    p.add_argument("--gamma", type=float, default=3.0, help="weight of the unimodal cross-entropies")
    p.add_argument("--beta", type=float, default=1e-3, help="weight of the KL term")
    p.add_argument("--alpha-mode", default="logit", choices=ALPHA_MODES)
    p.add_argument("--intensity-map", default="variance", choices=INTENSITY_MAPS,
                   help="training noise of intensity t >= 2 (t = 1 clean): 'variance' sd sqrt(t), 'sd' sd t, "
                        "'linear' sd scale*(t-1)")
    p.add_argument("--level-scale", type=float, default=None,
                   help="multiplies every noise sd (default 1; 0.3 for 'linear')")
    p.add_argument("--methods", type=csv_list, default=None, help=f"subset of {','.join(METHODS.names())}")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_udml)


def _data(args):
    if args.dataset != "synthetic":
        ds = load_from_args(args)
        return ds, None
    names = [f"m{i + 1}" for i in range(args.modalities)]
    if args.hard not in names + ["none"]:
        raise ValueError(f"--hard must be one of {names + ['none']}, got '{args.hard}'")
    xor = () if args.hard == "none" else (names.index(args.hard),)
    cfg = SyntheticConfig(n_samples=args.samples, n_modalities=args.modalities, seq_len=args.seq_len,
                          informativeness=tuple(args.informativeness), rule=args.rule, seed=args.data_seed,
                          xor_modalities=xor)
    return load_dataset("synthetic", cfg=cfg), (None if args.hard == "none" else args.hard)


def _nested(df: pd.DataFrame, value: str) -> dict:
    """``{method: {modality: mean over seeds}}``."""
    means = df.groupby(["method", "modality"], sort=False)[value].mean()
    return {meth: {mod: float(v) for (m2, mod), v in means.items() if m2 == meth} for meth in dict.fromkeys(df["method"])}


def summary(spear: pd.DataFrame, acc: pd.DataFrame, hard, config: dict) -> dict:
    per = acc.groupby("method", sort=False)
    accuracy = {meth: {"clean": float(g["clean"].mean()), "clean_sd": float(g["clean"].std(ddof=0)),
                       "noisy": float(g["noisy"].mean()), "noisy_sd": float(g["noisy"].std(ddof=0))}
                for meth, g in per}
    weights = {meth: {c.split("/", 1)[1]: float(g[c].mean()) for c in acc if c.startswith("weight/")}
               for meth, g in per}
    return {"spearman": _nested(spear, "spearman"), "monotone_fraction": _nested(spear, "monotone"),
            "accuracy": accuracy, "mean_clean_weight": weights,
            "findings": [asdict(f) for f in findings(spear, acc, hard)], "config": config}


def run_udml(args) -> int:
    if args.epochs < 1 or args.seeds < 1:
        raise ValueError(f"--epochs and --seeds must be at least 1, got {args.epochs} and {args.seeds}")
    out = out_dir(args.out)
    ds, hard = _data(args)
    data = prepare(ds, SplitConfig(seed=args.seed))
    mcfg = UDMLConfig(gamma=args.gamma, beta=args.beta, alpha_mode=args.alpha_mode)
    tcfg = UDMLTrainConfig(epochs=args.epochs, clean_epochs=args.clean_epochs, weight_delay=args.weight_delay,
                           intensity_map=args.intensity_map,
                           level_scale=(default_level_scale(args.intensity_map) if args.level_scale is None
                                        else args.level_scale))
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    study = train_study(data, mcfg, tcfg, args.methods or METHODS.names(), seeds)
    resp = study_response(study)
    spear = spearman_table(resp)
    top = max_level(tcfg)  # weights.csv: level ~ U(0, top) per sample
    levels = per_sample_levels(len(data.test), {k: top for k in data.modality_names}, args.seed)
    weights = pd.concat([sample_weights(study, m, s, levels) for m, s in study.models], ignore_index=True)
    alpha = alpha_table(study)
    acc = accuracy_table(study)
    config = {"dataset": data.name, "modalities": data.modality_names, "hard": hard, "seeds": list(seeds),
              "model": asdict(mcfg), "train": asdict(tcfg)}
    write_csv(resp[["method", "modality", "injected", "predicted", "seed"]], out / "estimator.csv")
    write_csv(weights, out / "weights.csv")
    write_json({"alpha": _nested(alpha, "alpha"), "per_seed": alpha.to_dict(orient="records")}, out / "alpha.json")
    write_csv(robustness_table(study), out / "robustness.csv")
    result = summary(spear, acc, hard, config)
    write_json(result, out / "summary.json")
    for meth, rho in result["spearman"].items():
        print(f"spearman {meth}: " + ", ".join(f"{k} {v:.3f}" for k, v in rho.items()))
    for meth, a in result["accuracy"].items():
        print(f"accuracy {meth}: clean {a['clean']:.3f} ± {a['clean_sd']:.3f}, noisy {a['noisy']:.3f} ± {a['noisy_sd']:.3f}")
    for f in result["findings"]:
        print(f"[{'holds' if f['holds'] else 'does not hold' if f['holds'] is False else 'cannot tell'}] {f['claim']}")
    print(f"-> {out}")
    return 0
