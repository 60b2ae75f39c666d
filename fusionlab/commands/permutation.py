"""``permutation``: the Reliability permutation page's headless twin (docs/methods.md, reliability permutation test, the reliability paper).

    python -m fusionlab permutation --dataset uci-digits --views fou,kar,mor --permutations 200 \\
        --seed 0 --out DIR [--control aligned --fidelity F | --control corruption --rate K] \\
        [--corrupt MODALITY --fraction F] [--folds 5 --repeats 3] [--joint] [--observed-only]
    python -m fusionlab permutation --outputs FILE|DIR [--outputs-model lr] --out DIR   # your own outputs

Writes ``DIR/permutation.csv`` (one row per (score, rule), mean over runs, ``*_sd`` columns),
``DIR/permutation_runs.csv`` (every seed x fold) and ``DIR/config.json``.
"""
from __future__ import annotations

from dataclasses import replace

COMMANDS = {"permutation": "reliability permutation test of quality-aware fusion rules; writes permutation.csv"}


def add_parser(sub) -> None:
    from ..experts import EXPERTS
    from ..diagnostics.quality import real_scores
    from ..experiments import permutation as study
    from ..noise import CORRUPTIONS
    from ._common import add_data_args, add_executor_args, csv_list
    d = study.DEFAULT.diagnostic
    p = sub.add_parser("permutation", help=COMMANDS["permutation"])
    add_data_args(p, study.DATASET_NAMES, study.DEFAULT.data.name)
    p.add_argument("--permutations", type=int, default=d.permutation.permutations,
                   help="K permutations of Q across test rows")
    p.add_argument("--joint", action="store_true", help="one joint permutation for all modalities")
    p.add_argument("--observed-only", action="store_true",
                   help="metrics on the fully observed test rows only (the authors' FULL-only); else on all test rows")
    from ..diagnostics.permutation import ROUTE_TIES
    p.add_argument("--route-ties", default=d.permutation.route_ties, choices=ROUTE_TIES,
                   help="route: experts tied at the top Q share the weight (split, default) or the first in the "
                        "modality order takes it (first, the authors' argmax)")
    from ..diagnostics.permutation import ADAM_STEPS, ROUTER_FITS, ROUTER_L2
    p.add_argument("--router-fit", default=d.permutation.router_fit, choices=ROUTER_FITS,
                   help=f"the moe router: lbfgs (ours: L-BFGS from two starts, every train row) or adam (the authors' "
                        f"script: Adam, {ADAM_STEPS} steps at rate 0.01, the fully observed train rows)")
    p.add_argument("--router-l2", type=float, default=d.permutation.router_l2, metavar="L2",
                   help=f"the moe router's penalty l2 * ||W||^2 (default: the fit's own, lbfgs {ROUTER_L2['lbfgs']:g}, "
                        f"adam {ROUTER_L2['adam']:g})")
    p.add_argument("--outputs", default="", metavar="FILE|DIR",
                   help="your own outputs instead of our experts: a .csv/.parquet/.npz table (label, split|fold, "
                        "p__<m>__<c> or p__<m>, q__<m>, present__<m>; see docs/data.md) or the reliability paper's authors' "
                        "artifact directory (or a .zip of it); --dataset and the expert options are then unused")
    p.add_argument("--outputs-model", default="", help="with an authors' layout: which unimodal_preds/<model>")
    p.add_argument("--tau", type=float, default=d.permutation.tau, help="temperature of the softmax rule")
    p.add_argument("--seed", type=int, default=study.DEFAULT.seed)
    p.add_argument("--repeats", type=int, default=study.DEFAULT.repeats, help="seeds seed .. seed+repeats-1")
    p.add_argument("--folds", type=int, default=study.DEFAULT.folds, help=">= 2: stratified folds per seed (else one split)")
    p.add_argument("--scores", type=csv_list, default=None, help=f"quality scores (default {','.join(real_scores())})")
    p.add_argument("--expert", default=d.expert.kind, choices=EXPERTS.names())
    p.add_argument("--control", choices=["aligned", "corruption"], default=None,
                   help="add a POSITIVE CONTROL (uses test correctness on purpose)")
    p.add_argument("--fidelity", type=float, default=d.quality.fidelity, help="control aligned: 0 random .. 1 perfect")
    p.add_argument("--rate", type=float, default=d.quality.rate, help="control corruption: rate k")
    p.add_argument("--corrupt", default="", metavar="MODALITY", help="corrupt a fraction of this modality's rows")
    p.add_argument("--fraction", type=float, default=0.5, help="with --corrupt: fraction of rows corrupted")
    p.add_argument("--corrupt-noise", default=d.corruption.noise, choices=CORRUPTIONS.names())
    p.add_argument("--max-level", type=float, default=1.0, help="with --corrupt: severity ~ U(0.3 max, max)")
    add_executor_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_permutation)


def config(args):
    """The study's config from the arguments (what the page builds from its widgets)."""
    from ..experts import ExpertConfig
    from ..noise import RowCorruption
    from ..diagnostics.permutation import PermutationConfig
    from ..experiments.permutation_runs import DiagnosticConfig
    from ..diagnostics.outputs import outputs_scores
    from ..diagnostics.quality import QualityConfig, real_scores
    from ..experiments import permutation as study
    from ..experiments.permutation import OutputsConfig
    from ._common import data_config
    if args.permutations < 1:
        raise ValueError(f"--permutations must be at least 1, got {args.permutations}")
    outputs = OutputsConfig(path=args.outputs, model=args.outputs_model)
    if outputs.path and args.corrupt:
        raise ValueError("--corrupt changes features, and your outputs carry posteriors only")
    default = outputs_scores(study.load_outputs_of(outputs)) if outputs.path else real_scores()
    scores = list(args.scores or default)
    if args.control:
        scores.append(f"control-{args.control}")
    diagnostic = DiagnosticConfig(
        scores=tuple(scores), expert=ExpertConfig(kind=args.expert),
        quality=QualityConfig(fidelity=args.fidelity, rate=args.rate),
        permutation=PermutationConfig(permutations=args.permutations, joint=args.joint, tau=args.tau,
                                      observed_only=args.observed_only, route_ties=args.route_ties,
                                      router_fit=args.router_fit, router_l2=args.router_l2),
        corruption=RowCorruption(modality=args.corrupt, fraction=args.fraction if args.corrupt else 0.0,
                                 noise=args.corrupt_noise, max_level=args.max_level,
                                 min_level=0.3 * args.max_level) if args.corrupt else RowCorruption())
    return replace(study.DEFAULT, data=data_config(args, study.DATASET_NAMES, study.DATA_DEFAULTS, study.DEFAULT.data.name),
                   diagnostic=diagnostic, seed=args.seed, repeats=args.repeats, folds=args.folds, outputs=outputs)


def run_permutation(args) -> int:
    from ..experiments import permutation as study
    from ._common import check_out, print_findings, result_set, run_with_jobs, write_csv, write_json
    out = check_out(args.out)
    result = run_with_jobs(args, study.run, config(args), "permutation")
    runs, table = result.tables["permutation_runs"], result.tables["permutation"]
    with result_set(out, "permutation") as d:
        write_csv(runs, d / "permutation_runs.csv")
        write_csv(table, d / "permutation.csv")
        write_json(result.config, d / "config.json")
    print(table[study.FIRST].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print_findings(result.findings)
    if "outputs" in result.config:
        print(f"your outputs: {result.config['outputs']} ({', '.join(result.config['views'])})")
    print(f"{len(runs)} rows over {runs[['seed', 'fold']].drop_duplicates().shape[0]} run(s) -> {out / 'permutation.csv'}")
    return 0
