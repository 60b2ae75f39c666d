"""Benchmark: attribution's one batched pass over all 2^M coalitions against a loop of single-coalition evaluations,
and EMAP's cost, on the Playground's default model (uci-digits, two views) and on a three-view model.

For each model, side by side in one run and repeated ``--repeats`` times: the batched coalition pass
(``diagnostics.attribution.coalition_logits``) against one ``predict`` per coalition, and EMAP over every pair of
test rows (M = 2: N² = 160,000 rows). Prints the medians and the ratio.

    python benchmarks/attribution.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    from fusionlab.data import DataConfig
    from fusionlab.data.loaders import UCIConfig
    from fusionlab.diagnostics.attribution import coalition_logits, coalitions, emap_logits
    from fusionlab.experiments import playground as pg
    from fusionlab.train import predict
    for views in (("pix", "mor"), ("pix", "fou", "mor")):
        cfg = replace(pg.DEFAULT, data=DataConfig("uci-digits", UCIConfig(views=views)))
        result = pg.run(cfg)
        model, data = result.artifacts.model, result.artifacts.data
        xs, base = data.test.xs, {k: s.mean for k, s in data.stats.items()}
        subsets = coalitions(list(xs))
        batched, loop, emap = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            coalition_logits(model, xs, base, subsets)
            batched.append(time.perf_counter() - t)
            t = time.perf_counter()
            for s in subsets:
                predict(model, {k: x if k in s else base[k].expand_as(x) for k, x in xs.items()})
            loop.append(time.perf_counter() - t)
            t = time.perf_counter()
            emap_logits(model, xs)
            emap.append(time.perf_counter() - t)
        b, lo, e = (statistics.median(v) for v in (batched, loop, emap))
        print(f"M = {len(views)} ({'+'.join(views)}), {len(data.test)} test rows, {len(subsets)} coalitions: batched "
              f"{b * 1000:.0f} ms [{min(batched) * 1000:.0f}-{max(batched) * 1000:.0f}], one pass per coalition "
              f"{lo * 1000:.0f} ms [{min(loop) * 1000:.0f}-{max(loop) * 1000:.0f}], ratio {lo / b:.2f}; EMAP "
              f"{e:.2f} s [{min(emap):.2f}-{max(emap):.2f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
