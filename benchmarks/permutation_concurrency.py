"""Benchmark: the broken-Q test with 4 concurrent callers vs 1, thread budget on and off.

Streamlit sessions are threads of one process; each numba-parallel kernel call starts a
team of worker threads for its caller, so several sessions at once oversubscribe the cores.
``fusionlab.threads.thread_budget`` gives each caller ``max(1, cores // active callers)``
threads. This runs the workload of ``benchmarks/permutation.py`` (its ``synthetic()``
data: 1,000 permutations of Q over 10,000 test rows x 3 modalities x 10 classes,
``weighted`` rule; ``--quick``: 200 permutations over 5,000 rows) as one call = the clean
decision + the K broken-Q metrics, timed

* with 1 caller: ``CALLERS`` calls one after another (per-call median),
* with ``CALLERS`` caller threads at once (``ThreadPoolExecutor``, started together;
  median over the callers of each call's wall time),

each measurement repeated ``--repeats`` times (range printed), with the budget off
(``FUSIONLAB_THREAD_BUDGET=0``: every call on all cores, the 'before') and on. The ratio
is (per-call time with CALLERS callers) / (per-call time with 1 caller). One caller alone
has all the cores, so a fair share is about CALLERS (each call gets 1/CALLERS of the
machine), a little less where one thread per call beats the parallel overhead; far above
it is oversubscription. "throughput" is the wall time of the whole concurrent batch /
CALLERS / the 1-caller per-call time (about 1 when the cores are shared without loss).
Also checks that every call returned the same metrics.

    python benchmarks/permutation_concurrency.py [--quick] [--callers 4] [--repeats 3]
        [--permutations K] [--rows N] [--rule weighted] [--no-budget | --budget-only]

--quick          smaller workload (200 permutations x 5,000 rows)
--callers        concurrent callers (default 4)
--repeats        repeats of each measurement (default 3)
--permutations   K (overrides the default / --quick)
--rows           N (overrides the default / --quick)
--rule           fusion rule: noq, weighted, softmax, route (default weighted)
--no-budget      only the budget-off measurement (the 'before'; the budget reads
                 FUSIONLAB_THREAD_BUDGET=0, which this sets for its measurement)
--budget-only    only the budget-on measurement (the 'after')
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from permutation import synthetic  # noqa: E402  (benchmarks/permutation.py)

from fusionlab import threads  # noqa: E402
from fusionlab.diagnostics.permutation import PermutationConfig, _null_metrics, decide  # noqa: E402


def one_call(rule, probs, q, y, cfg) -> tuple:
    """The broken-Q work of one rule: clean decision + K broken metrics; returns (seconds, metrics)."""
    t0 = time.perf_counter()
    clean = decide(rule, probs, q[:, None], None, cfg)
    null = _null_metrics(rule, probs, q, y, None, cfg, 10)
    return time.perf_counter() - t0, (clean, null)


def sequential(callers, *work):
    times, outs = zip(*(one_call(*work) for _ in range(callers)))
    return statistics.median(times), sum(times), outs


def concurrent(callers, *work):
    start = threading.Barrier(callers)

    def job():
        start.wait()
        return one_call(*work)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        res = list(pool.map(lambda _: job(), range(callers)))
    wall = time.perf_counter() - t0
    times, outs = zip(*res)
    return statistics.median(times), wall, outs


def same(a, b) -> bool:
    return (np.array_equal(a[0], b[0]) and a[1].keys() == b[1].keys()
            and all(np.array_equal(a[1][k], b[1][k]) for k in a[1]))


def measure(label, budget_on, args, work) -> None:
    os.environ[threads.ENV] = "1" if budget_on else "0"
    one, many, thr, ref, ok = [], [], [], None, True
    for _ in range(args.repeats):
        t1, _, outs1 = sequential(args.callers, *work)
        tn, wall, outsn = concurrent(args.callers, *work)
        ref = outs1[0] if ref is None else ref
        ok &= all(same(ref, o) for o in outs1 + outsn)
        one.append(t1)
        many.append(tn)
        thr.append(wall / args.callers / t1)
    ratio = [m / o for m, o in zip(many, one)]
    rng = lambda v, f: f"{f(min(v))} - {f(max(v))}"  # noqa: E731
    s, x = (lambda v: f"{v:.3f} s"), (lambda v: f"{v:.1f}x")
    print(f"{label}:")
    print(f"  1 caller, per-call median:            {rng(one, s)}")
    print(f"  {args.callers} callers at once, per-call median:  {rng(many, s)}")
    print(f"  ratio {args.callers}-caller / 1-caller per call:    {rng(ratio, x)}   (fair share ~{args.callers}x)")
    print(f"  throughput (batch wall / {args.callers} / 1-caller): {rng(thr, x)}")
    print(f"  identical metrics in every call:      {ok}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--callers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--permutations", type=int)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--rule", default="weighted", choices=["noq", "weighted", "softmax", "route"])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--no-budget", action="store_true")
    mode.add_argument("--budget-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    k, n = (200, 5_000) if args.quick else (1_000, 10_000)
    k, n = args.permutations or k, args.rows or n
    tiny = synthetic(50, 3, 10)  # load / compile the kernels before any timing (and before threads)
    one_call(args.rule, *tiny, PermutationConfig(permutations=2))
    probs, q, y = synthetic(n, 3, 10)
    work = (args.rule, probs, q, y, PermutationConfig(permutations=k))
    print(f"{k} permutations x {n} rows x 3 modalities x 10 classes, rule '{args.rule}'; "
          f"{threads.cores()} numba threads ({numba.threading_layer()} layer), {os.cpu_count()} CPUs; "
          f"{args.callers} callers, {args.repeats} repeats (ranges are min - max over repeats)")
    if not args.budget_only:
        measure("budget off (before)", False, args, work)
    if not args.no_budget:
        measure("budget on (after)", True, args, work)


if __name__ == "__main__":
    main()
