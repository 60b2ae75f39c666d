"""``train`` and ``robustness``: the Playground's headless twin."""
from __future__ import annotations

import argparse
from dataclasses import asdict

from ..data import SplitConfig, prepare
from ..diagnostics import modality_removal, robustness_curve
from ..fusion import FUSIONS
from ..models import ModelConfig, build_model
from ..noise import CORRUPTIONS, default_levels
from ..train import TrainConfig, evaluate, fit
from ._common import add_data_args, float_list, load_from_args, out_dir, write_csv, write_json


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fusion", default="concat", choices=FUSIONS.names())
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--encoder", default="mlp", choices=["mlp", "identity"])
    p.add_argument("--out", required=True, help="output directory")


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a fusion model; writes metrics.json and history.csv")
    add_data_args(p)
    _add_model_args(p)
    p.set_defaults(func=run_train)
    r = sub.add_parser("robustness", help="train, then accuracy vs noise per modality; writes robustness.csv")
    add_data_args(r)
    _add_model_args(r)
    r.add_argument("--noise", default="mix", choices=CORRUPTIONS.names())
    r.add_argument("--levels", type=float_list, default=None, help="comma-separated noise levels")
    r.set_defaults(func=run_robustness)


def _train(args):
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    data = prepare(load_from_args(args), SplitConfig(seed=args.seed))
    mcfg = ModelConfig(fusion=args.fusion, encoder=args.encoder)
    tcfg = TrainConfig(epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr)
    model = build_model(data.shapes(), data.n_classes, mcfg, seed=args.seed)
    result = fit(model, data, tcfg)
    return data, mcfg, tcfg, result


def _config(args, data, mcfg, tcfg) -> dict:
    return {"dataset": args.dataset, "views": data.modality_names, "model": asdict(mcfg), "train": asdict(tcfg)}


def run_train(args) -> int:
    out = out_dir(args.out)
    data, mcfg, tcfg, result = _train(args)
    metrics = evaluate(result.model, data.test)
    metrics.update(best_epoch=result.best_epoch, best_val_accuracy=result.best_val_accuracy,
                   config=_config(args, data, mcfg, tcfg))
    write_csv(result.history, out / "history.csv")
    write_csv(modality_removal(result.model, data), out / "removal.csv")
    write_json(metrics, out / "metrics.json")
    print(f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} -> {out}")
    return 0


def run_robustness(args) -> int:
    out = out_dir(args.out)
    data, mcfg, tcfg, result = _train(args)
    levels = args.levels or default_levels(args.noise)
    df = robustness_curve(result.model, data, args.noise, levels, seed=args.seed, fusion=args.fusion)
    write_csv(df[["fusion", "condition", "noise", "level", "accuracy", "seed"]], out / "robustness.csv")
    print(f"{len(df)} rows -> {out / 'robustness.csv'}")
    return 0
