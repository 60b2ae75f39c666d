"""VGMR's cost over the plain backbone, measured side by side in one run (the VGMR paper's §4.5, Table 7).

The paper's VGMR costs 2.35x the concat backbone's training time per epoch and 3.3x its
inference latency per batch; ours should stay at or below 2x on both. Both models see
the same prepared data, batch size, optimiser and thread setting; epochs and inference
batches alternate between the two models so machine load hits both alike. Reported:
median seconds per training epoch (value-supervision pass included, no validation) and
median milliseconds per inference batch (eval mode, no gradient), and their ratios; and
how much of VGMR's epoch goes to the value target (docs/methods.md, VGMR: per batch, the whole model
runs again, without gradient, on the batch with each modality dropped in turn, i.e. on
(M + 1) x B rows), which sets a floor under the training ratio that no refiner speed-up removes
(only a cheaper value target would):
the floor is measured by running the *plain* backbone's forward on those (M + 1) x B rows per
batch, i.e. the value pass with a refiner that costs nothing. Forward FLOPs per sample
(``torch.utils.flop_counter``; matrix products only) show how much arithmetic VGMR adds.

    python benchmarks/vgmr_overhead.py                       # synthetic sequences, concat backbone
    python benchmarks/vgmr_overhead.py --dataset uci-digits  # pix as 16 rows + fou + mor
    python benchmarks/vgmr_overhead.py --backbone transformer
    python benchmarks/vgmr_overhead.py --value-rows 0        # value target on every row (the earlier default)
    python benchmarks/vgmr_overhead.py --quick               # fewer repeats
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from fusionlab.data import SplitConfig, load_dataset, prepare
from fusionlab.experiments.gates import BACKBONES, VGMR_SYNTHETIC, backbone_config
from fusionlab.experiments.gates_compare import infer_ms_per_batch, train_epoch_seconds
from fusionlab.models import build_model, count_parameters
from fusionlab.refiners.vgmr import VGMRConfig, dropped_copies
from fusionlab.train import TrainConfig, batch_order


def load(name: str):
    if name == "synthetic":
        return load_dataset("synthetic", cfg=VGMR_SYNTHETIC)
    return load_dataset("uci-digits", views=["pix", "fou", "mor"], pix_as_sequence=True)


@torch.no_grad()
def free_refiner_value_pass_seconds(model, data, batch_size: int, value_rows: int, seed: int) -> float:
    """One epoch of the value target's pass with the plain backbone alone (eval mode, no gradient).

    The batches and their dropped copies are built before the clock starts: VGMR's own pass
    reuses the training batch, whose gathering ``train_epoch_seconds`` already counts."""
    model.eval()
    names, tr = list(data.shapes()), data.train
    gen = torch.Generator().manual_seed(seed)
    batches = [dropped_copies({k: tr.xs[k][idx[:value_rows or None]] for k in names}, names)
               for idx in batch_order(len(tr), batch_size, gen)]
    t0 = time.perf_counter()
    for xs in batches:
        model(xs)
    return time.perf_counter() - t0


@torch.no_grad()
def forward_flops_per_sample(model, data, rows: int = 64) -> float:
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model({k: v[:rows] for k, v in data.train.xs.items()})
    return counter.get_total_flops() / rows


def measure(data, backbone: str, batch_size: int, epochs: int, repeats: int,
            value_rows: int = VGMRConfig().value_rows) -> dict:
    vgmr = VGMRConfig(value_rows=value_rows)
    models = {"plain": build_model(data.shapes(), data.n_classes, backbone_config(backbone), seed=0),
              "vgmr": build_model(data.shapes(), data.n_classes, backbone_config(backbone, vgmr), seed=0)}
    cfg = TrainConfig(batch_size=batch_size, seed=0)
    train = {k: [] for k in models}
    infer = {k: [] for k in models}
    value_s = []  # seconds per epoch in VGMR's value-target pass
    refiner = models["vgmr"].refiner
    timed = refiner.loss_increase

    def loss_increase(*a, **kw):
        t0 = time.perf_counter()
        out = timed(*a, **kw)
        value_s[-1] += time.perf_counter() - t0
        return out

    refiner.loss_increase = loss_increase
    floor_s = []  # seconds per epoch of the same pass with the plain backbone (a refiner that costs nothing)
    for e in range(epochs):  # alternate so that load on the shared machine hits all three alike
        for k, m in models.items():
            value_s.append(0.0)
            train[k].append(train_epoch_seconds(m, data, TrainConfig(batch_size=batch_size, seed=e)))
        floor_s.append(free_refiner_value_pass_seconds(models["plain"], data, batch_size, value_rows, e))
    value_s = [v for v in value_s if v > 0]
    for _ in range(repeats):
        for k, m in models.items():
            infer[k].append(infer_ms_per_batch(m, data.test, cfg.batch_size, repeats=20))
    med = {f"{k}_{what}": statistics.median(v[k]) for what, v in (("train_s", train), ("infer_ms", infer))
           for k in models}
    med.update(params_plain=count_parameters(models["plain"]), params_vgmr=count_parameters(models["vgmr"]),
               value_s=statistics.median(value_s), floor_s=statistics.median(floor_s),
               flops_plain=forward_flops_per_sample(models["plain"], data),
               flops_vgmr=forward_flops_per_sample(models["vgmr"], data))
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="synthetic", choices=["synthetic", "uci-digits"])
    ap.add_argument("--backbone", default="concat", choices=BACKBONES)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=8, help="training epochs timed per model")
    ap.add_argument("--repeats", type=int, default=10, help="inference timing rounds per model")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)")
    ap.add_argument("--value-rows", type=int, default=VGMRConfig().value_rows,
                    help="VGMR's value_rows: rows per batch for the value target (0: all; default VGMR's, "
                         "docs/methods.md, VGMR)")
    ap.add_argument("--quick", action="store_true", help="3 epochs and 4 inference rounds")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    epochs, repeats = (3, 4) if args.quick else (args.epochs, args.repeats)
    data = prepare(load(args.dataset), SplitConfig(seed=0))
    r = measure(data, args.backbone, args.batch_size, epochs, repeats, args.value_rows)
    shapes = ", ".join(f"{k} {t}x{d}" for k, (t, d) in data.shapes().items())
    print(f"data: {data.name} ({shapes}); {len(data.train)} training rows; batch {args.batch_size}; "
          f"{torch.get_num_threads()} thread(s); backbone '{args.backbone}'; value target on "
          f"{args.value_rows or args.batch_size} rows per batch")
    print(f"parameters: plain {r['params_plain']:,}, VGMR {r['params_vgmr']:,}")
    print(f"train s/epoch : plain {r['plain_train_s']:.4f}  VGMR {r['vgmr_train_s']:.4f}  "
          f"ratio {r['vgmr_train_s'] / r['plain_train_s']:.2f}x  (paper 2.35x, target <= 2x)")
    rest = r["vgmr_train_s"] - r["value_s"]
    print(f"  of which the value-target pass: {r['value_s']:.4f} s ({100 * r['value_s'] / r['vgmr_train_s']:.0f}%); "
          f"without it the ratio would be {rest / r['plain_train_s']:.2f}x")
    print(f"  floor: the value pass with a refiner that cost nothing (the plain backbone's forward on "
          f"(M + 1) x {args.value_rows or args.batch_size} rows per batch) takes {r['floor_s']:.4f} s per epoch, "
          f"so a VGMR whose value target reruns the model on those rows cannot train below "
          f"{1 + r['floor_s'] / r['plain_train_s']:.2f}x here")
    print(f"forward FLOPs/sample (matrix products): plain {r['flops_plain']:,.0f}  VGMR {r['flops_vgmr']:,.0f}  "
          f"({r['flops_vgmr'] / r['flops_plain']:.1f}x the arithmetic)")
    print(f"infer ms/batch: plain {r['plain_infer_ms']:.3f}  VGMR {r['vgmr_infer_ms']:.3f}  "
          f"ratio {r['vgmr_infer_ms'] / r['plain_infer_ms']:.2f}x  (paper 3.3x, target <= 2x)")


if __name__ == "__main__":
    main()
