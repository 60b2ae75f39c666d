"""``inspect``: the lab's instruments on your own PyTorch model (``fusionlab.yours``, docs/your-model.md)."""
from __future__ import annotations

COMMANDS = {"inspect": "your own PyTorch model (a file defining build(shapes, n_classes)), trained (--weights) or "
                       "trained here (--train): writes metrics.json, robustness.csv, removal.csv, perceptual.csv (and with "
                       "--attribution the attribution's tables)"}


def add_parser(sub) -> None:
    from ..experiments import playground as study
    from ..noise import CORRUPTIONS
    from ._common import add_attribution_args, add_data_args, float_list
    p = sub.add_parser("inspect", help=COMMANDS["inspect"])
    p.add_argument("--model", required=True, metavar="PATH.py[:build]",
                   help="your Python file and the function that builds the model (default name: build)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--weights", metavar="W.safetensors",
                     help="your trained weights; the features reach your model exactly as stored (no rescaling)")
    how.add_argument("--train", action="store_true",
                     help="train the model here with the lab's engine, on standardised features (train-split mean "
                          "and sd), as every lab model is")
    add_data_args(p, study.DATASET_NAMES, study.DEFAULT.data.name)
    p.add_argument("--seed", type=int, default=0, help="the split, the initialisation (with --train), noise draws")
    p.add_argument("--epochs", type=int, default=study.DEFAULT.train.epochs, help="with --train")
    p.add_argument("--noise", default="mix", choices=CORRUPTIONS.names(), help="the robustness curve's corruption")
    p.add_argument("--levels", type=float_list, default=None, help="comma-separated noise levels")
    p.add_argument("--permutations", type=int, default=200, help="K permutations of the perceptual score")
    add_attribution_args(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_inspect)


def run_inspect(args) -> int:
    import torch

    from ..yours import inspect
    from ._common import attribution_of, check_out, result_set, write_attribution, write_csv, write_json
    out = check_out(args.out)
    torch.set_num_threads(1)
    model, data = your_model(args, train=not args.weights)
    tables = inspect(model, data, args.noise, args.levels, seed=args.seed, permutations=args.permutations)
    att = attribution_of(args, model, data)
    with result_set(out, "inspect") as d:
        if att is not None:
            write_attribution(att, d)
        write_json({**tables["metrics"], "model": args.model, "weights": args.weights or "trained here",
                    "scaling": "as stored" if args.weights else "standardised (train mean and sd)"}, d / "metrics.json")
        for name in ("robustness", "removal", "perceptual", "signal_permutation"):
            if name in tables:  # signal_permutation: when your module declares and taps signals
                write_csv(tables[name], d / f"{name}.csv")
    m = tables["metrics"]
    print(f"test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} on {m['n_test']} test rows -> {out}")
    return 0


def your_model(args, train: bool):
    """``--model`` built on the data the arguments name, with ``--weights`` loaded (the features as stored) or, with
    ``train``, trained here by the lab's engine (standardised features); returns the model and the prepared data."""
    from dataclasses import replace

    from ..data import SplitConfig, prepare
    from ..experiments import playground as study
    from ..train import fit
    from ..yours import build_yours, load_weights
    from ._common import data_config
    data_cfg = data_config(args, study.DATASET_NAMES, study.DATA_DEFAULTS, study.DEFAULT.data.name)
    data = prepare(data_cfg.load(), SplitConfig(seed=args.seed), scale=train)
    model = build_yours(args.model, data.shapes(), data.n_classes, seed=args.seed)
    if not train:
        load_weights(model, args.weights)
    else:
        fit(model, data, replace(study.DEFAULT.train, epochs=args.epochs, seed=args.seed))
    return model, data
