"""Features read from memory-mapped arrays a batch at a time (docs/data.md, "A folder").

A folder too large to hold in memory (``folder.load_folder``) stays on disk: its modalities are ``np.memmap`` arrays,
checked and scaled in chunks of rows (``CHUNK_BYTES`` of float32 at a time), and each split's inputs are
:class:`MappedRows`, which gather and standardise the rows a batch asks for. Training, prediction and the noisy
evaluations (``diagnostics.robustness.noisy_metrics``) then hold a batch or a chunk, never the data, so the memory
does not grow with the number of rows. A step that needs a whole split's inputs at once (the signal and perceptual
permutation tests) gathers that split (``materialise``).
"""
from __future__ import annotations

from typing import Iterator, Mapping, Optional, Tuple

import numpy as np
import torch

CHUNK_BYTES = 64 * 2**20  # float32 bytes of rows read, checked or predicted at once


def as_rows(a: np.ndarray) -> np.ndarray:
    """``a`` as ``(N, T, D)`` (a view: ``(N, D)`` becomes ``(N, 1, D)``)."""
    return a[:, None, :] if a.ndim == 2 else a


def rows_per_chunk(a, budget: Optional[int] = None) -> int:
    """How many rows of ``a`` make ``budget`` bytes (default ``CHUNK_BYTES``) of float32."""
    return max(1, (budget or CHUNK_BYTES) // max(1, 4 * int(np.prod(a.shape[1:]))))


def chunks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def gather(src: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``src[rows]`` as float32, read in increasing row order (a memory map reads sequentially) and put back in the
    order asked for."""
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows),) + src.shape[1:], dtype=np.float32)
    out[order] = src[rows[order]]
    return out


def scan(name: str, a: np.ndarray) -> np.ndarray:
    """Check modality ``name`` ``(N, T, D)`` chunk by chunk as ``MultimodalDataset`` checks an array in memory: every
    value finite after the float32 cast, except rows that are all NaN (the modality is missing there). Returns
    those rows' mask ``(N,)``."""
    absent, count, first = np.zeros(len(a), dtype=bool), 0, []
    for part in chunks(len(a), rows_per_chunk(a)):
        with np.errstate(over="ignore"):
            x = np.asarray(a[part], dtype=np.float32)
        gone = np.isnan(x).all(axis=(1, 2))
        bad = ~np.isfinite(x) & ~gone[:, None, None]
        if bad.any():
            count += int(bad.sum())
            first += (part.start + np.unique(np.nonzero(bad)[0]))[:5 - len(first)].tolist()
        absent[part] = gone
    if count:
        raise ValueError(f"modality '{name}' has {count} NaN/Inf values (first rows: {first}); a row that is all NaN "
                         "means 'missing', a partly NaN or Inf row is an error")
    if absent.all():
        raise ValueError(f"modality '{name}' is missing (all NaN) on every row")
    return absent


def chunked_moments(src: np.ndarray, rows: np.ndarray, pooled: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and sd (population, as ``np.std``) of ``src[rows]`` over samples and timesteps, per feature or
    (``pooled``) over all features, skipping all-NaN rows; chunks merged by Chan et al.'s pairwise update, in
    float64 (a sum of squares would lose the sd of features far from 0)."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    d = src.shape[-1]
    n, mean, m2 = 0, np.zeros(1 if pooled else d), np.zeros(1 if pooled else d)
    for part in chunks(len(rows), rows_per_chunk(src)):
        flat = np.asarray(src[rows[part]], dtype=np.float64).reshape(-1, d)
        flat = flat[~np.isnan(flat).all(axis=1)]
        if pooled:
            flat = flat.reshape(-1, 1)
        k = len(flat)
        if k == 0:
            continue
        m_b = flat.mean(axis=0)
        m2_b = ((flat - m_b) ** 2).sum(axis=0)
        delta = m_b - mean
        total = n + k
        mean = mean + delta * k / total
        m2 = m2 + m2_b + delta ** 2 * n * k / total
        n = total
    if n == 0:
        raise ValueError("a modality is missing on every train row; its scale cannot be fitted")
    return np.broadcast_to(mean, (d,)).copy(), np.broadcast_to(np.sqrt(m2 / n), (d,)).copy()


class MappedRows:
    """Rows ``rows`` of a memory-mapped modality ``src`` ``(N, T, D)``: indexing gathers them from disk as a float32
    tensor, standardised with ``stats`` (``scaled``), or as stored with a missing row at the train mean. It takes what
    indexes rows (an int, a slice, an index array or tensor); a tuple reaching into timesteps or features does not."""

    ndim = 3
    dtype = torch.float32

    def __init__(self, src: np.ndarray, rows: np.ndarray, stats, scaled: bool = True):
        self.src, self.rows, self.stats, self.scaled = src, np.asarray(rows, dtype=np.int64), stats, scaled

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> Tuple[int, ...]:
        return (len(self.rows),) + tuple(self.src.shape[1:])

    @property
    def chunk_rows(self) -> int:
        return rows_per_chunk(self.src)

    def __getitem__(self, key) -> torch.Tensor:
        from .dataset import as_stored
        if isinstance(key, torch.Tensor):
            key = key.numpy()
        rows = self.rows[key]
        one = np.ndim(rows) == 0
        x = torch.from_numpy(gather(self.src, np.atleast_1d(rows)))
        if self.scaled:  # dataset.standardise's operations, in place on the freshly gathered rows
            out = torch.nan_to_num_(x.sub_(self.stats.mean).div_(self.stats.std), nan=0.0)
        else:
            out = as_stored(x.numpy(), self.stats)
        return out[0] if one else out

    def take(self, rows) -> "MappedRows":
        """The rows ``rows`` of this split, still on disk."""
        return MappedRows(self.src, self.rows[np.asarray(rows)], self.stats, self.scaled)


def is_mapped(xs: Mapping[str, object]) -> bool:
    """Whether a split's inputs are read from disk (any modality a :class:`MappedRows`)."""
    return any(isinstance(v, MappedRows) for v in xs.values())


def whole(v):
    """One modality's inputs as a tensor (a :class:`MappedRows` read whole)."""
    return v[:] if isinstance(v, MappedRows) else v


def materialise(xs: Mapping[str, object]) -> dict:
    """Every modality of ``xs`` as a tensor (a :class:`MappedRows` read whole)."""
    return {k: whole(v) for k, v in xs.items()}


def chunk_size(xs: Mapping[str, object], default: Optional[int] = None) -> int:
    """Rows per chunk for ``xs``: ``CHUNK_BYTES`` of its widest row (``default`` when nothing is on disk)."""
    sizes = [v.chunk_rows for v in xs.values() if isinstance(v, MappedRows)]
    return min(sizes) if sizes else (default or len(next(iter(xs.values()))))
