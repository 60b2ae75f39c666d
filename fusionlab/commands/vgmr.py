"""``vgmr`` and ``compare``: the Gates & values page's headless twin (the VGMR paper, ``experiments.gates``).

``vgmr`` trains VGMR and the plain backbone for ``--seeds`` seeds and writes ``gate_stats.csv``
(§4.4, every seed), ``removal.csv`` (§4.7), ``robustness.csv`` and ``robustness_summary.csv`` (§4.8);
with ``--permute-signals``, ``signal_permutation.csv`` (docs/methods.md, signal permutation test: the first seed's ``v_g``, ``v_c``,
``G_eff`` permuted across test rows, clean and with each modality corrupted at ``--ratio``/``--weight``).
``compare`` trains every §4.5 method on one backbone (transformer by default) for ``--seeds`` seeds and
writes ``comparison.csv`` (mean ± sd, paired difference to VGMR; ``comparison_seeds.csv`` per seed)
and, with ``--ablation``, ``ablation.csv`` (§4.3) likewise.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

COMMANDS = {"vgmr": "VGMR gate statistics, modality removal and robustness (the VGMR paper)",
            "compare": "§4.5 controlled comparison of VGMR with fusion baselines"}


def _common_args(p: argparse.ArgumentParser, backbone: str = "") -> None:
    from ..experiments import gates as study
    from ..refiners.vgmr import VGMRConfig
    from ._common import add_data_args, add_executor_args, add_fusion_args, add_option_args
    d = study.DEFAULT
    add_data_args(p, study.DATASET_NAMES, d.data.name)
    add_executor_args(p)
    p.add_argument("--backbone", default=backbone or d.backbone, choices=study.BACKBONES)
    add_fusion_args(p, study.BACKBONES)
    p.add_argument("--epochs", type=int, default=d.train.epochs)
    p.add_argument("--seed", type=int, default=d.train.seed, help="seeds the split and the (first) training")
    add_option_args(p, VGMRConfig, "VGMR options")
    p.add_argument("--out", required=True, help="output directory")


def add_parser(sub) -> None:
    from ..experiments import gates as study
    d = study.DEFAULT
    p = sub.add_parser("vgmr", help=COMMANDS["vgmr"])
    _common_args(p)
    p.add_argument("--ratio", type=float, default=d.ratio, help="§4.4: fraction of timesteps replaced by noise")
    p.add_argument("--weight", type=float, default=d.weight, help="§4.4: noise weight (1 replaces)")
    p.add_argument("--seeds", type=int, default=d.seeds, help="seeds of every method (§4.4 and §4.8)")
    from ._common import add_attribution_args, add_signal_args
    add_signal_args(p)
    add_attribution_args(p)  # --attribution: of the first seed's VGMR
    p.set_defaults(func=run_vgmr)
    c = sub.add_parser("compare", help=COMMANDS["compare"])
    _common_args(c, backbone="transformer")  # §4.5 runs every method under the paper's Transformer setting
    c.add_argument("--seeds", type=int, default=d.seeds, help="seeds of every method (mean ± sd, paired differences)")
    c.add_argument("--ablation", action="store_true", help="also train the §4.3 ablations; writes ablation.csv")
    from ..fusion import FUSIONS
    from ..refiners.context import PAPER_OPERATORS
    from ._common import csv_list
    c.add_argument("--operators", type=csv_list, default=None,
                   help=f"the fusion operators that take VGMR's place: 'all' or a list of {','.join(FUSIONS.names())} "
                        f"(default the paper's: {','.join(PAPER_OPERATORS)}; the others are not parameter-matched)")
    c.set_defaults(func=run_compare)


def config(args):
    """The study's config from the arguments (what the page builds from its widgets)."""
    from ..experiments import gates as study
    from ..refiners.vgmr import make_config
    from ._common import data_config, fusion_options_of, options_from, signal_config
    d = study.DEFAULT
    vgmr = make_config({**vars(d.vgmr), **options_from(args, d.vgmr)})
    extra = {k: getattr(args, k) for k in ("ratio", "weight", "seeds") if getattr(args, k, None) is not None}
    if getattr(args, "permute_signals", False):
        extra["signals"] = signal_config(args)
    return replace(d, data=data_config(args, study.DATASET_NAMES, study.DATA_DEFAULTS, d.data.name), backbone=args.backbone,
                   backbone_options=fusion_options_of(args, args.backbone, study.BACKBONES), vgmr=vgmr, train=replace(d.train, epochs=args.epochs, seed=args.seed), **extra)


def run_vgmr(args) -> int:
    from ..experiments import gates as study
    from ._common import (attribution_of, check_out, print_findings, print_signal_table, result_set, run_with_jobs,
                          write_attribution, write_json, write_tables)
    out = check_out(args.out)
    cfg = config(args)
    result = run_with_jobs(args, study.run, cfg, "vgmr")
    first = result.artifacts.models.get(("vgmr", cfg.train.seed))  # the first seed's VGMR, the page's model
    att = attribution_of(args, first, result.artifacts.data) if first is not None else None
    with result_set(out, "vgmr") as d:
        write_tables(result, d, ("gate_stats", "removal", "robustness", "robustness_summary", "signal_permutation"))
        if att is not None:
            write_attribution(att, d)
        write_json(result.config, d / "config.json")
    print(result.tables["gate_stats"].round(3).to_string(index=False))
    print_signal_table(result)
    print_findings(result.findings)
    print(f"-> {out}/gate_stats.csv, removal.csv, robustness.csv, robustness_summary.csv"
          + (", signal_permutation.csv" if "signal_permutation" in result.tables else ""))
    return 0


def comparison_operators(names) -> tuple:
    """``--operators``: the paper's five, every registered operator ('all'), or those named (each checked)."""
    from ..fusion import FUSIONS
    from ..refiners.context import PAPER_OPERATORS
    if not names:
        return PAPER_OPERATORS
    if names == ["all"]:
        return tuple(FUSIONS.names())
    for n in names:
        FUSIONS.get(n)  # an unknown name is a one-line error naming the registered ones
    return tuple(names)


def run_compare(args) -> int:
    from ..experiments import gates_compare
    from ._common import check_out, print_findings, result_set, run_with_jobs, write_json, write_tables
    out = check_out(args.out)
    result = run_with_jobs(args, gates_compare.run, config(args), "compare", ablation=args.ablation,
                           operators=comparison_operators(args.operators))
    with result_set(out, "compare") as d:
        write_tables(result, d, ("comparison", "comparison_seeds", "ablation", "ablation_seeds"))
        write_json(result.config, d / "config.json")
    for name in ("comparison", "ablation"):
        if name in result.tables:
            print(result.tables[name].round(4).to_string(index=False))
    print_findings(result.findings)
    print(f"-> {out}")
    return 0
