"""Your own model's outputs for the reliability permutation test (METHODS.md §5, "your own outputs").

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

**The seed-000 authors' artifact layout** (a directory, or a ``.zip`` of it)::

    <any name containing "union">.npz    ids, y2 | y | label(s), M_<m> (0/1 availability); E_* ignored
    splits/seed_<s>/{train,test}_ids_fold<f>.npy
    unimodal_preds/<model>/seed_<s>/fold_<f>.npz    ids, y, p_<m> = P(class 1) (NaN where missing)
    quality/seed_<s>/fold_<f>.npz  (optional)         Q<m> | Q_<m> (..._scaled/_fold), (N,) or (N, d) -> mean
                                                      over d; ids (checked against the union's when given)

Every (seed, fold) with a split and a predictions file is one run. Nothing is unpickled: an ``ids`` array
saved as Python objects is refused with the line that re-saves it as strings.

Every problem is a ``ValueError`` of one line naming the column (or file) and the rows.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from ..data.files import Source, _from_npz, open_zip, read_source, read_table
from ..limits import MAX_DECOMPRESSED_BYTES
from ..experts import SPLITS, ExpertBank, ExpertConfig

SUM_TOLERANCE = 1e-3
LABEL_COLUMNS = ("label", "labels")
SPLIT_VALUES = ("train", "test")
LOG_FLOOR = 1e-12  # a posterior of exactly 0 becomes log(1e-12), not -inf


@dataclass
class OutputRun:
    """One train/test assignment with its posteriors ``(N, M, C)`` (NaN where missing) and ``Q`` ``(N, M)``."""

    seed: int
    fold: int
    train: np.ndarray  # row indices
    test: np.ndarray
    probs: np.ndarray
    q: Optional[np.ndarray] = None


@dataclass
class Outputs:
    """A user's outputs: modality and class names, labels, availability and one or more runs."""

    names: List[str]
    class_names: List[str]
    y: np.ndarray  # (N,) class codes
    present: np.ndarray  # (N, M) bool
    runs: List[OutputRun]
    source: str = "your outputs"
    notes: List[str] = field(default_factory=list)

    @property
    def has_q(self) -> bool:
        return all(r.q is not None for r in self.runs)

    def describe(self) -> str:
        miss = ", ".join(f"{k} {1 - p:.0%}" for k, p in zip(self.names, self.present.mean(0)) if p < 1) or "none"
        return (f"**{self.source}**: {len(self.y)} rows, modalities {', '.join(self.names)}, "
                f"{len(self.class_names)} classes, {len(self.runs)} run(s) (train/test assignments); "
                f"user Q: {'yes' if self.has_q else 'no'}; missing: {miss}.")


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.nonzero(mask)[0]
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"row(s) {idx[:limit].tolist()}{more}"


# ---------------------------------------------------------------------------------------------- one table


def _column_names(columns: Sequence[str]):
    label = [c for c in columns if c in LABEL_COLUMNS]
    if len(label) != 1:
        raise ValueError("the outputs need one 'label' column" + (f"; found {label}" if label else ""))
    assign = [c for c in columns if c in ("split", "fold")]
    if len(assign) != 1:
        raise ValueError("the outputs need a 'split' (train/test) or a 'fold' (integer) column, not both"
                         if assign else "the outputs need a 'split' (train/test) or a 'fold' (integer) column")
    probs: Dict[str, Dict[str, str]] = {}
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


def _labels_of(raw: np.ndarray, column: str) -> np.ndarray:
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


def _numeric(frame: Mapping[str, np.ndarray], column: str) -> np.ndarray:
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


def _table_outputs(frame: Mapping[str, np.ndarray], columns: Sequence[str], source: str) -> Outputs:
    label_col, assign_col, prob_cols, extra = _column_names(list(columns))
    lengths = {c: len(np.asarray(frame[c])) for c in columns}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the arrays have different lengths {dict(list(lengths.items())[:6])}")
    labels = _labels_of(frame[label_col], label_col)
    names = list(prob_cols)
    n = len(labels)
    if n == 0:
        raise ValueError("the outputs have no rows")
    binary = {m for m, cols in prob_cols.items() if "" in cols}
    if binary and len(binary) != len(names):
        raise ValueError(f"modalities {sorted(binary)} give p__<m> (two classes) but {sorted(set(names) - binary)} "
                         "give one column per class; use one form for all")
    if binary:
        bad = [prob_cols[m][""] for m in names if len(prob_cols[m]) > 1]
        if bad:
            raise ValueError(f"modality columns {bad} mix p__<m> with p__<m>__<c>")
        classes = _sorted_labels(labels)
        if len(classes) != 2:
            raise ValueError(f"p__<m> columns are P(class 1) of two classes, but '{label_col}' has {len(classes)} "
                             f"values ({classes[:6]}); give p__<m>__<c> per class")
    else:
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
    if len(set(labels.tolist())) < 2:
        raise ValueError(f"'{label_col}' holds a single class ({labels[0]!s}); the test needs at least two")
    y = np.asarray([classes.index(v) for v in labels.tolist()], dtype=np.int64)
    present = np.ones((n, len(names)), bool)
    for j, m in enumerate(names):
        if m in extra["present"]:
            col = extra["present"][m]
            v = _numeric(frame, col)
            bad = ~np.isin(v, (0, 1))
            if bad.any():
                raise ValueError(f"column '{col}' must be 0 or 1, not {v[bad][:3].tolist()} on {_rows(bad)}")
            present[:, j] = v == 1
    probs = np.full((n, len(names), len(classes)), np.nan)
    for j, m in enumerate(names):
        here = present[:, j]
        hint = f" (mark them {extra['present'].get(m, f'present__{m}')} = 0)"
        if binary:
            p1 = _unit_column(frame, prob_cols[m][""], here, hint)
            probs[:, j, 1], probs[:, j, 0] = p1, 1 - p1
        else:
            for k, c in enumerate(classes):
                probs[:, j, k] = _unit_column(frame, prob_cols[m][c], here, hint)
        if not binary:
            s = probs[:, j].sum(-1)
            off = here & (np.abs(s - 1) > SUM_TOLERANCE)
            if off.any():
                raise ValueError(f"the posteriors p__{m}__* do not sum to 1 (within {SUM_TOLERANCE}) on {_rows(off)}, "
                                 f"e.g. {s[off][0]:.4f}")
        probs[~here, j] = np.nan
    q = None
    if extra["q"]:
        lacking = [m for m in names if m not in extra["q"]]
        if lacking:
            raise ValueError(f"q__<m> is given for {sorted(extra['q'])} but not for {lacking}; give all or none")
        q = np.zeros((n, len(names)))
        for j, m in enumerate(names):
            here = present[:, j]
            q[:, j] = np.where(here, _unit_column(frame, extra["q"][m], here), 0.0)
    empty = ~present.any(1)
    if empty.any():
        raise ValueError(f"{_rows(empty)} have every modality missing (present__<m> = 0 for all)")
    runs = []
    if assign_col == "split":
        raw = np.asarray([str(v) for v in np.asarray(frame["split"]).tolist()])
        bad = ~np.isin(raw, SPLIT_VALUES)
        if bad.any():
            raise ValueError(f"column 'split' must be 'train' or 'test', not {sorted(set(raw[bad].tolist()))[:3]} on {_rows(bad)}")
        runs.append(OutputRun(0, 0, np.nonzero(raw == "train")[0], np.nonzero(raw == "test")[0], probs, q))
    else:
        f = _numeric(frame, "fold")
        bad = ~np.isfinite(f) | (f != np.round(f))
        if bad.any():
            raise ValueError(f"column 'fold' must hold integers; it does not on {_rows(bad)}")
        folds = np.unique(f)
        if len(folds) < 2:
            raise ValueError(f"column 'fold' has {len(folds)} value(s); each fold is the test set once, so give 2 or more")
        for v in folds:
            runs.append(OutputRun(0, int(v), np.nonzero(f != v)[0], np.nonzero(f == v)[0], probs, q))
    out = Outputs(names, classes, y, present, runs, source)
    check_runs(out)
    return out


def check_runs(out: Outputs) -> None:
    """Every run needs train and test rows, no test label unseen in train, and each modality present on
    some train and some test row."""
    for r in out.runs:
        where = f"fold {r.fold}" + (f" of seed {r.seed}" if r.seed else "") if len(out.runs) > 1 else "the split"
        if not len(r.train) or not len(r.test):
            raise ValueError(f"{where} has {len(r.train)} train and {len(r.test)} test rows; both are needed")
        unseen = np.zeros(len(out.y), bool)
        unseen[r.test] = ~np.isin(out.y[r.test], out.y[r.train])
        if unseen.any():
            names = sorted({out.class_names[c] for c in out.y[unseen]})
            raise ValueError(f"in {where} test {_rows(unseen)} have label(s) {names} never seen in train")
        for j, m in enumerate(out.names):
            for part, rows in (("test", r.test), ("train", r.train)):
                if not out.present[rows, j].any():
                    raise ValueError(f"modality '{m}' has no present {part} row in {where}")


# ---------------------------------------------------------------------------------------- authors' layout


def _npz_arrays(data: bytes, where: str) -> Dict[str, np.ndarray]:
    try:
        return _from_npz(data)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(f"{where}: {exc} (e.g. np.savez(path, ids=np.asarray(ids, dtype=str), ...))") from exc
        raise ValueError(f"{where}: {exc}") from exc


def _npy_array(data: bytes, where: str) -> np.ndarray:
    if not data.startswith(b"\x93NUMPY"):
        raise ValueError(f"{where} is not a .npy array (no numpy header)")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise ValueError(f"{where} is not a readable .npy array: {exc}") from exc
        raise ValueError(f"{where} holds Python objects (it needs pickle, which is refused); re-save it with "
                         "np.save(path, np.asarray(ids, dtype=str))") from exc
    except (OSError, EOFError) as exc:
        raise ValueError(f"{where} is not a .npy array: {exc}") from exc


def _first_key(arrays: Mapping[str, np.ndarray], keys: Sequence[str], where: str, required: bool = True):
    for k in keys:
        if k in arrays:
            return arrays[k]
    if required:
        raise ValueError(f"{where} has none of the keys {list(keys)}; it has {sorted(arrays)[:10]}")
    return None


def _files_of_dir(root: Path) -> Dict[str, bytes]:
    if not root.is_dir():
        raise ValueError(f"no such directory: {root}")
    out, total = {}, 0
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".npz", ".npy"):
            total += p.stat().st_size
            if total > MAX_DECOMPRESSED_BYTES:
                raise ValueError(f"the .npz/.npy files under {root} exceed {MAX_DECOMPRESSED_BYTES:,} bytes")
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _files_of_zip(data: bytes) -> Dict[str, bytes]:
    zf, infos = open_zip(data, "the .zip of the authors' artifacts")
    out = {}
    for i in infos:
        if i.filename.endswith((".npz", ".npy")) and "__MACOSX" not in i.filename:
            out[PurePosixPath(i.filename).as_posix()] = zf.read(i)
    # a zip of the directory itself: strip the common top folder
    tops = {k.split("/", 1)[0] for k in out}
    if len(tops) == 1 and all("/" in k for k in out):
        out = {k.split("/", 1)[1]: v for k, v in out.items()}
    return out


def _under(files: Mapping[str, bytes], folder: str) -> Dict[str, bytes]:
    """Files below the first directory called ``folder`` (at any depth), keyed by the rest of the path."""
    hits = sorted({k.split(f"{folder}/")[0] for k in files if f"/{folder}/" in f"/{k}"}, key=len)
    if not hits:
        return {}
    pre = hits[0] + f"{folder}/"
    return {k[len(pre):]: v for k, v in files.items() if k.startswith(pre)}


def _modality_keys(union: Mapping[str, np.ndarray]) -> Dict[str, str]:
    """``{modality: key}`` of the availability arrays: ``M_<m>`` (any name), or ``M<x>`` with one lower-case
    letter (the authors' ``Ma``); other keys that start with M (``Meta``, ``MFCC``) are not masks."""
    out = {}
    for k in union:
        m = re.fullmatch(r"M_(.+)", k) or re.fullmatch(r"M([a-z])", k)
        if m:
            out.setdefault(m.group(1), k)
    return out


def _q_of(arrays: Mapping[str, np.ndarray], m: str, n: int, where: str) -> np.ndarray:
    keys = [f"Q{m}", f"Q_{m}"] + [f"Q_{m}_{s}" for s in ("scaled", "fold", "qscaled")]
    v = np.asarray(_first_key(arrays, keys, where), dtype=np.float64)
    if v.shape[0] != n or v.ndim not in (1, 2):
        raise ValueError(f"{where}: Q for '{m}' has shape {v.shape}; expected ({n},) or ({n}, d)")
    return v if v.ndim == 1 else v.mean(axis=1)


def _authors_outputs(files: Mapping[str, bytes], model: str, source: str) -> Outputs:
    unions = [k for k in files if "union" in PurePosixPath(k).name.lower() and k.endswith(".npz")
              and "unimodal_preds/" not in k and "quality/" not in k]
    if len(unions) != 1:
        raise ValueError(f"the layout needs one UNION .npz (a name containing 'union'); found {unions[:5] or 'none'}")
    union = _npz_arrays(files[unions[0]], unions[0])
    ids = np.asarray([str(v) for v in _first_key(union, ["ids", "id", "ID"], unions[0]).tolist()])
    n = len(ids)
    if len(set(ids.tolist())) != n:
        raise ValueError(f"{unions[0]}: the ids are not unique")
    y = np.asarray(_first_key(union, ["y2", "y", "label", "labels"], unions[0]))
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{unions[0]}: the labels must be {n} values in {{0, 1}}")
    mods = _modality_keys(union)
    if not mods:
        raise ValueError(f"{unions[0]} has no availability arrays M_<m>; it has {sorted(union)[:10]}")
    names = list(mods)
    for m in names:
        v = np.asarray(union[mods[m]])
        if v.shape != (n,) or not np.isin(v, (0, 1)).all():
            raise ValueError(f"{unions[0]}: {mods[m]} must be {n} values in {{0, 1}}, got shape {v.shape}")
    present = np.stack([np.asarray(union[mods[m]]) for m in names], 1).astype(bool)
    empty = ~present.any(1)
    if empty.any():
        raise ValueError(f"{unions[0]}: UNION {_rows(empty)} have every modality missing (all M_<m> = 0)")
    splits = _under(files, "splits")
    preds_all = _under(files, "unimodal_preds")
    models = sorted({k.split("/", 1)[0] for k in preds_all if "/" in k})
    if not models:
        raise ValueError("the layout has no unimodal_preds/<model>/seed_<s>/fold_<f>.npz")
    if not model:
        if len(models) > 1:
            raise ValueError(f"unimodal_preds holds several models {models}; choose one (--outputs-model)")
        model = models[0]
    if model not in models:
        raise ValueError(f"no unimodal_preds/{model}; the layout has {models}")
    preds = {k.split("/", 1)[1]: v for k, v in preds_all.items() if k.startswith(f"{model}/")}
    quality = _under(files, "quality")
    row = {v: i for i, v in enumerate(ids.tolist())}
    runs = []
    for key in sorted(preds, key=lambda k: [int(x) for x in re.findall(r"\d+", k)]):
        hit = re.fullmatch(r"seed_(\d+)/fold_?(\d+)\.npz", key)
        if not hit:
            continue
        s, f = int(hit.group(1)), int(hit.group(2))
        tr_key, te_key = f"seed_{s}/train_ids_fold{f}.npy", f"seed_{s}/test_ids_fold{f}.npy"
        if tr_key not in splits or te_key not in splits:
            raise ValueError(f"unimodal_preds/{model}/{key} has no splits/{tr_key} and splits/{te_key}")
        parts = {}
        for part, k in (("train", tr_key), ("test", te_key)):
            got = [str(v) for v in _npy_array(splits[k], f"splits/{k}").tolist()]
            if len(set(got)) != len(got):
                raise ValueError(f"splits/{k} lists {len(got) - len(set(got))} id(s) twice")
            unknown = [v for v in got if v not in row]
            if unknown:
                raise ValueError(f"splits/{k}: {len(unknown)} id(s) not in the UNION, e.g. {unknown[:3]}")
            parts[part] = np.asarray([row[v] for v in got], dtype=np.int64)
        if np.intersect1d(parts["train"], parts["test"]).size:
            raise ValueError(f"splits/seed_{s}: train and test of fold {f} share rows")
        where = f"unimodal_preds/{model}/{key}"
        arr = _npz_arrays(preds[key], where)
        if "ids" in arr and [str(v) for v in arr["ids"].tolist()] != ids.tolist():
            raise ValueError(f"{where}: its ids are not the UNION's ids in the UNION's order")
        if "y" in arr and (np.shape(arr["y"]) != (n,) or not np.array_equal(np.asarray(arr["y"]), y)):
            diff = np.asarray(arr["y"]).shape == (n,) and ~np.equal(np.asarray(arr["y"]), y)
            raise ValueError(f"{where}: its labels y differ from the UNION's"
                             + (f" on {_rows(diff)}" if isinstance(diff, np.ndarray) else f" (shape {np.shape(arr['y'])})"))
        probs = np.full((n, len(names), 2), np.nan)
        for j, m in enumerate(names):
            p1 = np.asarray(_first_key(arr, [f"p_{m}", f"p{m}"], f"{where} (modality '{m}' of the UNION's M_ keys)"),
                            dtype=np.float64)
            if p1.shape != (n,):
                raise ValueError(f"{where}: p_{m} has shape {p1.shape}; expected ({n},) in UNION row order")
            bad = present[:, j] & (~np.isfinite(p1) | (p1 < 0) | (p1 > 1))
            if bad.any():
                raise ValueError(f"{where}: p_{m} is NaN or outside [0, 1] on present {_rows(bad)}")
            probs[:, j, 1], probs[:, j, 0] = p1, 1 - p1
            probs[~present[:, j], j] = np.nan
        q = None
        qkey = next((k for k in (f"seed_{s}/fold_{f}.npz", f"seed_{s}/fold{f}.npz") if k in quality), None)
        if qkey:
            qa = _npz_arrays(quality[qkey], f"quality/{qkey}")
            if "ids" in qa and [str(v) for v in qa["ids"].tolist()] != ids.tolist():
                raise ValueError(f"quality/{qkey}: its ids are not the UNION's ids in the UNION's order")
            q = np.stack([_q_of(qa, m, n, f"quality/{qkey}") for m in names], 1)
            bad = present & (~np.isfinite(q) | (q < 0) | (q > 1))
            if bad.any():
                raise ValueError(f"quality/{qkey}: Q is NaN or outside [0, 1] on present {_rows(bad.any(1))}")
            q = np.where(present, q, 0.0)
        runs.append(OutputRun(s, f, np.sort(parts["train"]), np.sort(parts["test"]), probs, q))
    if not runs:
        raise ValueError(f"unimodal_preds/{model} has no seed_<s>/fold_<f>.npz")
    if any(r.q is None for r in runs) and any(r.q is not None for r in runs):
        raise ValueError("quality/ has Q files for some (seed, fold) runs but not for others")
    out = Outputs(names, ["0", "1"], y.astype(np.int64), present, runs, source,
                  [f"the authors' layout: model '{model}', {len(runs)} (seed, fold) run(s)"])
    check_runs(out)
    return out


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

