"""``vgmr`` and ``compare``: the Gates & values page's headless twin (seed 003, ``experiments.gates``).

``vgmr`` trains VGMR and the plain backbone for ``--seeds`` seeds and writes ``gate_stats.csv``
(§4.4), ``removal.csv`` (§4.7) and ``robustness.csv`` (§4.8). ``compare`` writes
``comparison.csv`` (§4.5) and, with ``--ablation``, ``ablation.csv`` (§4.3).
"""
from __future__ import annotations

import argparse
from dataclasses import replace

COMMANDS = {"vgmr": "VGMR gate statistics, modality removal and robustness (seed 003)",
            "compare": "§4.5 controlled comparison of VGMR with fusion baselines"}


def _common_args(p: argparse.ArgumentParser) -> None:
    from ..experiments import gates as study
    from ._common import add_data_args, add_executor_args
    d = study.DEFAULT
    add_data_args(p, study.DATASET_NAMES, d.data.name)
    add_executor_args(p)
    p.add_argument("--backbone", default=d.backbone, choices=study.BACKBONES)
    p.add_argument("--epochs", type=int, default=d.train.epochs)
    p.add_argument("--seed", type=int, default=d.train.seed, help="seeds the split and the (first) training")
    p.add_argument("--lambda-amp", type=float, default=d.vgmr.lambda_amp, help="VGMR amplification lambda")
    p.add_argument("--rho", type=float, default=d.vgmr.rho, help="VGMR residual retention rho")
    p.add_argument("--value-rows", type=int, default=d.vgmr.value_rows,
                   help="rows of each batch the value target is computed on (0: all; fewer is cheaper, noisier)")
    p.add_argument("--out", required=True, help="output directory")


def add_parser(sub) -> None:
    from ..experiments import gates as study
    d = study.DEFAULT
    p = sub.add_parser("vgmr", help=COMMANDS["vgmr"])
    _common_args(p)
    p.add_argument("--ratio", type=float, default=d.ratio, help="§4.4: fraction of timesteps replaced by noise")
    p.add_argument("--weight", type=float, default=d.weight, help="§4.4: noise weight (1 replaces)")
    p.add_argument("--seeds", type=int, default=d.seeds, help="§4.8: number of seeds for the robustness curves")
    p.set_defaults(func=run_vgmr)
    c = sub.add_parser("compare", help=COMMANDS["compare"])
    _common_args(c)
    c.add_argument("--ablation", action="store_true", help="also train the §4.3 ablations; writes ablation.csv")
    c.set_defaults(func=run_compare)


def config(args):
    """The study's config from the arguments (what the page builds from its widgets)."""
    from ..experiments import gates as study
    from ..refiners.vgmr import make_config
    from ._common import data_config
    d = study.DEFAULT
    vgmr = make_config({**vars(d.vgmr), "lambda_amp": args.lambda_amp, "rho": args.rho, "value_rows": args.value_rows})
    extra = {k: getattr(args, k) for k in ("ratio", "weight", "seeds") if hasattr(args, k)}
    return replace(d, data=data_config(args, study.DATASET_NAMES, study.DATA_DEFAULTS), backbone=args.backbone,
                   vgmr=vgmr, train=replace(d.train, epochs=args.epochs, seed=args.seed), **extra)


def run_vgmr(args) -> int:
    from ..experiments import gates as study
    from ._common import check_out, print_findings, result_set, run_with_jobs, write_json, write_tables
    out = check_out(args.out)
    result = run_with_jobs(args, study.run, config(args), "vgmr")
    with result_set(out, "vgmr") as d:
        write_tables(result, d, ("gate_stats", "removal", "robustness"))
        write_json(result.config, d / "config.json")
    print(result.tables["gate_stats"].round(3).to_string(index=False))
    print_findings(result.findings)
    print(f"-> {out}/gate_stats.csv, removal.csv, robustness.csv")
    return 0


def run_compare(args) -> int:
    from ..experiments import gates_compare
    from ._common import check_out, result_set, run_with_jobs, write_json, write_tables
    out = check_out(args.out)
    result = run_with_jobs(args, gates_compare.run, config(args), "compare", ablation=args.ablation)
    with result_set(out, "compare") as d:
        write_tables(result, d, ("comparison", "ablation"))
        write_json(result.config, d / "config.json")
    for name in ("comparison", "ablation"):
        if name in result.tables:
            print(result.tables[name].round(4).to_string(index=False))
    print(f"-> {out}")
    return 0
