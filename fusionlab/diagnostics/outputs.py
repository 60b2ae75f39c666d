"""Your own model's outputs for the reliability permutation test (docs/methods.md, reliability permutation test, "your own outputs").

The test needs only per-modality posteriors, ``Q``, labels and a train/test assignment. Two sources:

**One table** (``.csv``, ``.parquet`` or ``.npz`` of 1-D arrays named like the columns), one row per sample:

- ``label`` (or ``labels``): the class, an integer or a string;
- ``split`` (``train`` / ``test``) **or** ``fold`` (an integer: each fold in turn is the test set, the
  other folds train);
- per modality ``m`` and class ``c`` the posterior ``p__<m>__<c>`` (``c`` as the labels spell it); with two
  classes ``p__<m>`` = P(the larger label) is accepted;
- optional quality ``q__<m>`` in [0, 1] (becomes the score ``user``);
- optional availability ``present__<m>`` (0/1): where 0, the posterior and ``Q`` may be empty and are ignored;
- optional ``id`` (kept for your reference, not used).

Any other column is refused, so a typo cannot silently drop a modality.

**the reliability paper's authors' artifact layout** (a directory, or a ``.zip`` of it)::

    <any name containing "union">.npz    ids, y2 | y | label(s), M_<m> (0/1 availability); E_* ignored
    splits/seed_<s>/{train,test}_ids_fold<f>.npy
    unimodal_preds/<model>/seed_<s>/fold_<f>.npz    ids, y, p_<m> = P(class 1) (NaN where missing)
    quality/seed_<s>/fold_<f>.npz  (optional)         Q<m> | Q_<m> (..._scaled/_fold), (N,) or (N, d) -> mean
                                                      over d; ids (checked against the union's when given)

Every (seed, fold) with a split and a predictions file is one run. Nothing is unpickled: an ``ids`` array
saved as Python objects is refused with the line that re-saves it as strings.

Every problem is a ``ValueError`` of one line naming the column (or file) and the rows. The table is read by
:mod:`.outputs_table`, the layout by :mod:`.outputs_authors`; this module picks the reader and builds the bank.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import List, Union

import numpy as np

from ..data.files import Source, read_source, read_table
from ..experts import SPLITS, ExpertBank, ExpertConfig
from .outputs_authors import _authors_outputs, _files_of_dir, _files_of_zip
from .outputs_base import OutputRun, Outputs, check_runs  # noqa: F401  (re-exported)
from .outputs_table import LABEL_COLUMNS, SPLIT_VALUES, SUM_TOLERANCE, _table_outputs  # noqa: F401  (re-exported)

LOG_FLOOR = 1e-12  # a posterior of exactly 0 becomes log(1e-12), not -inf


def load_outputs(source: Union[Source, Path], filename: str = "", model: str = "") -> Outputs:
    """Read and validate outputs: a table file, a directory in the authors' layout, or a ``.zip`` of one."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        return _authors_outputs(_files_of_dir(Path(source)), model, Path(source).name)
    data, filename = read_source(source, filename)
    name = PurePosixPath(filename or "outputs").name
    if name.lower().endswith(".zip"):
        return _authors_outputs(_files_of_zip(data), model, name)
    if model:
        raise ValueError(f"a model name ('{model}') chooses among the authors' unimodal_preds/<model>; "
                         f"{name} is a single table")
    table = read_table(data, filename)
    if isinstance(table, dict):
        bad = [k for k, v in table.items() if v.ndim != 1]
        if bad:
            raise ValueError(f"the .npz arrays {bad[:5]} are not one-dimensional; one 1-D array per column")
        return _table_outputs(table, list(table), name)
    return _table_outputs({c: table[c].to_numpy() for c in table.columns}, [str(c) for c in table.columns], name)


# -------------------------------------------------------------------------------------------- the bank


def outputs_bank(out: Outputs, run: OutputRun) -> ExpertBank:
    """An :class:`ExpertBank` of one run's given posteriors (logits = log p; 0 where missing), with the user's
    ``Q`` as ``user_q``; no features (so no feature-derived score)."""
    rows = {"train": run.train, "test": run.test}
    present = {s: out.present[r] for s, r in rows.items()}
    logits = {s: np.where(present[s][..., None], np.log(np.clip(np.nan_to_num(run.probs[r], nan=1.0), LOG_FLOOR, 1)),
                          0.0) for s, r in rows.items()}
    n = {s: len(r) for s, r in rows.items()}
    masks = present if not all(p.all() for p in present.values()) else {}
    user = {s: run.q[r] for s, r in rows.items()} if run.q is not None else {}
    return ExpertBank(list(out.names), {}, logits, {s: out.y[r] for s, r in rows.items()}, {s: {} for s in SPLITS},
                      {s: np.ones((n[s], len(out.names)), bool) for s in SPLITS}, ExpertConfig(kind="yours"),
                      len(out.class_names), {s: np.zeros((n[s], len(out.names))) for s in SPLITS}, masks, user)


def outputs_scores(out: Outputs) -> List[str]:
    """The scores offered on outputs: ``user`` (when Q is given), ``max-prob`` and the learned ``correctness``.
    ``pca-recon`` needs features; ``energy`` of normalised posteriors is ``log Σ p = 0`` on every row (both are
    refused with a message)."""
    return (["user"] if out.has_q else []) + ["max-prob", "correctness"]

