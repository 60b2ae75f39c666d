"""A folder of ``.npy`` arrays, the layout of feature sets the size of CMU-MOSI (docs/data.md, "A folder").

``<modality>.npy`` per modality, ``(N, D)`` or ``(N, T, D)``; ``labels.npy``; optionally ``split.npy`` (``train`` /
``valid`` / ``test`` or 0/1/2) and ``present_<m>.npy`` (0/1). Every array is opened memory-mapped
(``np.load(mmap_mode="r")``, never unpickled) and checked from its header before any number is read: the arrays
agree on N, hold numbers, and the folder holds nothing else. The lab then keeps the features in memory as float32
(its training and noise work on tensors), so the folder is refused, with the estimate and what the machine has, when
that copy would not fit in ``MEMORY_SHARE`` of the available memory. The command line reads folders with no other
limit; a page never does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from .dataset import MultimodalDataset, check_class_counts, split_codes

MEMORY_SHARE = 0.5  # of MemAvailable: the features as float32, with room for a standardised copy and noise
COPIES = 3  # float32 copies the lab may hold at once: the data as read, standardised, and one corrupted


def available_bytes() -> Optional[int]:
    """``MemAvailable`` from ``/proc/meminfo`` (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _open(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # an object array needs pickle: refused, never loaded
        raise ValueError(f"{path.name} cannot be read without unpickling ({exc}); save numbers, not objects") from None
    except OSError as exc:
        raise ValueError(f"{path.name} is not a readable .npy file ({exc})") from None


def check_memory(arrays: Dict[str, np.ndarray], available: Optional[int] = None) -> None:
    """Refuse, in one line with the estimate, a folder whose float32 copies would not fit."""
    need = COPIES * sum(int(np.prod(a.shape)) * 4 for a in arrays.values())
    have = available_bytes() if available is None else available
    if have is not None and need > MEMORY_SHARE * have:
        raise ValueError(f"the folder's features need about {need / 2**30:.1f} GiB in memory ({COPIES} float32 copies); "
                         f"this machine has {have / 2**30:.1f} GiB available and the lab uses at most "
                         f"{MEMORY_SHARE:.0%} of it")


def load_folder(path, available: Optional[int] = None) -> MultimodalDataset:
    """Read a folder of ``.npy`` arrays (see the module docstring)."""
    folder = Path(path)
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    other = [p.name for p in files if p.suffix != ".npy" or not p.is_file()]
    if other:
        raise ValueError(f"the folder holds '{other[0]}', which is not a .npy array; it may hold only <modality>.npy, "
                         "labels.npy, split.npy and present_<modality>.npy")
    arrays = {p.stem: _open(p) for p in files}
    if "labels" not in arrays:
        raise ValueError(f"the folder has no labels.npy; it has {sorted(arrays)}")
    labels_raw = np.asarray(arrays.pop("labels"))
    split = split_codes(np.asarray(arrays.pop("split"))) if "split" in arrays else None
    present = {k: arrays.pop(k) for k in [k for k in arrays if k.startswith("present_")]}
    if not arrays:
        raise ValueError("the folder has labels.npy but no modality arrays")
    n = len(labels_raw)
    for k, a in {**arrays, **present, **({"split": split} if split is not None else {})}.items():
        if len(a) != n:
            raise ValueError(f"{k}.npy has {len(a)} rows, labels.npy has {n}")
    for k, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{k}.npy holds {a.dtype}, not numbers")
        if a.ndim not in (2, 3):
            raise ValueError(f"{k}.npy must have shape (N, D) or (N, T, D), got {a.shape}")
    unknown = [k for k in present if k[len("present_"):] not in arrays]
    if unknown:
        raise ValueError(f"{unknown[0]}.npy names no modality of the folder ({sorted(arrays)})")
    check_memory(arrays, available)
    from .files import _labels
    labels, class_names = _labels(labels_raw)
    check_class_counts(labels, class_names)
    extras = {k: np.asarray(v).astype(bool) for k, v in present.items()}
    return MultimodalDataset({k: np.asarray(a, dtype=np.float32) for k, a in arrays.items()}, labels, class_names,
                             folder.name, extras, split)
