"""Load a user's own features from ``.npz``, ``.csv`` or ``.parquet``, strictly validated.

- ``.npz``: one array per modality, ``(N, D)`` or ``(N, T, D)``, plus ``labels``
  (integers or strings); read with ``allow_pickle=False``.
- ``.csv`` / ``.parquet``: a ``labels`` (or ``label``) column; every other column is
  named ``<modality><sep><feature>`` with ``sep`` one of ``__``, ``:``, ``.``, ``_``
  (the first that appears in every feature column is used).
- Optionally ``split`` (an array, or a column): each row's part, ``train``/``valid``/``test`` or 0/1/2; the lab
  then uses that split instead of drawing its own (``dataset.given_split``).

Every problem raises ``ValueError`` naming the modality and the shapes.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, Union

import numpy as np
import pandas as pd

from ..limits import MAX_CELLS, MAX_COLUMNS, MAX_DECOMPRESSED_BYTES, MAX_FILE_BYTES, MAX_ROWS
from .dataset import MultimodalDataset, check_class_counts, split_codes
from .spec import DatasetInfo, MachineSetting, option, register_dataset

LABEL_COLUMNS = ("labels", "label")
SPLIT = "split"  # the data's own train / valid / test assignment, an optional column or array
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


def open_zip(data: bytes, what: str = "the .zip") -> tuple:
    """``(ZipFile, file entries)`` of a zip held in memory, refused (one line) when unreadable or when its
    directory says it decompresses above ``MAX_DECOMPRESSED_BYTES``: a zip bomb is stopped before any member
    is read."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{what} is not a readable .zip: {exc}") from exc
    seen = set()
    for i in infos:
        if i.filename in seen:  # zipfile would silently read the last copy: two contents under one name
            raise ValueError(f"{what} holds the member '{i.filename}' twice")
        seen.add(i.filename)
        if i.flag_bits & 0x1:
            raise ValueError(f"{what}: member '{i.filename}' is encrypted")
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{what}: member '{i.filename}' uses compression method {i.compress_type}; only stored "
                             "and deflated members are read")
    total = sum(i.file_size for i in infos)
    if total > MAX_DECOMPRESSED_BYTES:
        raise ValueError(f"{what} decompresses to {total:,} bytes, above the limit of {MAX_DECOMPRESSED_BYTES:,}")
    return zf, infos


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = MAX_DECOMPRESSED_BYTES,
                what: str = "the .zip") -> bytes:
    """A member's bytes, decompressed in chunks and stopped as soon as its real output passes ``limit`` (whatever
    the zip's directory claims); a bad CRC, a truncated or corrupt stream is one ``ValueError``."""
    import zlib
    out, size = [], 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ValueError(f"{what}: member '{info.filename}' decompresses to more than {limit:,} bytes, "
                                     "the limit")
                out.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
        raise ValueError(f"{what}: member '{info.filename}' cannot be read ({exc})") from None
    return b"".join(out)


def _npz_headers(data: bytes) -> Dict[str, tuple]:
    """``{member: (shape, dtype)}`` from the zip directory and each ``.npy`` header, decompressing
    nothing else: a 3 GB zip bomb is refused from its headers."""
    if not data.startswith(b"PK"):
        raise ValueError("not a .npz file: it does not start with a zip header")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"not a readable .npz file: {exc}") from exc
    unpacked = sum(i.file_size for i in infos)
    if unpacked > MAX_DECOMPRESSED_BYTES:
        raise ValueError(f"the .npz decompresses to {unpacked:,} bytes, above the limit of {MAX_DECOMPRESSED_BYTES:,}")
    out, cells = {}, 0
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        try:
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f".npz member '{name}' is not a numpy array: {exc}") from exc
        if dtype.hasobject:
            raise ValueError(f".npz member '{name}' holds Python objects (it needs pickle, which is refused); "
                             "store numeric or string arrays")
        cells += int(np.prod(shape))
        if cells > MAX_CELLS:
            raise ValueError(f"the .npz holds more than {MAX_CELLS:,} numbers (member '{name}' {shape})")
        out[name] = (shape, dtype)
    return out


def _from_npz(data: bytes) -> Dict[str, np.ndarray]:
    _npz_headers(data)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"not a readable .npz file: {exc}") from exc


def _check_header(columns: list, rows: int) -> None:
    """Width, height, duplicates and reserved names, before the table is parsed whole."""
    if len(columns) > MAX_COLUMNS:
        raise ValueError(f"the table has {len(columns):,} columns, above the limit of {MAX_COLUMNS:,}")
    if rows > MAX_ROWS:
        raise ValueError(f"the table has about {rows:,} rows, above the limit of {MAX_ROWS:,}")
    if rows * len(columns) > MAX_CELLS:
        raise ValueError(f"the table has {rows:,} x {len(columns):,} cells, above the limit of {MAX_CELLS:,}")
    dup = sorted(c for c, n in Counter(columns).items() if n > 1)
    if dup:
        raise ValueError(f"duplicate column name(s) {dup[:5]}: every column must be named once")


def _csv(data: bytes) -> pd.DataFrame:
    end = data.find(b"\n")
    head = data if end < 0 else data[:end]
    try:
        columns = next(csv.reader([head.decode("utf-8-sig").rstrip("\r")]), [])
    except UnicodeDecodeError as exc:
        raise ValueError(f"the CSV header is not UTF-8 text: {exc}") from exc
    rows = data.count(b"\n") + (0 if data.endswith(b"\n") else 1) - 1
    _check_header(columns, max(rows, 0))
    df = pd.read_csv(io.BytesIO(data))
    if df.empty:
        raise ValueError(f"the file has a header ({len(columns)} columns) but no rows")
    return df


def _parquet(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq
    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception as exc:  # pyarrow raises its own error types for a broken footer
        raise ValueError(f"not a readable parquet file: {exc}") from exc
    _check_header([meta.schema.column(i).name for i in range(meta.num_columns)], meta.num_rows)
    df = pd.read_parquet(io.BytesIO(data))
    if df.empty:
        raise ValueError("the parquet file has no rows")
    return df


def _split_columns(df: pd.DataFrame) -> tuple[Dict[str, np.ndarray], Dict[str, list]]:
    label_col = next((c for c in LABEL_COLUMNS if c in df.columns), None)
    if label_col is None:
        raise ValueError(f"no 'labels' column; columns are {list(df.columns)[:8]}...")
    feats = [c for c in df.columns if c not in (label_col, SPLIT)]
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
        mod, feat = str(c).split(sep, 1)
        if not mod or not feat:
            raise ValueError(f"column '{c}' fits no <modality>{sep}<feature> pattern")
        if mod in LABEL_COLUMNS:
            raise ValueError(f"column '{c}' would make a modality named '{mod}', the labels' name; rename it")
        groups.setdefault(mod, []).append(c)
    out = {k: df[cols].to_numpy(dtype=np.float64) for k, cols in groups.items()}
    missing = np.nonzero(df[label_col].isna().to_numpy())[0]
    if len(missing):
        raise ValueError(f"column '{label_col}' is empty on {len(missing)} row(s) (first rows: {missing[:5].tolist()})")
    out["labels"] = df[label_col].to_numpy()
    if SPLIT in df.columns:
        out[SPLIT] = df[SPLIT].to_numpy()
    return out, {k: [str(c) for c in cols] for k, cols in groups.items()}


def read_source(source: Source, filename: str = "") -> tuple[bytes, str]:
    """A path's, bytes' or stream's content and its file name, refused above ``MAX_FILE_BYTES``."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{path.name} has {path.stat().st_size:,} bytes, above the limit of {MAX_FILE_BYTES:,}")
        data, filename = path.read_bytes(), filename or path.name
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{filename or 'the file'} has more than {MAX_FILE_BYTES:,} bytes, the limit")
    return data, filename


def read_table(data: bytes, filename: str) -> Union[pd.DataFrame, Dict[str, np.ndarray]]:
    """A ``.csv`` or ``.parquet`` file as a table, an ``.npz`` as its arrays, each checked against the limits
    before it is read whole."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".npz":
        return _from_npz(data)
    try:
        if suffix == ".csv":
            return _csv(data)
        if suffix == ".parquet":
            return _parquet(data)
        raise ValueError(f"unsupported file type '{suffix or filename}'; use .npz, .csv or .parquet")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"cannot read {filename}: {exc}") from exc
    except ImportError as exc:
        raise ValueError(f"cannot read parquet here: {exc}") from exc


def _read(source: Source, filename: str) -> tuple[Dict[str, np.ndarray], Dict[str, list]]:
    """The file's arrays by name, and for tables each modality's column names."""
    table = read_table(*read_source(source, filename))
    return (table, {}) if isinstance(table, dict) else _split_columns(table)


@dataclass(frozen=True)
class FileConfig:
    path: str = option("", "with --dataset file: a .npz (one array per modality plus 'labels'), .csv or .parquet "
                       "(a 'labels' column and columns named <modality>__<feature>)", flag="--file", kind="path",
                       label="features file (.npz, .csv, .parquet)")


def _info(cfg: FileConfig) -> DatasetInfo:
    return DatasetInfo({}, None, cfg.path or "an uploaded file")


def _budget(value: str) -> float:
    from .folder import check_budget
    return check_budget(value)


@register_dataset("file", "Your own features from .npz, .csv or .parquet", FileConfig, _info, upload=True,
                  settings=(MachineSetting("--memory-budget", "FUSIONLAB_MEMORY_BUDGET", "memory_budget",
                                           "file: GiB a folder of .npy arrays may take in memory as float32 (3 copies); "
                                           "a larger one is read from disk a batch at a time (default 2; at most half "
                                           "the available memory)", _budget, "GIB"),))
def _load(cfg: FileConfig, source: Source = None) -> MultimodalDataset:
    if source is None:
        if not cfg.path:
            raise ValueError("--dataset file needs --file PATH")
        if Path(cfg.path).is_dir():  # the command line's folders of .npy arrays (a page sends bytes, never a path)
            from .folder import load_folder
            return load_folder(cfg.path)
        return load_file(cfg.path)
    return load_file(source, filename=cfg.path)


def check_float32(name: str, x: np.ndarray, columns=None) -> None:
    """Every value must survive the float32 cast, and every feature's variance must fit float32
    (a value of 1e300 becomes inf; values of 1e25 overflow the variance and would zero the feature)."""
    x = np.asarray(x)
    flat = x.reshape(len(x), -1, x.shape[-1]) if x.ndim > 1 else x[:, None, None]
    finite = np.isfinite(flat)
    with np.errstate(over="ignore", invalid="ignore"):
        cast_bad = finite & ~np.isfinite(flat.astype(np.float32))
        var = np.nanvar(np.where(finite, flat.astype(np.float64), np.nan), axis=(0, 1))
    what = lambda j: f"column '{columns[j]}'" if columns else f"feature {j}"  # noqa: E731
    if cast_bad.any():
        j = int(np.nonzero(cast_bad.any(axis=(0, 1)))[0][0])
        raise ValueError(f"modality '{name}' {what(j)} has values beyond float32's range (±3.4e38), "
                         f"e.g. {flat[:, :, j][cast_bad[:, :, j]][0]:g}")
    big = np.nonzero(var > np.finfo(np.float32).max)[0]
    if len(big):
        raise ValueError(f"modality '{name}' {what(int(big[0]))} has a variance ({var[big[0]]:.3g}) that overflows "
                         "float32; rescale it")


def load_file(source: Source, filename: str = "", name: str = "") -> MultimodalDataset:
    """Read and validate a user's file; see the module docstring for the format."""
    arrays, columns = _read(source, filename)
    if "labels" not in arrays:
        raise ValueError(f"the file has no 'labels' array; it has {sorted(arrays)}")
    labels, class_names = _labels(arrays.pop("labels"))
    split = split_codes(arrays.pop(SPLIT)) if SPLIT in arrays else None
    if split is not None and len(split) != len(labels):
        raise ValueError(f"the split has {len(split)} rows, labels have {len(labels)}")
    if not arrays:
        raise ValueError("the file has labels but no modality arrays")
    for k, v in arrays.items():
        if k in LABEL_COLUMNS:
            raise ValueError(f"a modality may not be named '{k}' (the labels' name)")
        if v.dtype.kind not in "biuf":
            raise ValueError(f"modality '{k}' is not numeric (dtype {v.dtype}, shape {v.shape})")
        if v.ndim not in (2, 3):
            raise ValueError(f"modality '{k}' must have shape (N, D) or (N, T, D), got {v.shape}")
        if v.shape[0] != len(labels):
            raise ValueError(f"modality '{k}' has {v.shape[0]} rows, labels have {len(labels)}")
        check_float32(k, v, columns.get(k))
    check_class_counts(labels, class_names)
    label = name or Path(str(filename or getattr(source, "name", "file"))).stem
    return MultimodalDataset(arrays, labels, class_names, label, split=split)
