"""``scaling``: the Fusion complexity page's headless twin (the fusion-complexity paper, ``experiments.scaling``).

    python -m fusionlab scaling --dataset clip-like --label dot --fusions concat,product,tensor \\
        --sizes 32-4096 --seeds 20 --out DIR      (or --preset "paper: dot-product task")

writes ``DIR/scaling.csv`` (fusion, label, size, seed, val_accuracy, test_accuracy, params),
``DIR/robustness.csv`` (fusion, condition, noise, level, accuracy, seed), ``DIR/roc.csv``,
``DIR/findings.json`` and ``DIR/scaling.html`` (the figures); with ``--attribution`` also ``DIR/emap.csv`` (fusion,
label, size, seed, accuracy, emap_accuracy, interaction_share).
"""
from __future__ import annotations

from dataclasses import replace

COMMANDS = {"scaling": "the fusion-complexity paper: accuracy vs training size over many seeds, ROC, robustness"}
SCORE_COLUMNS = ["fusion", "label", "size", "seed", "val_accuracy", "test_accuracy", "params"]
ROBUST_COLUMNS = ["fusion", "condition", "noise", "level", "accuracy", "seed"]
EMAP_COLUMNS = ["fusion", "label", "size", "seed", "accuracy", "emap_accuracy", "interaction_share"]


def add_parser(sub) -> None:
    from ..experiments import scaling as study
    from ..noise import CORRUPTIONS
    from ..fusion import FUSIONS
    from ._common import add_data_args, add_executor_args, add_fusion_args, csv_list, float_list
    d = study.DEFAULT
    p = sub.add_parser("scaling", help=COMMANDS["scaling"])
    add_data_args(p, study.DATASET_NAMES, d.data.name)
    g = p.add_argument_group("study")
    g.add_argument("--preset", choices=list(study.PRESETS), default=None,
                   help="start from a preset (" + "; ".join(f"{k}: {c}" for k, (_, c) in study.PRESETS.items()) +
                        "); the other flags change it")
    g.add_argument("--fusions", type=csv_list, default=None, help=f"default {','.join(d.fusions)}")
    g.add_argument("--sizes", default=None, help=f"'32-4096' (doubling) or '32,64,128'; default "
                                                 f"{d.sizes[0]}-{d.sizes[-1]}; 'all': 32 to the largest")
    g.add_argument("--seeds", type=int, default=None, help=f"default {d.n_seeds}")
    g.add_argument("--first-seed", type=int, default=None, help=f"default {d.first_seed}")
    g.add_argument("--epochs", type=int, default=None, help=f"default {d.train.epochs}")
    g.add_argument("--batch-size", type=int, default=None, help=f"default {d.train.batch_size}")
    g.add_argument("--lr", type=float, default=None, help=f"default {d.train.lr}")
    g.add_argument("--noise", default=None, choices=CORRUPTIONS.names(), help="mix: (1-a)x + an; additive: x + an")
    g.add_argument("--levels", type=float_list, default=None, help="noise levels, comma-separated")
    g.add_argument("--attribution", action="store_true",
                   help="also write emap.csv: each model's test accuracy beside EMAP's (its best additive copy) and "
                        "its interaction share, per fusion, size and seed (about 0.3-0.5 s more per model)")
    g.add_argument("--robust-size", type=int, default=None, help="training size for robustness (default: largest)")
    g.add_argument("--val-fraction", type=float, default=None, help=f"default {d.split.val_fraction}")
    g.add_argument("--test-fraction", type=float, default=None, help=f"default {d.split.test_fraction}")
    g.add_argument("--split-seed", type=int, default=None, help=f"default {d.split.seed}")
    add_fusion_args(p, FUSIONS.names())
    add_executor_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_scaling_command)


def _given(**values):
    return {k: v for k, v in values.items() if v is not None}


def config(args):
    """The study's config: the default (or ``--preset``), changed by every flag given."""
    from ..experiments import scaling as study
    from ..fusion import FUSIONS
    from ._common import data_config, fusion_options_for
    base = study.PRESETS[args.preset][0] if args.preset else study.DEFAULT
    fusions = tuple(args.fusions) if args.fusions else base.fusions
    defaults = {**study.DATA_DEFAULTS, base.data.name: base.data}
    sizes = None
    if args.sizes is not None:
        sizes = None if args.sizes == "all" else tuple(study.parse_sizes(args.sizes))
    cfg = replace(base, data=data_config(args, study.DATASET_NAMES, defaults, base.data.name),
                  train=replace(base.train, **_given(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)),
                  split=replace(base.split, **_given(val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                                                     seed=args.split_seed)),
                  fusion_options=fusion_options_for(args, fusions, FUSIONS.names(), study.operator_defaults(base)),
                  **_given(fusions=tuple(args.fusions) if args.fusions else None, n_seeds=args.seeds,
                           first_seed=args.first_seed, noise=args.noise,
                           levels=tuple(args.levels) if args.levels else None, robust_size=args.robust_size,
                           attribution=True if args.attribution else None))
    return replace(cfg, sizes=sizes) if args.sizes is not None else cfg


def report_html(result, found, title: str) -> str:
    from ..figures import scaling as scaling_figures
    figs = [scaling_figures.accuracy_vs_size(result.scores, chance=result.chance),
            scaling_figures.roc_figure(result.roc, result.robust_size),
            scaling_figures.robustness_grid(result.robustness, result.robust_size),
            scaling_figures.params_bars(result.params)] + (
        [scaling_figures.emap_figure(result.emap)] if not result.emap.empty else [])
    body = "".join(f"<li><b>{f.claim}</b> [{f.verdict}]: {f.evidence}</li>" for f in found)
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figs))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1><ul>{body}</ul>{plots}</body></html>")


def run_scaling_command(args) -> int:
    from ..experiments import scaling as study
    from ._common import (atomic_write_text, check_out, finding_records, print_findings, result_set, run_with_jobs,
                          write_csv, write_json)
    out = check_out(args.out)
    result = run_with_jobs(args, study.run, config(args), "scaling")
    res = result.artifacts.result
    summary = result.tables["summary"].set_index(["fusion", "size"])
    with result_set(out, "scaling") as d:
        write_csv(res.scores[SCORE_COLUMNS], d / "scaling.csv")
        write_csv(res.robustness[ROBUST_COLUMNS], d / "robustness.csv")
        write_csv(res.roc, d / "roc.csv")
        if "emap" in result.tables:
            write_csv(result.tables["emap"][EMAP_COLUMNS], d / "emap.csv")
        write_json({"config": result.config, "chance": res.chance, "robust_size": res.robust_size,
                    "findings": finding_records(result.findings),
                    "summary": {f"{k[0]}/{k[1]}": {c: float(v) for c, v in row.items()}
                                for k, row in summary.iterrows()}}, d / "findings.json")
        atomic_write_text(d / "scaling.html", report_html(res, result.findings,
                                                          f"Fusion complexity: {result.artifacts.data_name}"))
    print_findings(result.findings)
    print(f"{len(res.scores)} rows -> {out / 'scaling.csv'}, {len(res.robustness)} rows -> "
          f"{out / 'robustness.csv'}, figures -> {out / 'scaling.html'}")
    return 0
