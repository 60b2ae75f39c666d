"""Benchmark: one small fusion-complexity-paper sweep run here, in 2 local worker processes, and on a 2-worker Dask
LocalCluster; prints the wall times, their ratios, that the tables are identical, and an estimate of
the paper-scale sweep on this machine from the measured per-job times.

The sweep: clip-like (dot label), concat / product / tensor, training sizes 32 .. ``--top``, ``--seeds``
seeds batched per job, ``--epochs`` epochs: one job per fusion and size. Per-job cost grows with
size x epochs x seeds, so the estimate scales the largest measured job of each fusion (bar the one
that also measures robustness) to the paper's
setting (20 seeds, 100 epochs, sizes doubling from 32 to 327,680) and sums it, for one process
here and for W Dask workers like these cores.

    python benchmarks/sweep.py [--top 1024] [--seeds 20] [--epochs 5] [--quick]
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pandas as pd

from fusionlab.data import ClipLikeConfig, DataConfig
from fusionlab.experiments import scaling
from fusionlab.experiments.scaling import doubling_sizes
from fusionlab.jobs import worker_threads


def timed(cfg, executor=None):
    t0 = time.perf_counter()
    res = scaling.run(cfg, executor=executor)
    return time.perf_counter() - t0, res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--top", type=int, default=1024, help="largest training size of the small sweep")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="top 256, 5 seeds, 2 epochs")
    args = ap.parse_args()
    if args.quick:
        args.top, args.seeds, args.epochs = 256, 5, 2
    cfg = replace(scaling.DEFAULT, data=DataConfig("clip-like", ClipLikeConfig(label="dot", n_samples=int(args.top * 1.4))),
                  sizes=tuple(doubling_sizes(args.top)), n_seeds=args.seeds,
                  train=replace(scaling.DEFAULT.train, epochs=args.epochs))
    n_jobs = len(cfg.fusions) * len(cfg.sizes)
    print(f"sweep: {len(cfg.fusions)} fusions x sizes 32..{args.top} = {n_jobs} jobs, {args.seeds} seeds, "
          f"{args.epochs} epochs")
    here, ref = timed(cfg)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=worker_threads,
                             initargs=(1,)) as pool:  # what --workers 2 builds: one core each
        procs, res_p = timed(cfg, pool)
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        client.wait_for_workers(2)
        client.run(worker_threads, 1)  # one core each, as README's `dask worker` line sets with OMP_NUM_THREADS=1
        startup = time.perf_counter() - t0
        dask_s, res_d = timed(cfg, client.get_executor(pure=False))
    same = all(res_p.tables[k].equals(ref.tables[k]) and res_d.tables[k].equals(ref.tables[k])
               for k in ("scaling", "robustness"))
    print(f"in-process          {here:7.1f} s")
    print(f"2 local processes   {procs:7.1f} s   ratio {here / procs:.2f}x")
    print(f"2-worker Dask       {dask_s:7.1f} s   ratio {here / dask_s:.2f}x   (cluster start {startup:.1f} s, not counted)")
    print(f"identical tables: {same}")
    per_job = pd.DataFrame({"fusion": [f for f in cfg.fusions for _ in cfg.sizes],
                            "size": [n for _ in cfg.fusions for n in cfg.sizes],
                            "seconds": ref.artifacts.job_seconds})
    print(per_job.pivot(index="size", columns="fusion", values="seconds").round(2).to_string())
    paper_sizes = doubling_sizes(327_680)
    factor = (20 / args.seeds) * (100 / args.epochs)
    total = largest = 0.0
    robust = max(cfg.sizes)  # that job also measures robustness: leave it out of the per-row cost
    for fusion, g in per_job[per_job["size"] < robust].groupby("fusion"):
        top = g.sort_values("size").iloc[-1]
        per_row = top["seconds"] / top["size"]  # the largest such job: the least fixed overhead per row
        total += sum(per_row * n * factor for n in paper_sizes)
        largest = max(largest, per_row * paper_sizes[-1] * factor)  # one job: one fusion at the largest size
    print(f"paper-scale estimate (20 seeds, 100 epochs, sizes 32..327,680, 3 fusions, one job per fusion and "
          f"size): {total / 3600:.1f} h in one process here; on 16 such workers at least "
          f"{max(total / 16, largest) / 3600:.1f} h, set by the largest single job ({largest / 3600:.1f} h)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
