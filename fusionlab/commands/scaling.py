"""``scaling``: the Fusion complexity page's headless twin (seed 002).

    python -m fusionlab scaling --dataset clip-like --label dot --fusions concat,product,tensor \\
        --sizes 32-4096 --seeds 20 --out DIR

writes ``DIR/scaling.csv`` (fusion, label, size, seed, val_accuracy, test_accuracy,
params), ``DIR/robustness.csv`` (fusion, condition, noise, level, accuracy, seed),
``DIR/roc.csv``, ``DIR/findings.json`` and ``DIR/scaling.html`` (the figures).
"""
from __future__ import annotations

from dataclasses import asdict

from tqdm import tqdm

from ..data import SplitConfig, load_dataset, prepare
from ..data.cliplike import CLIP_LABELS
from ..diagnostics.scaling import DEFAULT_LEVELS, ScalingConfig, findings, parse_sizes, run_scaling
from ..figures import scaling as scaling_figures
from ..fusion import FUSIONS
from ..noise import CORRUPTIONS
from ._common import add_data_args, atomic_write_text, csv_list, float_list, load_from_args, out_dir, write_csv, write_json

SCORE_COLUMNS = ["fusion", "label", "size", "seed", "val_accuracy", "test_accuracy", "params"]
ROBUST_COLUMNS = ["fusion", "condition", "noise", "level", "accuracy", "seed"]


def add_parser(sub) -> None:
    p = sub.add_parser("scaling", help="seed 002: accuracy vs training size over many seeds, ROC, robustness")
    add_data_args(p, default="clip-like")
    g = p.add_argument_group("study")
    g.add_argument("--label", default="real", choices=CLIP_LABELS, help="clip-like label: real or dot")
    g.add_argument("--clip-samples", type=int, default=6000, help="clip-like: number of samples")
    g.add_argument("--fusions", type=csv_list, default=["concat", "product", "tensor"])
    g.add_argument("--sizes", default=None, help="'32-4096' (doubling) or '32,64,128'; default: 32 to the largest")
    g.add_argument("--seeds", type=int, default=20)
    g.add_argument("--epochs", type=int, default=100)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--lr", type=float, default=1e-3)
    g.add_argument("--noise", default="mix", choices=CORRUPTIONS.names(), help="mix: (1-a)x + an; additive: x + an")
    g.add_argument("--levels", type=float_list, default=list(DEFAULT_LEVELS), help="noise levels, comma-separated")
    g.add_argument("--robust-size", type=int, default=None, help="training size for robustness (default: largest)")
    g.add_argument("--val-fraction", type=float, default=0.1)
    g.add_argument("--test-fraction", type=float, default=0.15)
    g.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_scaling_command)


def _load(args):
    if args.dataset == "clip-like":
        return load_dataset("clip-like", label=args.label, n_samples=args.clip_samples)
    if args.dataset == "uci-digits" and args.views and len(args.views) != 2:
        raise ValueError(f"seed 002 fuses two modalities; --views has {len(args.views)}: {args.views}")
    return load_from_args(args)


def study_config(args) -> ScalingConfig:
    unknown = [f for f in args.fusions if f not in FUSIONS]
    if unknown:
        raise ValueError(f"unknown fusion(s) {unknown}; choose from {FUSIONS.names()}")
    if args.seeds < 1 or args.epochs < 1:
        raise ValueError(f"--seeds and --epochs must be at least 1, got {args.seeds} and {args.epochs}")
    sizes = tuple(parse_sizes(args.sizes)) if args.sizes else None
    return ScalingConfig(fusions=tuple(args.fusions), sizes=sizes, n_seeds=args.seeds, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, noise=args.noise, levels=tuple(args.levels),
                         robust_size=args.robust_size)


def report_html(result, found, title: str) -> str:
    figs = [scaling_figures.accuracy_vs_size(result.scores, chance=result.chance),
            scaling_figures.roc_figure(result.roc, result.robust_size),
            scaling_figures.robustness_grid(result.robustness, result.robust_size),
            scaling_figures.params_bars(result.params)]
    body = "".join(f"<li><b>{f.claim}</b>: {f.text}</li>" for f in found)
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figs))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1><ul>{body}</ul>{plots}</body></html>")


def run_scaling_command(args) -> int:
    out = out_dir(args.out)
    cfg = study_config(args)
    ds = _load(args)
    if len(ds.modality_names) != 2 and "product" in cfg.fusions:
        raise ValueError(f"seed 002 fuses two modalities; {ds.name} has {ds.modality_names}")
    data = prepare(ds, data_split(args))
    label = args.label if args.dataset == "clip-like" else "class"
    bar = tqdm(total=100, desc="scaling", unit="%", leave=True)

    def progress(fraction: float, message: str) -> None:
        bar.update(int(fraction * 100) - bar.n)
        bar.set_postfix_str(message, refresh=False)

    try:
        result = run_scaling(data, cfg, label=label, progress=progress)
    finally:
        bar.close()
    found = findings(result)
    write_csv(result.scores[SCORE_COLUMNS], out / "scaling.csv")
    write_csv(result.robustness[ROBUST_COLUMNS], out / "robustness.csv")
    write_csv(result.roc, out / "roc.csv")
    summary = result.scores.groupby(["fusion", "size"])[["val_accuracy", "test_accuracy", "test_auc"]].agg(["mean", "std"])
    write_json({"config": {"dataset": ds.name, "views": ds.modality_names, "study": asdict(cfg),
                           "split": asdict(data_split(args))},
                "chance": result.chance, "robust_size": result.robust_size,
                "findings": [asdict(f) for f in found],
                "summary": {f"{k[0]}/{k[1]}": {f"{a}_{b}": float(v) for (a, b), v in row.items()}
                            for k, row in summary.iterrows()}}, out / "findings.json")
    atomic_write_text(out / "scaling.html", report_html(result, found, f"Fusion complexity: {ds.name}"))
    for f in found:
        print(f"{f.claim}: {f.text}")
    print(f"{len(result.scores)} rows -> {out / 'scaling.csv'}, {len(result.robustness)} rows -> "
          f"{out / 'robustness.csv'}, figures -> {out / 'scaling.html'}")
    return 0


def data_split(args) -> SplitConfig:
    return SplitConfig(val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.split_seed)
