"""Batched multi-seed training vs the sequential per-seed ``fit()`` loop (the fusion-complexity paper's workload).

Two 768-d modalities (clip-like, dot label), 2,000 training samples,
concat -> Linear(32) -> ReLU -> Linear(2), AdamW lr 1e-3, weight decay 0, batch 64,
100 epochs, 20 seeds. Both runs happen here, one after the other, on the same data
and thread setting; the script prints both times, the ratio, and the batched run's
GFLOP/s (FLOPs of forward + backward counted analytically) next to this machine's
measured ``torch.mm`` GFLOP/s for a product of the same shape as one batched step, and the
ceiling that rate puts on the ratio: the analytic FLOPs at the ``torch.mm`` rate measured for
this shape (not the machine's peak: other shapes may run faster) give the time of a batched run
that did nothing but such products.

    python benchmarks/batched_seeds.py            # the full workload (several minutes)
    python benchmarks/batched_seeds.py --quick    # 5 seeds, 10 epochs
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fusionlab.batched import batched_fit
from fusionlab.data import SplitConfig, load_dataset, prepare
from fusionlab.models import ModelConfig, build_model
from fusionlab.train import TrainConfig, fit


def head_flops(n_train: int, n_val: int, f: int, h: int, c: int, epochs: int, seeds: int) -> float:
    """Forward + backward FLOPs of fused(F) -> Linear(H) -> ReLU -> Linear(C), plus the
    per-epoch validation forward. Per training sample: forward 2(FH + HC); backward
    2FH (grad W1; the fused input needs no gradient) + 4HC (grad W2 and grad of the
    hidden layer). Bias adds, ReLU and the optimiser are left out (they are O(F·H)
    per step, not per sample)."""
    train = n_train * (4 * f * h + 6 * h * c)
    val = n_val * 2 * (f * h + h * c)
    return float(seeds * epochs * (train + val))


def mm_gflops(m: int, k: int, n: int, repeats: int = 50) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(5):
        a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - t0) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="5 seeds, 10 epochs")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads for both runs and for the torch.mm reference (0: torch's default, all cores)")
    p.add_argument("--fusion", default="concat")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    seeds = args.seeds or (5 if args.quick else 20)
    epochs = args.epochs or (10 if args.quick else 100)
    ds = load_dataset("clip-like", label="dot", n_samples=3400)
    data = prepare(ds, SplitConfig(val_fraction=0.15, test_fraction=0.15, train_size=2000))
    mcfg = ModelConfig(fusion=args.fusion, encoder="identity", head_hidden=32, dropout=0.0)
    tcfg = TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, weight_decay=0.0, patience=None)
    n_tr, n_val = len(data.train), len(data.val)
    print(f"workload: {args.fusion}, train {n_tr}, val {n_val}, 2 x 768-d, hidden 32, batch 64, "
          f"{epochs} epochs, {seeds} seeds, torch threads {torch.get_num_threads()}")

    t0 = time.perf_counter()
    seq_acc = []
    for s in range(seeds):
        model = build_model(data.shapes(), data.n_classes, mcfg, seed=s)
        seq_acc.append(fit(model, data, TrainConfig(**{**vars(tcfg), "seed": s})).best_val_accuracy)
    t_seq = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = batched_fit(data, mcfg, tcfg, list(range(seeds)))
    t_bat = time.perf_counter() - t0

    f = build_model(data.shapes(), data.n_classes, mcfg).fusion.out_dim
    flops = head_flops(n_tr, n_val, f, 32, data.n_classes, epochs, seeds)
    gf = flops / t_bat / 1e9
    ref = mm_gflops(seeds * 64, f, 32)
    agree = np.abs(np.array(seq_acc) - res.best_val_accuracy).max()
    print(f"sequential fit() loop : {t_seq:8.2f} s")
    print(f"batched (one pass)    : {t_bat:8.2f} s")
    print(f"ratio                 : {t_seq / t_bat:8.2f} x   (target >= 15 x)")
    print(f"batched throughput    : {gf:8.1f} GFLOP/s ({flops / 1e9:.1f} GFLOP analytic, forward + backward + validation)")
    print(f"torch.mm ({seeds * 64}x{f} @ {f}x32): {ref:8.1f} GFLOP/s -> batched reaches {100 * gf / ref:.0f}% "
          f"(target >= 50%)")
    t_at_mm_rate = flops / (ref * 1e9)  # seconds for the workload's FLOPs at the measured torch.mm rate
    print(f"ceiling               : the workload's FLOPs at that torch.mm rate take {t_at_mm_rate:.2f} s, so a batched "
          f"run as fast as torch.mm on this shape would be {t_seq / t_at_mm_rate:.1f} x faster than this sequential loop")
    print(f"best validation accuracy, max |sequential - batched| over seeds: {agree:.2e}")
    print("note: measured on a shared machine; numbers are noisy.")


if __name__ == "__main__":
    main()
