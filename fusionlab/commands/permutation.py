"""``permutation``: the Reliability permutation page's headless twin (METHODS.md §5, seed 000).

    python -m fusionlab permutation --dataset uci-digits --views fou,kar,mor --permutations 200 \\
        --seed 0 --out DIR [--control aligned --fidelity F | --control corruption --rate K] \\
        [--corrupt MODALITY --fraction F] [--folds 5 --repeats 3] [--joint]

Writes ``DIR/permutation.csv`` (one row per (score, rule), mean over runs, ``*_sd`` columns),
``DIR/permutation_runs.csv`` (every seed x fold) and ``DIR/config.json``.
"""
from __future__ import annotations

from dataclasses import replace

from ..diagnostics.experts import EXPERTS, ExpertConfig, RowCorruption
from ..diagnostics.permutation import PermutationConfig
from ..diagnostics.permutation_runs import DiagnosticConfig, repeated, summarise
from ..diagnostics.quality import QualityConfig, real_scores
from ..noise import CORRUPTIONS
from ._common import add_data_args, csv_list, load_from_args, out_dir, write_csv, write_json

FIRST = ["score", "rule", "metric_clean", "metric_broken_mean", "delta", "p_value", "oracle_headroom", "rho"]


def add_parser(sub) -> None:
    p = sub.add_parser("permutation", help="reliability permutation test of quality-aware fusion rules; "
                                           "writes permutation.csv")
    add_data_args(p)
    p.add_argument("--permutations", type=int, default=200, help="K permutations of Q across test rows")
    p.add_argument("--joint", action="store_true", help="one joint permutation for all modalities")
    p.add_argument("--tau", type=float, default=0.1, help="temperature of the softmax rule")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1, help="seeds seed .. seed+repeats-1")
    p.add_argument("--folds", type=int, default=0, help=">= 2: stratified folds per seed (else one split)")
    p.add_argument("--scores", type=csv_list, default=None, help=f"quality scores (default {','.join(real_scores())})")
    p.add_argument("--expert", default="logreg", choices=EXPERTS.names())
    p.add_argument("--control", choices=["aligned", "corruption"], default=None,
                   help="add a POSITIVE CONTROL (uses test correctness on purpose)")
    p.add_argument("--fidelity", type=float, default=1.0, help="control aligned: 0 random .. 1 perfect")
    p.add_argument("--rate", type=float, default=0.3, help="control corruption: rate k")
    p.add_argument("--corrupt", default="", metavar="MODALITY", help="corrupt a fraction of this modality's rows")
    p.add_argument("--fraction", type=float, default=0.5, help="with --corrupt: fraction of rows corrupted")
    p.add_argument("--corrupt-noise", default="mix", choices=CORRUPTIONS.names())
    p.add_argument("--max-level", type=float, default=1.0, help="with --corrupt: severity ~ U(0.3 max, max)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_permutation)


def config_from_args(args) -> DiagnosticConfig:
    if args.permutations < 1:
        raise ValueError(f"--permutations must be at least 1, got {args.permutations}")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    scores = list(args.scores or real_scores())
    if args.control:
        scores.append(f"control-{args.control}")
    return DiagnosticConfig(
        scores=tuple(scores), expert=ExpertConfig(kind=args.expert),
        quality=QualityConfig(fidelity=args.fidelity, rate=args.rate),
        permutation=PermutationConfig(permutations=args.permutations, joint=args.joint, tau=args.tau),
        corruption=RowCorruption(modality=args.corrupt, fraction=args.fraction if args.corrupt else 0.0,
                                 noise=args.corrupt_noise, max_level=args.max_level,
                                 min_level=0.3 * args.max_level),
    )


def run_permutation(args) -> int:
    out = out_dir(args.out)
    ds = load_from_args(args)
    cfg = config_from_args(args)
    runs = repeated(ds, cfg, list(range(args.seed, args.seed + args.repeats)), args.folds)
    table = summarise(runs)
    table = table[FIRST + [c for c in table.columns if c not in FIRST]]
    write_csv(runs, out / "permutation_runs.csv")
    write_csv(table, out / "permutation.csv")
    write_json({"dataset": ds.name, "views": ds.modality_names, "repeats": args.repeats, "folds": args.folds,
                "config": replace(cfg, seed=args.seed).record()}, out / "config.json")
    show = table[FIRST].copy()
    print(show.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"{len(runs)} rows over {runs[['seed', 'fold']].drop_duplicates().shape[0]} run(s) -> {out / 'permutation.csv'}")
    return 0
