"""Your own outputs as **one table** (:mod:`.outputs` describes the columns): ``label``, ``split`` or ``fold``,
posteriors ``p__<m>__<c>`` (or ``p__<m>`` for two classes), optional ``q__<m>``, ``present__<m>`` and ``id``.

Every problem is a ``ValueError`` of one line naming the column and the rows.
"""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .outputs_base import OutputRun, Outputs, _rows, check_runs

SUM_TOLERANCE = 1e-3
LABEL_COLUMNS = ("label", "labels")
SPLIT_VALUES = ("train", "test")

ProbColumns = Dict[str, Dict[str, str]]  # {modality: {class spelling ('' for P(class 1)): column}}


def _column_names(columns: Sequence[str]):
    """Sort the columns into the label, the split|fold, the posteriors and the optional q / present columns;
    an unknown column, or a q / present column of a modality without posteriors, is refused."""
    label = [c for c in columns if c in LABEL_COLUMNS]
    if len(label) != 1:
        raise ValueError("the outputs need one 'label' column" + (f"; found {label}" if label else ""))
    assign = [c for c in columns if c in ("split", "fold")]
    if len(assign) != 1:
        raise ValueError("the outputs need a 'split' (train/test) or a 'fold' (integer) column, not both"
                         if assign else "the outputs need a 'split' (train/test) or a 'fold' (integer) column")
    probs: ProbColumns = {}
    extra: Dict[str, Dict[str, str]] = {"q": {}, "present": {}}
    unknown = []
    for c in columns:
        if c in (label[0], assign[0], "id"):
            continue
        parts = c.split("__")
        if parts[0] == "p" and len(parts) in (2, 3) and all(parts[1:]):
            probs.setdefault(parts[1], {})[parts[2] if len(parts) == 3 else ""] = c
        elif parts[0] in extra and len(parts) == 2 and parts[1]:
            extra[parts[0]][parts[1]] = c
        else:
            unknown.append(c)
    if unknown:
        raise ValueError(f"unknown column(s) {unknown[:5]}: expected label, split|fold, p__<m>__<c> (or p__<m>), "
                         "q__<m>, present__<m>, id")
    if not probs:
        raise ValueError("no posterior columns: name them p__<modality>__<class> (or p__<modality> for two classes)")
    for kind in ("q", "present"):
        orphan = sorted(set(extra[kind]) - set(probs))
        if orphan:
            raise ValueError(f"column(s) {[extra[kind][m] for m in orphan]} name modalities without posteriors")
    return label[0], assign[0], probs, extra


def _check_lengths(frame: Mapping[str, np.ndarray], columns: Sequence[str]) -> None:
    """Every column (an array of a ``.npz``) has the same length."""
    lengths = {c: len(np.asarray(frame[c])) for c in columns}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the arrays have different lengths {dict(list(lengths.items())[:6])}")


def _labels_of(raw: np.ndarray, column: str) -> np.ndarray:
    """The labels as strings; a float label must be a whole number, and no label may be empty."""
    raw = np.asarray(raw)
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw)) | (np.abs(raw) > 2 ** 53)
        if bad.any():
            raise ValueError(f"column '{column}' is empty, fractional or beyond ±2^53 on {_rows(bad)}")
        raw = raw.astype(np.int64)
    elif raw.dtype.kind == "O":
        empty = pd.isna(raw)
        if empty.any():
            raise ValueError(f"column '{column}' is empty on {_rows(empty)}")
    return np.asarray([str(v) for v in raw.tolist()])


def _integers(values) -> bool:
    """Whether every value is spelled as an integer."""
    return all(re.fullmatch(r"-?\d+", str(u)) for u in values)


def _sorted_labels(values: np.ndarray) -> List[str]:
    """The label spellings in order: numerically when every one is an integer, else as text."""
    uniq = list(dict.fromkeys(values.tolist()))
    if _integers(uniq):
        return sorted(uniq, key=int)
    return sorted(uniq)


def _canonical(spellings: Sequence[str], numeric: bool) -> Dict[str, str]:
    """Each class spelling's canonical form (``'01'`` and ``'1'`` are one integer class); two spellings of one
    class are an error."""
    out, seen = {}, {}
    for c in spellings:
        k = str(int(c)) if numeric else c
        if k in seen:
            raise ValueError(f"the class columns '{seen[k]}' and '{c}' name the same class")
        seen[k], out[c] = c, k
    return out


def _posterior_form(prob_cols: ProbColumns) -> bool:
    """Whether the posteriors are given as ``p__<m>`` = P(class 1) (True) or per class; one form for all."""
    names = list(prob_cols)
    binary = {m for m, cols in prob_cols.items() if "" in cols}
    if binary and len(binary) != len(names):
        raise ValueError(f"modalities {sorted(binary)} give p__<m> (two classes) but {sorted(set(names) - binary)} "
                         "give one column per class; use one form for all")
    if binary:
        bad = [prob_cols[m][""] for m in names if len(prob_cols[m]) > 1]
        if bad:
            raise ValueError(f"modality columns {bad} mix p__<m> with p__<m>__<c>")
    return bool(binary)


def _binary_classes(labels: np.ndarray, label_col: str) -> List[str]:
    """The two classes of ``p__<m>`` columns: the label values, which must be exactly two."""
    classes = _sorted_labels(labels)
    if len(classes) != 2:
        raise ValueError(f"p__<m> columns are P(class 1) of two classes, but '{label_col}' has {len(classes)} "
                         f"values ({classes[:6]}); give p__<m>__<c> per class")
    return classes


def _class_columns(prob_cols: ProbColumns, labels: np.ndarray,
                   label_col: str) -> Tuple[List[str], np.ndarray, ProbColumns]:
    """The classes named by ``p__<m>__<c>`` columns (the same for every modality), the columns keyed by the
    canonical class, and the labels spelled the same way; every label needs its columns."""
    spelled = {c for cols in prob_cols.values() for c in cols}
    numeric = _integers(spelled) and _integers(set(labels.tolist()))  # '01' in a header, 1 in the labels
    canon = _canonical(sorted(spelled), numeric)
    sets = {m: tuple(sorted(canon[c] for c in cols)) for m, cols in prob_cols.items()}
    if len(set(sets.values())) != 1:
        raise ValueError(f"the modalities name different classes: {sets}")
    prob_cols = {m: {canon[c]: col for c, col in cols.items()} for m, cols in prob_cols.items()}
    classes = _sorted_labels(np.asarray(next(iter(sets.values()))))
    if numeric:
        labels = np.asarray([str(int(v)) for v in labels.tolist()])
    unseen = ~np.isin(labels, classes)
    if unseen.any():
        raise ValueError(f"'{label_col}' has values {sorted(set(labels[unseen].tolist()))[:5]} with no p__<m>__<c> column "
                         f"(classes {classes}) on {_rows(unseen)}")
    return classes, labels, prob_cols


def _numeric(frame: Mapping[str, np.ndarray], column: str) -> np.ndarray:
    """A column as float64; a non-numeric column is refused."""
    v = np.asarray(frame[column])
    if v.dtype.kind not in "biuf":
        raise ValueError(f"column '{column}' is not numeric (dtype {v.dtype})")
    return v.astype(np.float64)


def _unit_column(frame: Mapping[str, np.ndarray], column: str, here: np.ndarray, hint: str = "") -> np.ndarray:
    """A posterior or Q column: numeric, and on the rows where its modality is present finite and in [0, 1]."""
    v = _numeric(frame, column)
    nan = here & ~np.isfinite(v)
    if nan.any():
        raise ValueError(f"column '{column}' is empty or NaN on present {_rows(nan)}{hint}")
    out = here & ((v < 0) | (v > 1))
    if out.any():
        raise ValueError(f"column '{column}' lies outside [0, 1] on {_rows(out)}, e.g. {v[out][0]:g}")
    return v


def _presence(frame: Mapping[str, np.ndarray], names: Sequence[str], present_cols: Mapping[str, str],
              n: int) -> np.ndarray:
    """Availability ``(N, M)`` from the ``present__<m>`` columns (0 or 1); present where there is none."""
    present = np.ones((n, len(names)), bool)
    for j, m in enumerate(names):
        if m in present_cols:
            col = present_cols[m]
            v = _numeric(frame, col)
            bad = ~np.isin(v, (0, 1))
            if bad.any():
                raise ValueError(f"column '{col}' must be 0 or 1, not {v[bad][:3].tolist()} on {_rows(bad)}")
            present[:, j] = v == 1
    return present


def _check_sums(p: np.ndarray, here: np.ndarray, m: str) -> None:
    """One modality's per-class posteriors ``(N, C)`` sum to 1 on its present rows."""
    s = p.sum(-1)
    off = here & (np.abs(s - 1) > SUM_TOLERANCE)
    if off.any():
        raise ValueError(f"the posteriors p__{m}__* do not sum to 1 (within {SUM_TOLERANCE}) on {_rows(off)}, "
                         f"e.g. {s[off][0]:.4f}")


def _posteriors(frame: Mapping[str, np.ndarray], prob_cols: ProbColumns, classes: Sequence[str],
                present: np.ndarray, binary: bool, present_cols: Mapping[str, str]) -> np.ndarray:
    """The posteriors ``(N, M, C)``, checked on the rows where each modality is present, NaN elsewhere."""
    probs = np.full((len(present), len(prob_cols), len(classes)), np.nan)
    for j, (m, cols) in enumerate(prob_cols.items()):
        here = present[:, j]
        hint = f" (mark them {present_cols.get(m, f'present__{m}')} = 0)"
        if binary:
            p1 = _unit_column(frame, cols[""], here, hint)
            probs[:, j, 1], probs[:, j, 0] = p1, 1 - p1
        else:
            for k, c in enumerate(classes):
                probs[:, j, k] = _unit_column(frame, cols[c], here, hint)
            _check_sums(probs[:, j], here, m)
        probs[~here, j] = np.nan
    return probs


def _user_quality(frame: Mapping[str, np.ndarray], names: Sequence[str], q_cols: Mapping[str, str],
                  present: np.ndarray) -> Optional[np.ndarray]:
    """The user's ``Q`` ``(N, M)`` from the ``q__<m>`` columns (all modalities or none), 0 where missing."""
    if not q_cols:
        return None
    lacking = [m for m in names if m not in q_cols]
    if lacking:
        raise ValueError(f"q__<m> is given for {sorted(q_cols)} but not for {lacking}; give all or none")
    q = np.zeros(present.shape)
    for j, m in enumerate(names):
        here = present[:, j]
        q[:, j] = np.where(here, _unit_column(frame, q_cols[m], here), 0.0)
    return q


def _table_runs(frame: Mapping[str, np.ndarray], assign_col: str, probs: np.ndarray,
                q: Optional[np.ndarray]) -> List[OutputRun]:
    """The runs of the ``split`` column (one) or of the ``fold`` column (each fold the test set once)."""
    if assign_col == "split":
        raw = np.asarray([str(v) for v in np.asarray(frame["split"]).tolist()])
        bad = ~np.isin(raw, SPLIT_VALUES)
        if bad.any():
            raise ValueError(f"column 'split' must be 'train' or 'test', not {sorted(set(raw[bad].tolist()))[:3]} on {_rows(bad)}")
        return [OutputRun(0, 0, np.nonzero(raw == "train")[0], np.nonzero(raw == "test")[0], probs, q)]
    f = _numeric(frame, "fold")
    bad = ~np.isfinite(f) | (f != np.round(f))
    if bad.any():
        raise ValueError(f"column 'fold' must hold integers; it does not on {_rows(bad)}")
    folds = np.unique(f)
    if len(folds) < 2:
        raise ValueError(f"column 'fold' has {len(folds)} value(s); each fold is the test set once, so give 2 or more")
    return [OutputRun(0, int(v), np.nonzero(f != v)[0], np.nonzero(f == v)[0], probs, q) for v in folds]


def _table_outputs(frame: Mapping[str, np.ndarray], columns: Sequence[str], source: str) -> Outputs:
    """Read and validate a table of outputs (``{column: 1-D array}``, one row per sample)."""
    label_col, assign_col, prob_cols, extra = _column_names(list(columns))
    _check_lengths(frame, columns)
    labels = _labels_of(frame[label_col], label_col)
    names = list(prob_cols)
    n = len(labels)
    if n == 0:
        raise ValueError("the outputs have no rows")
    binary = _posterior_form(prob_cols)
    if binary:
        classes = _binary_classes(labels, label_col)
    else:
        classes, labels, prob_cols = _class_columns(prob_cols, labels, label_col)
    if len(set(labels.tolist())) < 2:
        raise ValueError(f"'{label_col}' holds a single class ({labels[0]!s}); the test needs at least two")
    y = np.asarray([classes.index(v) for v in labels.tolist()], dtype=np.int64)
    present = _presence(frame, names, extra["present"], n)
    probs = _posteriors(frame, prob_cols, classes, present, binary, extra["present"])
    q = _user_quality(frame, names, extra["q"], present)
    empty = ~present.any(1)
    if empty.any():
        raise ValueError(f"{_rows(empty)} have every modality missing (present__<m> = 0 for all)")
    out = Outputs(names, classes, y, present, _table_runs(frame, assign_col, probs, q), source)
    check_runs(out)
    return out
