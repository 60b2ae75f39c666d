"""Benchmark: the reliability test's default study (its page's "Fit experts") with numpy's and scipy's BLAS on
two threads and on one, side by side in one process, alternating.

The dashboard and the command line run BLAS on one thread (``fusionlab.threads.one_blas_thread``): the study's
experts are scikit-learn logistic regressions fitted by scipy's L-BFGS-B, and its router is fitted by L-BFGS-B
too; they make many small BLAS calls, each of which paid a hand-off between threads. Prints each run's seconds and
the median ratio (two threads over one).

    python benchmarks/blas_threads.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from threadpoolctl import threadpool_limits

from fusionlab.experiments import permutation as study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as the dashboard
    ds = study._dataset(study.DEFAULT.data)
    study.run(study.DEFAULT, dataset=ds, memo={})  # warm-up: imports, compiled kernels
    times = {2: [], 1: []}
    for _ in range(args.repeats):
        for n in (2, 1):
            with threadpool_limits(n, user_api="blas"):
                t = time.perf_counter()
                study.run(study.DEFAULT, dataset=ds, memo={})
                times[n].append(time.perf_counter() - t)
    for n in (2, 1):
        print(f"BLAS on {n} thread(s): {' '.join(f'{s:.2f}' for s in times[n])} s (median {statistics.median(times[n]):.2f})")
    print(f"two threads / one: {statistics.median(times[2]) / statistics.median(times[1]):.1f}x")


if __name__ == "__main__":
    main()
