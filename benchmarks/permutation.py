"""Benchmark: the broken-Q test vectorised over permutations vs a per-permutation loop.

1,000 permutations of Q over 10,000 test rows x 3 modalities x 10 classes (``--quick``:
100 permutations over 2,000 rows), ``weighted`` rule, balanced accuracy. Both run in
one process on the same cached probabilities; the loop permutes, re-fuses and scores
one permutation at a time with scikit-learn. Prints both times and their ratio.

The vectorised path runs compiled kernels (numba, all cores). Its first call in a process
loads them from numba's on-disk cache, or compiles them if there is none (a fresh clone,
the first time only); that one-off cost is timed and printed separately, on a tiny input.

    python benchmarks/permutation.py [--quick] [--rule weighted] [--chunk 100]
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch
from scipy.special import softmax
from sklearn.metrics import balanced_accuracy_score

from fusionlab.diagnostics.permutation import PermutationConfig, _null_metrics, decide, permutation_indices


def synthetic(n: int, m: int, c: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, m, c))
    logits[np.arange(n), :, y] += rng.normal(1.0, 1.0, size=(n, m))  # experts better than chance
    return softmax(logits, -1), rng.uniform(size=(n, m)), y  # (N, M, C), (N, M), (N,)


def loop(rule, probs, q, y, cfg) -> np.ndarray:
    """One permutation at a time: permute Q, re-fuse, score with scikit-learn."""
    n, m = q.shape
    perms = permutation_indices(n, m, cfg)
    out = np.empty(cfg.permutations)
    for k in range(cfg.permutations):
        broken = np.stack([q[perms[k, j], j] for j in range(m)], axis=1)  # (N, M)
        pred = decide(rule, probs, broken[:, None], None, cfg)[0]
        out[k] = balanced_accuracy_score(y, pred)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rule", default="weighted", choices=["noq", "weighted", "softmax", "route"])
    ap.add_argument("--chunk", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)
    k, n = (100, 2_000) if args.quick else (1_000, 10_000)
    t0 = time.perf_counter()
    tiny = synthetic(50, 3, 10)
    _null_metrics(args.rule, *tiny, None, PermutationConfig(permutations=2), 10)
    decide(args.rule, tiny[0], tiny[1][:, None], None, PermutationConfig())
    warm = time.perf_counter() - t0
    probs, q, y = synthetic(n, 3, 10)
    cfg = PermutationConfig(permutations=k, chunk=args.chunk)
    t0 = time.perf_counter()
    fast = _null_metrics(args.rule, probs, q, y, None, cfg, 10)["balanced_accuracy"]
    t1 = time.perf_counter()
    slow = loop(args.rule, probs, q, y, cfg)
    t2 = time.perf_counter()
    same = np.allclose(fast, slow, atol=1e-12)
    print(f"{k} permutations x {n} rows x 3 modalities x 10 classes, rule '{args.rule}', chunk {args.chunk}")
    print(f"first call in this process (load or compile the kernels, tiny input): {warm:.2f} s")
    print(f"vectorised: {t1 - t0:.3f} s on {numba.get_num_threads()} threads")
    print(f"per-permutation loop: {t2 - t1:.3f} s")
    print(f"ratio loop / vectorised: {(t2 - t1) / (t1 - t0):.1f}x; same metrics: {same}")


if __name__ == "__main__":
    main()
