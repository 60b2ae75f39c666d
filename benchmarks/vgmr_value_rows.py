"""Does computing VGMR's value target on a subset of each batch's rows change what VGMR learns? (docs/methods.md, VGMR,
"Rows of the value target"). Side by side in one run: the Gates & values study's VGMR trained with the target on every
row and on ``R`` rows of each batch, same seeds; per seed, the §4.4 table (each statistic clean and corrupted, and the
difference) and the saturated share of the channel values. Prints, per quantity, the mean ± sd over seeds both ways and
whether the two means differ by more than the seed spread (the larger sd); and the training time of each.

    python benchmarks/vgmr_value_rows.py [--rows 16] [--seeds 3] [--backbone concat]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import pandas as pd


def per_seed(samples: pd.DataFrame) -> pd.DataFrame:
    """Per seed, modality and statistic: clean, corrupted and their difference; and the clean saturated share."""
    stats = ["global_value", "channel_value", "channel_sd", "gate"]
    means = samples.groupby(["seed", "modality", "condition"])[stats + ["channel_value_saturation"]].mean()
    rows = []
    for (seed, k), g in means.groupby(level=["seed", "modality"]):
        clean, bad = g.xs("clean", level="condition").iloc[0], g.xs("corrupted", level="condition").iloc[0]
        for s in stats:
            rows += [{"seed": seed, "quantity": f"{k} {s} clean", "value": clean[s]},
                     {"seed": seed, "quantity": f"{k} {s} corrupted − clean", "value": bad[s] - clean[s]}]
        rows.append({"seed": seed, "quantity": f"{k} saturated v_c (clean)", "value": clean["channel_value_saturation"]})
    return pd.DataFrame(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=16, help="R, the subset's rows per batch (the other run uses all)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--backbone", default="concat", choices=("concat", "transformer"))
    args = p.parse_args()
    from fusionlab.experiments import gates
    base = replace(gates.DEFAULT, seeds=args.seeds, backbone=args.backbone)
    tables, seconds = {}, {}
    for rows in (0, args.rows):
        cfg = replace(base, vgmr=replace(base.vgmr, value_rows=rows))
        t = time.perf_counter()
        result = gates.run(cfg)
        seconds[rows] = time.perf_counter() - t
        tables[rows] = per_seed(result.tables["gate_samples"]).assign(rows=rows)
    both = pd.concat(tables.values()).groupby(["quantity", "rows"], sort=False)["value"].agg(["mean", "std"]).unstack()
    out, beyond = [], 0
    for q, r in both.iterrows():
        a, b = (r[("mean", 0)], r[("std", 0)]), (r[("mean", args.rows)], r[("std", args.rows)])
        spread = max(a[1], b[1])
        far = abs(a[0] - b[0]) > spread
        beyond += far
        out.append(f"{q:40s} all rows {a[0]:+.4f} ± {a[1]:.4f}   {args.rows} rows {b[0]:+.4f} ± {b[1]:.4f}"
                   + ("   BEYOND the seed spread" if far else ""))
    print(f"VGMR ({args.backbone} backbone), {args.seeds} seeds; mean ± sd over seeds")
    print("\n".join(out))
    print(f"{beyond} of {len(out)} quantities differ by more than the seed spread; study time (VGMR, backbone, "
          f"robustness) all rows {seconds[0]:.1f} s, {args.rows} rows {seconds[args.rows]:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
