"""Broken-Q's permutations of test rows (:mod:`.permutation`): Fisher-Yates shuffles by the compiled kernel
:func:`.refuse.shuffles`, drawn ``cfg.chunk`` permutations at a time, independent per modality or one joint
permutation, and with availability masks moving only the present rows (the authors' "present-only" permutation).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from ..threads import thread_budget
from . import refuse

if TYPE_CHECKING:  # only for annotations: permutation.py imports this module
    from .permutation import PermutationConfig


def permutation_chunks(n: int, m: int, cfg: PermutationConfig, present: Optional[np.ndarray] = None):
    """Yield ``(k, M or 1, N)`` int32 row indices, ``cfg.chunk`` permutations at a time; independent per
    modality, or one shared permutation (middle axis 1) when ``joint``.

    Uniform draws from ``numpy.random.default_rng(seed)`` drive a Fisher-Yates shuffle, so the draws
    do not depend on the chunk size. The yielded array is a buffer reused by the next chunk: copy
    it to keep it. With availability ``present`` ``(N, M)`` that is not all ones, modality ``m``'s
    permutation moves only the rows where ``m`` is present (the others map to themselves), and a joint
    one only the rows present in every modality.
    """
    rng = np.random.default_rng(cfg.seed)
    mp = 1 if cfg.joint else m
    if present is not None and not np.all(present):
        a = np.asarray(present) > 0
        rows = [np.nonzero(a.all(1))[0]] if cfg.joint else [np.nonzero(a[:, j])[0] for j in range(m)]
        perms = np.empty((min(cfg.chunk, cfg.permutations), mp, n), np.int32)
        for start in range(0, cfg.permutations, cfg.chunk):
            k = min(cfg.chunk, cfg.permutations - start)
            perms[:k] = np.arange(n, dtype=np.int32)
            for j, r in enumerate(rows):  # a shuffle of the present rows only, per modality
                u, sub = rng.random((k, len(r))), np.empty((k, len(r)), np.int32)
                with thread_budget():
                    refuse.shuffles(u, sub)
                perms[:k, j, r] = r[sub]
            yield perms[:k]
        return
    size = min(cfg.chunk, cfg.permutations)
    u, perms = np.empty((size * mp, n)), np.empty((size * mp, n), np.int32)  # reused: no page faults per chunk
    for start in range(0, cfg.permutations, cfg.chunk):
        k = min(cfg.chunk, cfg.permutations - start)
        rng.random(out=u[:k * mp])
        with thread_budget():  # per chunk: never held while the consumer works on the chunk
            refuse.shuffles(u[:k * mp], perms[:k * mp])
        yield perms[:k * mp].reshape(k, mp, n)


def permutation_indices(n: int, m: int, cfg: PermutationConfig, present: Optional[np.ndarray] = None) -> np.ndarray:
    """All ``(K, M, N)`` permutations of :func:`permutation_chunks` at once."""
    perms = np.concatenate([p.copy() for p in permutation_chunks(n, m, cfg, present)])
    return np.broadcast_to(perms, (len(perms), m, n))
