"""How long the signal test (docs/methods.md, signal permutation test) and the perceptual score take on each page's default data.

Each page's default model is trained once (the page's default data and settings; ``--epochs``
shortens training, which does not change the test's cost), then the test the page's button runs
is timed ``--repeats`` times: K = 200 permutations of every declared signal of every modality
and of all modalities at once, on clean test rows. Printed: median and range in seconds, and
the number of table rows and test rows.

    python benchmarks/signal_test.py
    python benchmarks/signal_test.py --repeats 3 --epochs 3
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from fusionlab.diagnostics.signals import SignalTestConfig
from fusionlab.experiments import gates, playground, udml


def timed(fn, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--permutations", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = SignalTestConfig(permutations=args.permutations)
    cases = []

    g = replace(gates.DEFAULT, train=replace(gates.DEFAULT.train, epochs=args.epochs))
    data = gates.prepared(g)
    model = gates.train_vgmr(g, data).model
    cases.append(("Gates & values (VGMR, synthetic)", lambda: gates.signal_test(model, data, [{}], cfg), len(data.test)))

    u = replace(udml.DEFAULT, train=replace(udml.DEFAULT.train, epochs=args.epochs), methods=("udml",))
    study = udml.train_study(udml.prepared(u.data, u.split), u)
    from fusionlab.diagnostics.udml import signal_test as udml_test
    cases.append(("Uncertainty weighting (UDML w, synthetic)", lambda: udml_test(study, "udml", 0, [{}], cfg),
                  len(study.data.test)))

    p = replace(playground.DEFAULT, model=replace(playground.DEFAULT.model, fusion="gated"),
                train=replace(playground.DEFAULT.train, epochs=args.epochs))
    res = playground.run(p)
    pm, pd_ = res.artifacts.model, res.artifacts.data
    cases.append(("Playground (gated z, uci-digits)",
                  lambda: playground.signal_test(pm, pd_, p.noise, [{}], cfg, 0), len(pd_.test)))
    cases.append(("Playground (perceptual score, uci-digits)",
                  lambda: playground.perceptual_test(pm, pd_, p.noise, [{}], cfg, 0), len(pd_.test)))

    print(f"K = {args.permutations}, {args.repeats} repeats, {torch.get_num_threads()} torch threads")
    for name, fn, n in cases:
        out, times = timed(fn, args.repeats)
        print(f"{name:45s} {len(out.table):3d} rows x {n} test rows: median {statistics.median(times):.2f} s "
              f"(range {min(times):.2f}-{max(times):.2f})")


if __name__ == "__main__":
    main()
