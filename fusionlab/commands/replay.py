"""``replay``: reopen a run bundle (``fusionlab.bundles``) without retraining and regenerate its tables.

    python -m fusionlab replay BUNDLE.zip --out DIR

Loads the bundle's config and weights, rebuilds the model its config names, recomputes every table from the
weights (the training history is the bundle's own) and writes them to ``DIR`` as CSV, with ``config.json``;
then says, table by table, whether the regenerated numbers equal the bundle's (``equal.json``): every column the
bundle holds (a newer lab may add columns; a column renamed since the bundle's version is compared under its new name,
``bundles.RENAMED_BEFORE``).
"""
from __future__ import annotations

COMMANDS = {"replay": "reopen a run bundle without retraining; regenerates its tables and compares them"}


def add_parser(sub) -> None:
    p = sub.add_parser("replay", help=COMMANDS["replay"])
    p.add_argument("bundle", help="a .zip downloaded with 'Download run' on a page")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run_replay)


def same_tables(a, b, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """The bundle's table ``b`` regenerated in ``a``: every column of ``b`` in ``a`` (a newer lab may add columns
    to a table), the same rows, numbers within float tolerance (CSV round-trips floats to 17 digits)."""
    import numpy as np
    import pandas as pd
    if not set(b.columns) <= set(a.columns) or len(a) != len(b):
        return False
    a = a[list(b.columns)]
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            if not np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=rtol, atol=atol, equal_nan=True):
                return False
        elif list(x.astype(str)) != list(y.astype(str)):
            return False
    return True


def run_replay(args) -> int:
    from ..bundles import replay
    from ..experiments import gates, permutation, playground, scaling, udml
    from ._common import check_out, read_bundle_file, result_set, write_csv, write_json
    out = check_out(args.out)
    data = read_bundle_file(args.bundle)
    savings = {m.SAVING.kind: m.SAVING for m in (playground, gates, udml, scaling, permutation)}
    tables, saved, config = replay(data, savings)
    equal = {name: same_tables(table, saved[name]) for name, table in tables.items() if name in saved}
    with result_set(out, "replay") as d:
        for name, table in tables.items():
            write_csv(table, d / f"{name}.csv")
        write_json(config, d / "config.json")
        write_json(equal, d / "equal.json")
    for name, ok in equal.items():
        print(f"{name:20s} {'equal to the bundle' if ok else 'DIFFERS from the bundle'}")
    print(f"{len(tables)} table(s) -> {out}")
    return 0 if all(equal.values()) else 1
