"""Load a user's own features from ``.npz``, ``.csv`` or ``.parquet``, strictly validated.

- ``.npz``: one array per modality, ``(N, D)`` or ``(N, T, D)``, plus ``labels``
  (integers or strings); read with ``allow_pickle=False``.
- ``.csv`` / ``.parquet``: a ``labels`` (or ``label``) column; every other column is
  named ``<modality><sep><feature>`` with ``sep`` one of ``__``, ``:``, ``.``, ``_``
  (the first that appears in every feature column is used).

Every problem raises ``ValueError`` naming the modality and the shapes.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, Union

import numpy as np
import pandas as pd

from .dataset import MultimodalDataset, check_class_counts
from .spec import DatasetInfo, option, register_dataset

LABEL_COLUMNS = ("labels", "label")
SEPARATORS = ("__", ":", ".", "_")
Source = Union[str, Path, bytes, BinaryIO]


def _labels(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    raw = np.asarray(raw)
    if raw.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {raw.shape}")
    if len(raw) == 0:
        raise ValueError("the file has no rows")
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
        raise ValueError("labels contain NaN/Inf")
    if raw.dtype.kind == "f" and not np.all(raw == np.round(raw)):
        raise ValueError("labels are fractional numbers; expected integer or string class labels")
    classes, codes = np.unique(raw, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"labels contain a single class ({classes[0]!r}); need at least 2")
    names = [str(c.item() if hasattr(c, "item") else c) for c in classes]
    return codes.astype(np.int64), names


def _from_npz(data: bytes) -> Dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"not a readable .npz file: {exc}") from exc
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise ValueError(f".npz holds an object array that needs pickle; store numeric arrays: {exc}") from exc


def _split_columns(df: pd.DataFrame) -> Dict[str, np.ndarray]:
    label_col = next((c for c in LABEL_COLUMNS if c in df.columns), None)
    if label_col is None:
        raise ValueError(f"no 'labels' column; columns are {list(df.columns)[:8]}...")
    feats = [c for c in df.columns if c != label_col]
    if not feats:
        raise ValueError("no feature columns besides the labels")
    bad = [c for c in feats if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]
    if bad:
        raise ValueError(f"non-numeric feature column(s) {bad[:5]} (dtypes {[str(df[c].dtype) for c in bad[:5]]})")
    sep = next((s for s in SEPARATORS if all(s in str(c) for c in feats)), None)
    if sep is None:
        raise ValueError(
            f"feature columns must be named <modality>{SEPARATORS[0]}<feature> (or with ':', '.', '_'); "
            f"got e.g. {feats[:3]}"
        )
    groups: Dict[str, list] = {}
    for c in feats:
        groups.setdefault(str(c).split(sep, 1)[0], []).append(c)
    out = {k: df[cols].to_numpy(dtype=np.float64) for k, cols in groups.items()}
    out["labels"] = df[label_col].to_numpy()
    return out


def _read(source: Source, filename: str) -> Dict[str, np.ndarray]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        data, filename = path.read_bytes(), filename or path.name
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    suffix = Path(filename).suffix.lower()
    if suffix == ".npz":
        return _from_npz(data)
    try:
        if suffix == ".csv":
            df = pd.read_csv(io.BytesIO(data))
        elif suffix == ".parquet":
            df = pd.read_parquet(io.BytesIO(data))
        else:
            raise ValueError(f"unsupported file type '{suffix or filename}'; use .npz, .csv or .parquet")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"cannot read {filename}: {exc}") from exc
    except ImportError as exc:
        raise ValueError(f"cannot read parquet here: {exc}") from exc
    return _split_columns(df)


@dataclass(frozen=True)
class FileConfig:
    path: str = option("", "with --dataset file: a .npz (one array per modality plus 'labels'), .csv or .parquet "
                       "(a 'labels' column and columns named <modality>__<feature>)", flag="--file", kind="path",
                       label="features file (.npz, .csv, .parquet)")


def _info(cfg: FileConfig) -> DatasetInfo:
    return DatasetInfo({}, None, cfg.path or "an uploaded file")


@register_dataset("file", "Your own features from .npz, .csv or .parquet", FileConfig, _info, upload=True)
def _load(cfg: FileConfig, source: Source = None) -> MultimodalDataset:
    if source is None:
        if not cfg.path:
            raise ValueError("--dataset file needs --file PATH")
        return load_file(cfg.path)
    return load_file(source, filename=cfg.path)


def load_file(source: Source, filename: str = "", name: str = "") -> MultimodalDataset:
    """Read and validate a user's file; see the module docstring for the format."""
    arrays = _read(source, filename)
    if "labels" not in arrays:
        raise ValueError(f"the file has no 'labels' array; it has {sorted(arrays)}")
    labels, class_names = _labels(arrays.pop("labels"))
    if not arrays:
        raise ValueError("the file has labels but no modality arrays")
    for k, v in arrays.items():
        if v.dtype.kind not in "biuf":
            raise ValueError(f"modality '{k}' is not numeric (dtype {v.dtype}, shape {v.shape})")
        if v.ndim not in (2, 3):
            raise ValueError(f"modality '{k}' must have shape (N, D) or (N, T, D), got {v.shape}")
        if v.shape[0] != len(labels):
            raise ValueError(f"modality '{k}' has {v.shape[0]} rows, labels have {len(labels)}")
    check_class_counts(labels, class_names)
    label = name or Path(str(filename or getattr(source, "name", "file"))).stem
    return MultimodalDataset(arrays, labels, class_names, label)
