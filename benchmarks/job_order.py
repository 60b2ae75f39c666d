"""Fusion complexity's default study on the dashboard's two threads: its jobs submitted in the listed order (each
fusion's sizes ascending) against the costliest first (``Job.cost``: training rows times parameters), alternated in
one run. Prints each order's median wall time and the ratio.

    python benchmarks/job_order.py --repeats 5
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from fusionlab.experiments import scaling
from fusionlab.jobs import run_jobs
from fusionlab.ui.executor import _threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cfg = scaling.DEFAULT
    data = scaling.prepared(cfg.data, cfg.split)
    costed = scaling.jobs_of(cfg, data)
    listed = [dataclasses.replace(j, cost=0.0) for j in costed]
    executor = _threads()
    run_jobs(costed, executor)  # warm-up: data, kernels, threads
    times = {"listed order": [], "costliest first": []}
    for _ in range(args.repeats):
        for name, jobs in (("listed order", listed), ("costliest first", costed)):
            t0 = time.perf_counter()
            run_jobs(jobs, executor)
            times[name].append(time.perf_counter() - t0)
    for name, t in times.items():
        print(f"{name:16s} median {statistics.median(t):.2f} s (range {min(t):.2f}-{max(t):.2f}, {len(t)} runs)")
    ratio = statistics.median(times["listed order"]) / statistics.median(times["costliest first"])
    print(f"listed / costliest first: {ratio:.2f}x")


if __name__ == "__main__":
    main()
