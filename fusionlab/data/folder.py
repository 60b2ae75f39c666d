"""A folder of ``.npy`` arrays, the layout of feature sets the size of CMU-MOSI and CMU-MOSEI (docs/data.md, "A folder").

``<modality>.npy`` per modality, ``(N, D)`` or ``(N, T, D)``; ``labels.npy``; optionally ``split.npy`` (``train`` /
``valid`` / ``test`` or 0/1/2) and ``present_<m>.npy`` (0/1). Every array is opened memory-mapped
(``np.load(mmap_mode="r")``, never unpickled) and checked from its header before any number is read: the arrays
agree on N, hold numbers, and the folder holds nothing else.

The features are then held in memory as float32 when ``COPIES`` float32 copies fit the memory budget (``--memory-budget
GIB``, else ``DEFAULT_BUDGET``, 2 GiB, or ``MEMORY_SHARE`` of the available memory if that is less): training and
noise are fastest on tensors. A larger folder stays
on disk (``MultimodalDataset.lazy``): checked and scaled in chunks, each batch gathered from the memory maps when it is
needed (``data.lazy``), so the memory does not grow with the number of rows. The command line reads folders with no
other limit; a page only under the same opt-in as a user's model file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from .dataset import MultimodalDataset, check_class_counts, split_codes
from .lazy import CHUNK_BYTES

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


BUDGET_ENV = "FUSIONLAB_MEMORY_BUDGET"  # GiB a folder's float32 copies may take in memory (--memory-budget)
# [choice] the default budget: 2 GiB (or less, MEMORY_SHARE of the available memory). Read from disk a batch at a time,
# training runs at 1.0-1.2x a plain PyTorch loop over the same memory maps (benchmarks/large_data.py, MOSEI-shaped);
# held in memory, 0.6-1.1x. Holding more buys little and takes memory a shared server's other sessions need: a
# MOSEI-shaped folder held in memory took 7.5 GB where read from disk it takes about 1 GB.
DEFAULT_BUDGET = 2 * 2**30


def check_budget(value: str) -> float:
    """``--memory-budget``: a number of GiB, 0 or more."""
    try:
        gib = float(value)
    except ValueError:
        raise ValueError(f"--memory-budget takes a number of GiB, got '{value}'") from None
    if not 0 <= gib <= 2**20:
        raise ValueError(f"--memory-budget must lie in [0, 1048576] GiB, got {value}")
    return gib


def memory_budget(available: Optional[int] = None) -> int:
    """Bytes a folder's copies may take in memory: ``FUSIONLAB_MEMORY_BUDGET`` GiB (else ``DEFAULT_BUDGET``), at most
    ``MEMORY_SHARE`` of the available memory."""
    given = os.environ.get(BUDGET_ENV)
    budget = int(check_budget(given) * 2**30) if given else DEFAULT_BUDGET
    have = available_bytes() if available is None else available
    return budget if have is None else int(min(budget, MEMORY_SHARE * have))  # a stated budget, within the machine


def in_memory(arrays: Dict[str, np.ndarray], available: Optional[int] = None) -> bool:
    """Whether the folder's features are held in memory (their float32 copies fit the budget), else read from disk;
    refused, in one line with the estimate, when not even a chunk of rows would fit what the machine has."""
    need = COPIES * sum(int(np.prod(a.shape)) * 4 for a in arrays.values())
    have = available_bytes() if available is None else available
    if need <= memory_budget(have):
        return True
    chunk = COPIES * CHUNK_BYTES * len(arrays)
    if have is not None and chunk > MEMORY_SHARE * have:
        raise ValueError(f"the folder's features need about {need / 2**30:.1f} GiB in memory ({COPIES} float32 copies), "
                         f"or {chunk / 2**30:.2f} GiB read from disk a chunk at a time; this machine has "
                         f"{have / 2**30:.1f} GiB available and the lab uses at most {MEMORY_SHARE:.0%} of it")
    return False


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
    held = in_memory(arrays, available)
    from .files import _labels
    labels, class_names = _labels(labels_raw)
    check_class_counts(labels, class_names)
    extras = {k: np.asarray(v).astype(bool) for k, v in present.items()}
    modalities = {k: np.asarray(a, dtype=np.float32) for k, a in arrays.items()} if held else arrays
    return MultimodalDataset(modalities, labels, class_names, folder.name, extras, split, lazy=not held)
