"""Write a model-outputs file for the reliability permutation test (README, "Your own outputs").

Trains one scikit-learn logistic regression per uci-digits view (fou, kar, mor) on a seeded stratified
train split, with the view ``mor`` missing on 10 % of the rows (train and test alike), and writes one row
per sample: ``label``, ``split``, the posteriors ``p__<view>__<digit>``, a quality score ``q__<view>``
(1 - the posterior's normalised entropy: a score of your own, computed without labels) and
``present__mor``. Train rows get out-of-fold posteriors (5 folds), as the authors' router and
correctness predictor need. Then:

    python examples/own_outputs.py outputs.csv
    python -m fusionlab permutation --outputs outputs.csv --out runs/own
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fusionlab.data.loaders import load_uci_digits

VIEWS = ("fou", "kar", "mor")
MISSING_VIEW, MISSING_SHARE = "mor", 0.10


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="the .csv (or .parquet) to write")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    ds = load_uci_digits(VIEWS)
    y, n = ds.labels, len(ds.labels)
    rng = np.random.default_rng(args.seed)
    train, test = train_test_split(np.arange(n), test_size=0.3, stratify=y, random_state=args.seed)
    split = np.where(np.isin(np.arange(n), train), "train", "test")
    present = rng.random(n) >= MISSING_SHARE  # where MISSING_VIEW is present
    cols = {"label": y, "split": split}
    for view in VIEWS:
        x = ds.modalities[view].reshape(n, -1)
        here = present if view == MISSING_VIEW else np.ones(n, bool)
        tr, te = train[here[train]], test[here[test]]
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        p = np.full((n, ds.n_classes), np.nan)
        p[tr] = cross_val_predict(model, x[tr], y[tr], method="predict_proba",
                                  cv=StratifiedKFold(5, shuffle=True, random_state=args.seed))
        p[te] = model.fit(x[tr], y[tr]).predict_proba(x[te])
        ent = -(p * np.log(np.clip(p, 1e-12, 1))).sum(1) / np.log(ds.n_classes)
        for c in range(ds.n_classes):
            cols[f"p__{view}__{ds.class_names[c]}"] = p[:, c]
        cols[f"q__{view}"] = 1 - ent
        if view == MISSING_VIEW:
            cols[f"present__{view}"] = present.astype(int)
    df = pd.DataFrame(cols)
    out = Path(args.out)
    tmp = out.with_name(out.name + ".part")
    df.to_parquet(tmp) if out.suffix == ".parquet" else df.to_csv(tmp, index=False)
    tmp.replace(out)  # never a half-written file under the real name
    print(f"{len(df)} rows ({(~present).sum()} without {MISSING_VIEW}) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
