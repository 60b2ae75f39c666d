"""``train`` and ``robustness``: the Playground's headless twin (``experiments.playground``)."""
from __future__ import annotations

import argparse
from dataclasses import replace

COMMANDS = {"train": "train a fusion model; writes metrics.json, history.csv and removal.csv",
            "robustness": "train, then accuracy vs noise per modality; writes robustness.csv",
            "perceptual": "train, then permute each modality's test inputs (perceptual score); writes perceptual.csv",
            "attribution": "train, then which modality each test sample used (exact Shapley values over all "
                           "coalitions), the interactions, the subset table and EMAP"}


def _add_model_args(p: argparse.ArgumentParser) -> None:
    from ..experiments.playground import DEFAULT
    from ..fusion import FUSIONS
    from ..models import ENCODERS
    m, t = DEFAULT.model, DEFAULT.train
    p.add_argument("--fusion", default=m.fusion, choices=FUSIONS.names())
    p.add_argument("--epochs", type=int, default=t.epochs)
    p.add_argument("--seed", type=int, default=t.seed, help="seeds the split, the initialisation, batches and dropout")
    p.add_argument("--batch-size", type=int, default=t.batch_size)
    p.add_argument("--lr", type=float, default=t.lr)
    p.add_argument("--encoder", default=m.encoder, choices=ENCODERS)
    p.add_argument("--out", required=True, help="output directory")
    from ._common import add_fusion_args
    add_fusion_args(p, FUSIONS.names())


def add_parser(sub) -> None:
    from ..experiments import playground as study
    from ..noise import CORRUPTIONS
    from ._common import add_attribution_args, add_data_args, add_signal_args, float_list
    for name, func in (("train", run_train), ("robustness", run_robustness), ("perceptual", run_perceptual),
                       ("attribution", run_attribution)):
        p = sub.add_parser(name, help=COMMANDS[name])
        add_data_args(p, study.DATASET_NAMES, study.DEFAULT.data.name)
        _add_model_args(p)
        p.add_argument("--noise", default=study.DEFAULT.noise, choices=CORRUPTIONS.names(),
                       help="the robustness curve's corruption (and the signal test's)")
        p.add_argument("--levels", type=float_list, default=None, help="comma-separated noise levels")
        if name == "train":
            add_signal_args(p)
            p.add_argument("--export-model", metavar="DIR",
                           help="also write the trained model under the plug-in contract (model.py, model.json, "
                                "weights.safetensors; docs/your-model.md), for inspect or your own code")
            p.add_argument("--signal-level", type=float, default=None,
                           help="the signal test's corrupted conditions: each modality alone at this level of "
                                "--noise (default: the middle of its range)")
        if name == "perceptual":
            p.add_argument("--permutations", type=int, default=200, help="K permutations per modality")
        if name in ("train", "attribution"):
            add_attribution_args(p, always=name == "attribution")
        if name == "attribution":
            which = p.add_mutually_exclusive_group()
            which.add_argument("--bundle", metavar="RUN.zip",
                               help="attribute the model of a run bundle ('Download run' on the Playground, Gates & "
                                    "values or Uncertainty weighting) on its own data, without training (the data "
                                    "and model flags are the bundle's; --at's noise is drawn with the run's seed)")
            which.add_argument("--model", metavar="PATH.py[:build]",
                               help="your own PyTorch model, as `inspect` takes it (docs/your-model.md): with "
                                    "--weights, your trained weights on the features as stored; without, trained "
                                    "here by the lab's engine")
            p.add_argument("--weights", metavar="W.safetensors", help="with --model: your trained weights")
        p.set_defaults(func=func)


def config(args):
    """The Playground's config from the arguments (what the page builds from its widgets)."""
    from ..experiments import playground as study
    from ..diagnostics.signals import SignalTestConfig
    from ..fusion import FUSIONS
    from ._common import data_config, fusion_options_of, signal_config
    d = study.DEFAULT
    return study.PlaygroundConfig(
        data=data_config(args, study.DATASET_NAMES, study.DATA_DEFAULTS, study.DEFAULT.data.name),
        model=replace(d.model, fusion=args.fusion, encoder=args.encoder,
                      fusion_options=fusion_options_of(args, args.fusion, FUSIONS.names())),
        train=replace(d.train, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr),
        noise=args.noise, levels=tuple(args.levels) if args.levels else None,
        signals=signal_config(args) if hasattr(args, "permute_signals") else None,
        signal_level=getattr(args, "signal_level", None),
        perceptual=SignalTestConfig(permutations=args.permutations) if hasattr(args, "permutations") else None)


def run_train(args) -> int:
    from ..experiments import playground as study
    from ..diagnostics.signals import signal_findings
    from ._common import (attribution_of, check_out, print_findings, print_signal_table, result_set,
                          write_attribution, write_csv, write_json)
    out = check_out(args.out)
    cfg = config(args)
    result = study.run(cfg)
    metrics = result.tables["metrics"].iloc[0].to_dict()
    metrics["config"] = result.config
    if getattr(args, "export_model", None):
        from ..yours import export_lab_model
        from ._common import check_out as check_export
        target = check_export(args.export_model)
        export_lab_model(result.artifacts.model, cfg.model, result.artifacts.data, target)
        print(f"model under the plug-in contract -> {target / 'model.py'}")
    attribution = attribution_of(args, result.artifacts.model, result.artifacts.data)
    with result_set(out, "train") as d:
        if attribution is not None:
            write_attribution(attribution, d)
        write_csv(result.tables["history"], d / "history.csv")
        write_csv(result.tables["removal"], d / "removal.csv")
        write_json(metrics, d / "metrics.json")
        if "signal_permutation" in result.tables:
            write_csv(result.tables["signal_permutation"], d / "signal_permutation.csv")
    print(f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} -> {out}")
    if "signal_permutation" in result.tables:
        print_signal_table(result)
        print_findings(signal_findings(result.tables["signal_permutation"]))
    return 0


def run_attribution(args) -> int:
    from ..experiments import playground as study
    from ._common import attribution_of, check_out, result_set, write_attribution
    out = check_out(args.out)
    if args.weights and not args.model:
        raise ValueError("--weights needs --model (the file that builds the model they belong to)")
    if args.bundle:
        from ._common import bundle_model
        model, data, args.seed = bundle_model(args.bundle)  # noise drawn with the run's seed, as its page draws
    elif args.model:
        from .inspect import your_model
        model, data = your_model(args, train=not args.weights)
    else:
        result = study.run(config(args))
        model, data = result.artifacts.model, result.artifacts.data
    att = attribution_of(args, model, data)
    with result_set(out, "attribution") as d:
        write_attribution(att, d)
    phi = att.shapley.assign(phi=att.shapley["phi"].abs()).groupby("modality", sort=False)["phi"].mean()
    print("mean |phi| per modality: " + ", ".join(f"{k} {v:.3f}" for k, v in phi.items()))
    print(f"accuracy {att.emap['accuracy']:.4f}, EMAP {att.emap.get('emap_accuracy', float('nan')):.4f}, "
          f"interaction share {att.emap['interaction_share']:.3f} -> {out}")
    return 0


PERCEPTUAL_COLUMNS = ["modality", "metric_clean", "metric_permuted_mean", "delta", "p_value"]


def run_perceptual(args) -> int:
    from ..experiments import playground as study
    from ._common import check_out, result_set, write_csv, write_json
    out = check_out(args.out)
    result = study.run(config(args))
    table = result.tables["perceptual"]
    with result_set(out, "perceptual") as d:
        write_csv(table, d / "perceptual.csv")
        write_json({"config": result.config}, d / "config.json")
    print(table[PERCEPTUAL_COLUMNS].round(4).to_string(index=False))
    print(f"-> {out / 'perceptual.csv'}")
    return 0


def run_robustness(args) -> int:
    from ..experiments import playground as study
    from ._common import check_out, result_set, write_csv
    out = check_out(args.out)
    cfg = config(args)
    df = study.run(cfg).tables["robustness"]
    with result_set(out, "robustness") as d:
        write_csv(df, d / "robustness.csv")
    print(f"{len(df)} rows -> {out / 'robustness.csv'}")
    return 0
