"""Your own outputs in **the reliability paper's authors' artifact layout** (a directory, or a ``.zip`` of it; :mod:`.outputs`
describes the files): a UNION ``.npz`` of ids, labels and availability, ``splits/``, ``unimodal_preds/<model>/``
and optional ``quality/``, flat or in the authors' project layout (``output/fusion_table_noQ/``,
``paper_output/unimodal_preds/``). Their code saves ids and a ``meta`` dict as object arrays: those are read through an
allow-list that runs nothing (:mod:`fusionlab.data.safe_pickle`); Broken-Q banks beside them are recognised and left
out.

Every problem is a ``ValueError`` of one line naming the file and the rows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..data.files import open_zip, read_member
from ..data.safe_pickle import load_npy
from ..limits import MAX_CELLS, MAX_DECOMPRESSED_BYTES
from .outputs_base import OutputRun, Outputs, _rows, check_runs

# ---------------------------------------------------------------------------------------------- reading files


def _npz_arrays(data: bytes, where: str) -> Dict[str, np.ndarray]:
    """The arrays of an ``.npz``, object members (ids, a ``meta`` dict) through the allow-list; sizes checked from
    the zip's directory and each member's real output."""
    if not data.startswith(b"PK"):
        raise ValueError(f"{where} is not a .npz file (it does not start with a zip header)")
    zf, infos = open_zip(data, where)
    out, cells = {}, 0
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        arr = load_npy(read_member(zf, info, what=where), f"{where}: member '{name}'")
        cells += arr.size
        if cells > MAX_CELLS:
            raise ValueError(f"{where} holds more than {MAX_CELLS:,} values (member '{name}' {arr.shape})")
        out[name] = arr
    return out


def _npy_array(data: bytes, where: str) -> np.ndarray:
    """The array of a ``.npy``, an object array (of ids) through the allow-list."""
    if not data.startswith(b"\x93NUMPY"):
        raise ValueError(f"{where} is not a .npy array (no numpy header)")
    return load_npy(data, where)


def _first_key(arrays: Mapping[str, np.ndarray], keys: Sequence[str], where: str, required: bool = True):
    """The array under the first of ``keys`` present (None, or an error when ``required``, if none is)."""
    for k in keys:
        if k in arrays:
            return arrays[k]
    if required:
        raise ValueError(f"{where} has none of the keys {list(keys)}; it has {sorted(arrays)[:10]}")
    return None


def broken_q(path: str) -> bool:
    """A Broken-Q bank (the authors' pipeline writes ``brokenQ_K<k>/...union_quality_BROKENQ...npz`` beside the
    predictions): the permutations of their own test, not an input of ours; left out unread."""
    return "brokenq" in path.lower()


def _files_of_dir(root: Path) -> Dict[str, bytes]:
    """The ``.npz`` / ``.npy`` files under a directory, keyed by their relative path (size-capped)."""
    if not root.is_dir():
        raise ValueError(f"no such directory: {root}")
    out, total = {}, 0
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".npz", ".npy") and not broken_q(p.relative_to(root).as_posix()):
            total += p.stat().st_size
            if total > MAX_DECOMPRESSED_BYTES:
                raise ValueError(f"the .npz/.npy files under {root} exceed {MAX_DECOMPRESSED_BYTES:,} bytes")
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _files_of_zip(data: bytes) -> Dict[str, bytes]:
    """The ``.npz`` / ``.npy`` files of a ``.zip``, keyed by their path (without a common top folder)."""
    zf, infos = open_zip(data, "the .zip of the authors' artifacts")
    out = {}
    for i in infos:
        if i.filename.endswith((".npz", ".npy")) and "__MACOSX" not in i.filename and not broken_q(i.filename):
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


# ------------------------------------------------------------------------------------------------ the UNION


@dataclass
class _Union:
    """The UNION file: row ids, 0/1 labels, modality names and availability ``(N, M)`` bool."""

    ids: np.ndarray
    y: np.ndarray
    names: List[str]
    present: np.ndarray


def _modality_keys(union: Mapping[str, np.ndarray]) -> Dict[str, str]:
    """``{modality: key}`` of the availability arrays: ``M_<m>`` (any name), or ``M<x>`` with one lower-case
    letter (the authors' ``Ma``); other keys that start with M (``Meta``, ``MFCC``) are not masks."""
    out = {}
    for k in union:
        m = re.fullmatch(r"M_(.+)", k) or re.fullmatch(r"M([a-z])", k)
        if m:
            out.setdefault(m.group(1), k)
    return out


def _union_masks(union: Mapping[str, np.ndarray], where: str, n: int) -> Tuple[List[str], np.ndarray]:
    """The modality names and availability ``(N, M)`` of the UNION's 0/1 ``M_<m>`` arrays; every row needs one."""
    mods = _modality_keys(union)
    if not mods:
        raise ValueError(f"{where} has no availability arrays M_<m>; it has {sorted(union)[:10]}")
    names = list(mods)
    for m in names:
        v = np.asarray(union[mods[m]])
        if v.shape != (n,) or not np.isin(v, (0, 1)).all():
            raise ValueError(f"{where}: {mods[m]} must be {n} values in {{0, 1}}, got shape {v.shape}")
    present = np.stack([np.asarray(union[mods[m]]) for m in names], 1).astype(bool)
    empty = ~present.any(1)
    if empty.any():
        raise ValueError(f"{where}: UNION {_rows(empty)} have every modality missing (all M_<m> = 0)")
    return names, present


def _read_union(files: Mapping[str, bytes]) -> _Union:
    """Find the one UNION ``.npz`` and read its unique ids, 0/1 labels and availability masks."""
    unions = [k for k in files if "union" in PurePosixPath(k).name.lower() and k.endswith(".npz")
              and "unimodal_preds/" not in k and "quality" not in k.lower()]
    if len(unions) != 1:
        raise ValueError(f"the layout needs one UNION .npz (a name containing 'union'); found {unions[:5] or 'none'}")
    where = unions[0]
    union = _npz_arrays(files[where], where)
    ids = np.asarray([str(v) for v in _first_key(union, ["ids", "id", "ID"], where).tolist()])
    n = len(ids)
    if len(set(ids.tolist())) != n:
        raise ValueError(f"{where}: the ids are not unique")
    y = np.asarray(_first_key(union, ["y2", "y", "label", "labels"], where))
    if y.shape != (n,) or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{where}: the labels must be {n} values in {{0, 1}}")
    names, present = _union_masks(union, where, n)
    return _Union(ids, y, names, present)


# ------------------------------------------------------------------------------------------------- one run


def _model_preds(files: Mapping[str, bytes], model: str) -> Tuple[str, Dict[str, bytes]]:
    """The chosen model (the only one when ``model`` is empty) and its prediction files under
    ``unimodal_preds/<model>/``, keyed by ``seed_<s>/fold_<f>.npz``."""
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
    return model, {k.split("/", 1)[1]: v for k, v in preds_all.items() if k.startswith(f"{model}/")}


def _id_rows(data: bytes, where: str, row: Mapping[str, int]) -> np.ndarray:
    """The UNION rows of a ``.npy`` of ids: each listed once and known to the UNION."""
    got = [str(v) for v in _npy_array(data, where).tolist()]
    if len(set(got)) != len(got):
        raise ValueError(f"{where} lists {len(got) - len(set(got))} id(s) twice")
    unknown = [v for v in got if v not in row]
    if unknown:
        raise ValueError(f"{where}: {len(unknown)} id(s) not in the UNION, e.g. {unknown[:3]}")
    return np.asarray([row[v] for v in got], dtype=np.int64)


def _split_rows(splits: Mapping[str, bytes], s: int, f: int, row: Mapping[str, int],
                where: str) -> Tuple[np.ndarray, np.ndarray]:
    """The disjoint train and test UNION rows of seed ``s``, fold ``f`` (for the predictions file ``where``)."""
    tr_key, te_key = f"seed_{s}/train_ids_fold{f}.npy", f"seed_{s}/test_ids_fold{f}.npy"
    if tr_key not in splits or te_key not in splits:
        raise ValueError(f"{where} has no splits/{tr_key} and splits/{te_key}")
    train, test = (_id_rows(splits[k], f"splits/{k}", row) for k in (tr_key, te_key))
    if np.intersect1d(train, test).size:
        raise ValueError(f"splits/seed_{s}: train and test of fold {f} share rows")
    return train, test


def _check_ids(arrays: Mapping[str, np.ndarray], where: str, ids: np.ndarray) -> None:
    """A file's ``ids``, when given, are the UNION's in the UNION's order."""
    if "ids" in arrays and [str(v) for v in arrays["ids"].tolist()] != ids.tolist():
        raise ValueError(f"{where}: its ids are not the UNION's ids in the UNION's order")


def _check_labels(arrays: Mapping[str, np.ndarray], where: str, y: np.ndarray) -> None:
    """A predictions file's labels ``y``, when given, are the UNION's."""
    n = len(y)
    if "y" in arrays and (np.shape(arrays["y"]) != (n,) or not np.array_equal(np.asarray(arrays["y"]), y)):
        diff = np.asarray(arrays["y"]).shape == (n,) and ~np.equal(np.asarray(arrays["y"]), y)
        raise ValueError(f"{where}: its labels y differ from the UNION's"
                         + (f" on {_rows(diff)}" if isinstance(diff, np.ndarray) else f" (shape {np.shape(arrays['y'])})"))


def _run_posteriors(data: bytes, where: str, union: _Union) -> np.ndarray:
    """The posteriors ``(N, M, 2)`` of a predictions file (``p_<m>`` = P(class 1)), NaN where missing."""
    arr = _npz_arrays(data, where)
    _check_ids(arr, where, union.ids)
    _check_labels(arr, where, union.y)
    n = len(union.ids)
    probs = np.full((n, len(union.names), 2), np.nan)
    for j, m in enumerate(union.names):
        p1 = np.asarray(_first_key(arr, [f"p_{m}", f"p{m}"], f"{where} (modality '{m}' of the UNION's M_ keys)"),
                        dtype=np.float64)
        if p1.shape != (n,):
            raise ValueError(f"{where}: p_{m} has shape {p1.shape}; expected ({n},) in UNION row order")
        bad = union.present[:, j] & (~np.isfinite(p1) | (p1 < 0) | (p1 > 1))
        if bad.any():
            raise ValueError(f"{where}: p_{m} is NaN or outside [0, 1] on present {_rows(bad)}")
        probs[:, j, 1], probs[:, j, 0] = p1, 1 - p1
        probs[~union.present[:, j], j] = np.nan
    return probs


def _q_of(arrays: Mapping[str, np.ndarray], m: str, n: int, where: str) -> np.ndarray:
    """Modality ``m``'s ``Q`` ``(N,)`` of a quality file (the mean over ``d`` of an ``(N, d)`` array)."""
    keys = [f"Q{m}", f"Q_{m}"] + [f"Q_{m}_{s}" for s in ("scaled", "fold", "qscaled")]
    v = np.asarray(_first_key(arrays, keys, where), dtype=np.float64)
    if v.shape[0] != n or v.ndim not in (1, 2):
        raise ValueError(f"{where}: Q for '{m}' has shape {v.shape}; expected ({n},) or ({n}, d)")
    return v if v.ndim == 1 else v.mean(axis=1)


def quality_names(s: int, f: int) -> List[str]:
    """The names a quality file of seed ``s``, fold ``f`` may have under ``quality/``, in the order they are tried:
    ours, then the authors' (their ``find_fold_q_file`` candidates), then their two patterns."""
    return [f"seed_{s}/fold_{f}.npz", f"seed_{s}/fold{f}.npz", f"seed_{s}/q_fold{f}.npz", f"seed_{s}/fold_{f}/q.npz",
            f"seed_{s}_fold_{f}.npz", f"seed_{s}/union_quality_Q_*_seed{s}_fold{f}.npz",
            f"seed_{s}/*seed{s}*fold{f}*.npz"]


def _quality_key(quality: Mapping[str, bytes], s: int, f: int) -> Optional[str]:
    names = quality_names(s, f)
    exact = [k for k in names[:5] if k in quality]
    if exact:
        return exact[0]
    for pattern in (rf"seed_{s}/union_quality_Q_[^/]+_seed{s}_fold{f}\.npz",
                    rf"seed_{s}/[^/]*seed_?{s}(?!\d)[^/]*fold_?{f}(?!\d)[^/]*\.npz"):
        hits = sorted(k for k in quality if re.fullmatch(pattern, k))
        if len(hits) > 1:
            raise ValueError(f"quality/seed_{s} holds several quality files of fold {f}: {hits[:3]}")
        if hits:
            return hits[0]
    return None


def _run_quality(quality: Mapping[str, bytes], s: int, f: int, union: _Union) -> Optional[np.ndarray]:
    """``Q`` ``(N, M)`` of seed ``s``, fold ``f`` from ``quality/`` (None without a file), 0 where missing."""
    qkey = _quality_key(quality, s, f)
    if not qkey:
        return None
    qa = _npz_arrays(quality[qkey], f"quality/{qkey}")
    _check_ids(qa, f"quality/{qkey}", union.ids)
    q = np.stack([_q_of(qa, m, len(union.ids), f"quality/{qkey}") for m in union.names], 1)
    bad = union.present & (~np.isfinite(q) | (q < 0) | (q > 1))
    if bad.any():
        raise ValueError(f"quality/{qkey}: Q is NaN or outside [0, 1] on present {_rows(bad.any(1))}")
    return np.where(union.present, q, 0.0)


# ---------------------------------------------------------------------------------------------- the layout


def _authors_outputs(files: Mapping[str, bytes], model: str, source: str) -> Outputs:
    """Read and validate the authors' layout (``{relative path: bytes}``): one run per (seed, fold) with a
    split and a predictions file."""
    union = _read_union(files)
    splits = _under(files, "splits")
    model, preds = _model_preds(files, model)
    quality = _under(files, "quality")
    row = {v: i for i, v in enumerate(union.ids.tolist())}
    runs = []
    for key in sorted(preds, key=lambda k: [int(x) for x in re.findall(r"\d+", k)]):
        hit = re.fullmatch(r"seed_(\d+)/fold_?(\d+)\.npz", key)
        if not hit:
            continue
        s, f = int(hit.group(1)), int(hit.group(2))
        where = f"unimodal_preds/{model}/{key}"
        train, test = _split_rows(splits, s, f, row, where)
        probs = _run_posteriors(preds[key], where, union)
        runs.append(OutputRun(s, f, np.sort(train), np.sort(test), probs, _run_quality(quality, s, f, union)))
    if not runs:
        raise ValueError(f"unimodal_preds/{model} has no seed_<s>/fold_<f>.npz")
    if quality and all(r.q is None for r in runs):
        r = runs[0]
        raise ValueError(f"quality/ holds {len(quality)} file(s) but none is a run's: for seed {r.seed}, fold {r.fold} "
                         f"the names tried are {', '.join(quality_names(r.seed, r.fold))}; it has "
                         f"{sorted(quality)[:3]}")
    if any(r.q is None for r in runs) and any(r.q is not None for r in runs):
        raise ValueError("quality/ has Q files for some (seed, fold) runs but not for others")
    out = Outputs(union.names, ["0", "1"], union.y.astype(np.int64), union.present, runs, source,
                  [f"the authors' layout: model '{model}', {len(runs)} (seed, fold) run(s)"])
    check_runs(out)
    return out
