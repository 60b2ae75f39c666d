"""Compiled re-fusion kernels for the broken-Q test (numba).

The broken-Q test fuses every test row once per permutation: ``K x N`` fusions of ``M``
expert posteriors over ``C`` classes. In numpy that meant ``(N, K, M)`` and ``(N, K, C)``
temporaries, a draw of ``K x M`` permutations through ``Generator.permuted`` and an
``argmax`` over a strided axis; 1,000 permutations of 10,000 rows took 2.5 s. Here one
kernel gathers the permuted ``Q`` of a block of rows, turns it into fusion weights,
fuses and takes the argmax with the block's class scores still in cache, and counts the
confusion matrix directly (no ``(K, N)`` prediction array); permutations are split
across threads. ``benchmarks/permutation.py`` measures it against a per-permutation loop.

The fusion weights of every rule live only here (:func:`rule_weights`), so the clean
decision and all permuted ones go through the same arithmetic.

**Availability** (docs/methods.md, reliability permutation test): ``a[m, i] = 1`` where modality ``m`` is present on row ``i``, else
0. Every rule renormalises over the present modalities (a missing one gets weight 0); the
``moe`` router reads ``[a; Q]``. A row whose label is negative is left out of the confusion
counts (the fully-observed-only metric), though it is fused like any other.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

# Streamlit runs each session in its own thread: use a thread-safe layer (OpenMP or TBB),
# never numba's "workqueue", which aborts on concurrent parallel calls.
numba.config.THREADING_LAYER = "threadsafe"

NOQ, WEIGHTED, SOFTMAX, ROUTE, MOE, ROUTE_FIRST = range(6)
BLOCK = 1024  # rows fused together: their class scores (C x M x BLOCK) stay in cache
GROUP = 8  # permutations one thread takes through a block before moving on


@njit(cache=True, parallel=True)
def shuffles(u: np.ndarray, out: np.ndarray) -> None:
    """Fisher-Yates: row ``r`` of ``u`` ``(R, N)`` (uniform in [0, 1)) -> ``out[r]``, a permutation of ``0..N-1``.

    Position ``i`` (from ``N - 1`` down to 1) swaps with ``j = floor(u[r, i] (i + 1))``:
    uniform permutations up to the 2^-53 resolution of ``u``.
    """
    r, n = u.shape
    for a in prange(r):
        row = out[a]
        for i in range(n):
            row[i] = i
        for i in range(n - 1, 0, -1):
            j = min(int(u[a, i] * (i + 1)), i)
            t = row[i]
            row[i] = row[j]
            row[j] = t


@njit(cache=True)
def rule_weights(code, q, a, nb, tau, W, b, w):
    """Fusion weights ``w[:, :nb]`` ``(M, B)`` over modalities from quality ``q[:, :nb]`` and availability
    ``a[:, :nb]`` (1 present, 0 missing) ``(M, B)``; missing modalities get 0, the present ones share 1.

    ``noq`` 1 / #present; ``weighted`` Q normalised over the present (uniform over them where it sums to
    0); ``softmax`` softmax(Q / tau) over the present; ``route`` the highest Q among the present (tied
    experts share the weight; ``ROUTE_FIRST``: the first of them takes it all, the authors' argmax);
    ``moe`` softmax(W [a; Q] + b) over the present.
    """
    m = q.shape[0]
    for t in range(nb):
        n_present = 0.0
        for j in range(m):
            n_present += a[j, t]
        if code == NOQ:
            for j in range(m):
                w[j, t] = a[j, t] / n_present
        elif code == WEIGHTED:
            tot = 0.0
            for j in range(m):
                tot += a[j, t] * q[j, t]
            for j in range(m):
                w[j, t] = a[j, t] * q[j, t] / tot if tot > 0 else a[j, t] / n_present
        elif code == ROUTE or code == ROUTE_FIRST:
            top = -np.inf
            for j in range(m):
                if a[j, t] > 0:
                    top = max(top, q[j, t])
            ties = 0.0
            for j in range(m):
                ties += 1.0 if (a[j, t] > 0 and q[j, t] == top) else 0.0
            first = True
            for j in range(m):
                hit = a[j, t] > 0 and q[j, t] == top
                if code == ROUTE_FIRST:
                    w[j, t] = 1.0 if (hit and first) else 0.0
                    first = first and not hit
                else:
                    w[j, t] = (1.0 if hit else 0.0) / ties
        else:  # SOFTMAX or MOE: a softmax over the present modalities' logits
            top = -np.inf
            for j in range(m):
                if code == SOFTMAX:
                    z = q[j, t] / tau
                else:
                    z = b[j]
                    for i in range(m):
                        z += W[j, i] * a[i, t] + W[j, m + i] * q[i, t]
                w[j, t] = z
                if a[j, t] > 0:
                    top = max(top, z)
            tot = 0.0
            for j in range(m):
                w[j, t] = np.exp(w[j, t] - top) if a[j, t] > 0 else 0.0
                tot += w[j, t]
            for j in range(m):
                w[j, t] /= tot


@njit(cache=True)
def _decide_block(code, S, i0, q, a, nb, tau, W, b, w, acc, best, bc):
    """``bc[:nb]`` = argmax_c sum_m w_m S[c, m, i0 + t] for rows ``i0 .. i0 + nb`` (first max wins)."""
    rule_weights(code, q, a, nb, tau, W, b, w)
    n_classes, m = S.shape[0], S.shape[1]
    for c in range(n_classes):
        for t in range(nb):
            acc[t] = 0.0
        for j in range(m - 1):
            s, wj = S[c, j, i0:i0 + nb], w[j]
            for t in range(nb):
                acc[t] += wj[t] * s[t]
        # the last modality is added in the same pass as the comparison: one pass less over the block
        s, wj = S[c, m - 1, i0:i0 + nb], w[m - 1]
        if c == 0:
            for t in range(nb):
                best[t] = acc[t] + wj[t] * s[t]
                bc[t] = 0
        else:
            for t in range(nb):
                v = acc[t] + wj[t] * s[t]
                better = v > best[t]
                bc[t] = c if better else bc[t]
                best[t] = v if better else best[t]


@njit(cache=True, parallel=True)
def null_confusions(code, S, qT, aT, y, perms, tau, W, b, n_classes):
    """Confusion matrices ``(K, n_classes, n_classes)`` (rows true) of the fusion with permuted quality.

    ``S`` ``(C, M, N)`` class scores (posteriors or log-posteriors), ``qT`` and availability ``aT``
    ``(M, N)``, ``y`` ``(N,)`` in ``[0, n_classes)`` (not checked here; a negative label: the row is
    not counted), ``perms`` ``(K, M or 1, N)``: row ``i`` of permutation ``k`` reads
    ``qT[m, perms[k, m, i]]`` (one shared permutation when the middle axis is 1).
    """
    m, n = S.shape[1], S.shape[2]
    k, mp = perms.shape[0], perms.shape[1]
    cm = np.zeros((k, n_classes, n_classes), np.int64)
    for g in prange((k + GROUP - 1) // GROUP):
        q = np.empty((m, BLOCK))
        w = np.empty((m, BLOCK))
        acc = np.empty(BLOCK)
        best = np.empty(BLOCK)
        bc = np.empty(BLOCK, np.int64)
        for i0 in range(0, n, BLOCK):
            nb = min(BLOCK, n - i0)
            avail = aT[:, i0:i0 + nb]
            for a in range(g * GROUP, min(k, g * GROUP + GROUP)):
                for j in range(m):
                    p = perms[a, j if mp > 1 else 0]
                    for t in range(nb):
                        q[j, t] = qT[j, p[i0 + t]]
                _decide_block(code, S, i0, q, avail, nb, tau, W, b, w, acc, best, bc)
                for t in range(nb):
                    if y[i0 + t] >= 0:
                        cm[a, y[i0 + t], bc[t]] += 1
    return cm


@njit(cache=True, parallel=True)
def decisions(code, S, Q, A, tau, W, b):
    """Fused decisions ``(K, N)`` for ``K`` quality arrays ``Q`` ``(K, M, N)``; ``S`` ``(C, M, N)``,
    availability ``A`` ``(M, N)``."""
    n_classes, m, n = S.shape
    k = Q.shape[0]
    out = np.empty((k, n), np.int64)
    nblocks = (n + BLOCK - 1) // BLOCK
    for job in prange(k * nblocks):
        a, i0 = job // nblocks, (job % nblocks) * BLOCK
        nb = min(BLOCK, n - i0)
        w = np.empty((m, BLOCK))
        acc = np.empty(BLOCK)
        best = np.empty(BLOCK)
        bc = np.empty(BLOCK, np.int64)
        _decide_block(code, S, i0, Q[a, :, i0:i0 + nb], A[:, i0:i0 + nb], nb, tau, W, b, w, acc, best, bc)
        out[a, i0:i0 + nb] = bc[:nb]
    return out
