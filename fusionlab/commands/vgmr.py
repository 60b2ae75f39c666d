"""``vgmr`` and ``compare``: the Gates & values page's headless twin (seed 003).

``vgmr`` trains VGMR on a backbone and writes ``gate_stats.csv`` (§4.4), ``removal.csv``
(§4.7, VGMR and the plain backbone) and ``robustness.csv`` (§4.8, both methods, several
seeds). ``compare`` writes ``comparison.csv`` (§4.5) and, with ``--ablation``,
``ablation.csv`` (§4.3).
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from ..data import MultimodalDataset, SplitConfig, load_dataset, prepare
from ..diagnostics.gates import (BACKBONES, VGMR_SYNTHETIC, SweepConfig, backbone_config, gate_finding, gate_stats,
                                 heavy_noise_finding, removal_table, robustness_of, train_seeds)
from ..diagnostics.vgmr_compare import ablation_table, comparison_configs, controlled_comparison
from ..refiners.vgmr import VGMRConfig
from ..train import TrainConfig
from ._common import add_data_args, float_list, out_dir, write_csv, write_json

UCI_SEQUENCE_VIEWS = ("pix", "fou", "mor")


def _common_args(p: argparse.ArgumentParser) -> None:
    add_data_args(p, default="synthetic")
    p.set_defaults(seq_len=VGMR_SYNTHETIC.seq_len, samples=VGMR_SYNTHETIC.n_samples)
    p.add_argument("--informativeness", type=float_list, default=list(VGMR_SYNTHETIC.informativeness),
                   help="synthetic: informativeness per modality (default: one strong, two weak)")
    p.add_argument("--backbone", default="concat", choices=BACKBONES)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lambda-amp", type=float, default=VGMRConfig.lambda_amp, help="VGMR amplification lambda")
    p.add_argument("--rho", type=float, default=VGMRConfig.rho, help="VGMR residual retention rho")
    p.add_argument("--value-rows", type=int, default=VGMRConfig.value_rows,
                   help="rows of each batch the value target is computed on (0: all; fewer is cheaper, noisier)")
    p.add_argument("--out", required=True, help="output directory")


def add_parser(sub) -> None:
    p = sub.add_parser("vgmr", help="VGMR gate statistics, modality removal and robustness (seed 003)")
    _common_args(p)
    p.add_argument("--ratio", type=float, default=0.3, help="§4.4: fraction of timesteps replaced by noise")
    p.add_argument("--weight", type=float, default=1.0, help="§4.4: noise weight (1 replaces)")
    p.add_argument("--seeds", type=int, default=3, help="§4.8: number of seeds for the robustness curves")
    p.set_defaults(func=run_vgmr)
    c = sub.add_parser("compare", help="§4.5 controlled comparison of VGMR with fusion baselines")
    _common_args(c)
    c.add_argument("--ablation", action="store_true", help="also train the §4.3 ablations; writes ablation.csv")
    c.set_defaults(func=run_compare)


def load_sequence_data(args: argparse.Namespace) -> MultimodalDataset:
    """Synthetic sequences (one informative modality) or uci-digits with pix as 16 image rows."""
    if args.dataset == "synthetic":
        n = args.modalities
        info = tuple(args.informativeness)
        if len(info) != n:
            raise ValueError(f"--informativeness has {len(info)} values for {n} modalities")
        cfg = replace(VGMR_SYNTHETIC, n_samples=args.samples, n_modalities=n, seq_len=args.seq_len,
                      informativeness=info, rule=args.rule, seed=args.data_seed)
        ds = load_dataset("synthetic", cfg=cfg)
    elif args.dataset == "uci-digits":
        ds = load_dataset("uci-digits", views=args.views or list(UCI_SEQUENCE_VIEWS), pix_as_sequence=True)
    else:
        raise ValueError(f"vgmr/compare take --dataset synthetic or uci-digits, got '{args.dataset}'")
    return ds


def _setup(args):
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    data = prepare(load_sequence_data(args), SplitConfig(seed=args.seed))
    vcfg = VGMRConfig(lambda_amp=args.lambda_amp, rho=args.rho, value_rows=args.value_rows)
    return data, vcfg, TrainConfig(epochs=args.epochs, seed=args.seed)


def _config(args, data, vcfg, tcfg) -> dict:
    return {"dataset": args.dataset, "views": data.modality_names, "shapes": data.shapes(), "backbone": args.backbone,
            "vgmr": asdict(vcfg), "train": asdict(tcfg)}


def run_vgmr(args) -> int:
    out = out_dir(args.out)
    data, vcfg, tcfg = _setup(args)
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    configs = {"vgmr": backbone_config(args.backbone, vcfg), args.backbone: backbone_config(args.backbone)}
    sweep = SweepConfig(seeds=tuple(range(args.seed, args.seed + args.seeds)))
    models = train_seeds(data, configs, tcfg, sweep.seeds)
    first = {name: models[(name, args.seed)] for name in configs}
    stats = gate_stats(first["vgmr"], data, args.ratio, args.weight, seed=args.seed)
    rob = robustness_of(models, data, sweep)
    write_csv(stats, out / "gate_stats.csv")
    write_csv(removal_table(first, data), out / "removal.csv")
    write_csv(rob, out / "robustness.csv")
    write_json({**_config(args, data, vcfg, tcfg), "ratio": args.ratio, "weight": args.weight,
                "sweep": asdict(sweep)}, out / "config.json")
    print(stats.round(3).to_string(index=False))
    print("gate behaviour (§4.4):\n" + gate_finding(stats).replace("**", ""))
    print("heavy noise (§4.8):\n" + heavy_noise_finding(rob, "vgmr", args.backbone))
    print(f"-> {out}/gate_stats.csv, removal.csv, robustness.csv")
    return 0


def run_compare(args) -> int:
    out = out_dir(args.out)
    data, vcfg, tcfg = _setup(args)
    table = controlled_comparison(data, comparison_configs(data, args.backbone, vcfg), tcfg)
    write_csv(table, out / "comparison.csv")
    print(table.round(4).to_string(index=False))
    if args.ablation:
        abl = ablation_table(data, args.backbone, vcfg, tcfg)
        write_csv(abl, out / "ablation.csv")
        print(abl.round(4).to_string(index=False))
    write_json(_config(args, data, vcfg, tcfg), out / "config.json")
    print(f"-> {out}")
    return 0
