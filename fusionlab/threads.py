"""Thread budget for the numba-parallel kernels shared by concurrent callers.

Streamlit runs every session in its own thread of one process. Each numba ``parallel=True``
call launches a team of ``numba.get_num_threads()`` workers for its calling thread (with the
OpenMP layer every calling thread gets its own team), so ``S`` sessions running the
broken-Q test at once start ``S x cores`` spinning workers on ``cores`` cores; that ran
10-30x slower per call than one caller alone.

:func:`thread_budget` counts the callers currently inside it (across threads) and gives
the calling thread ``max(1, cores // active)`` numba threads, restored on exit.
``numba.set_num_threads`` is per calling thread (a thread-local mask in numba's threading
layers), so one session's budget never changes another's. Entering again inside an open
budget (same thread) does not count the caller twice but re-reads the share: call sites
re-enter before every kernel launch, so a caller that started alone gives its threads
back as others arrive.

The kernels' results do not depend on the thread count (every parallel iteration writes
its own outputs; no reduction across threads), so the budget changes only speed.

``FUSIONLAB_THREAD_BUDGET=0`` in the environment (read on every entry) switches the budget
off: each call keeps the thread's numba thread count (all cores by default), as before.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

import numba

ENV = "FUSIONLAB_THREAD_BUDGET"

_lock = threading.Lock()
_active = 0  # callers (threads) currently inside an outermost thread_budget()
_local = threading.local()  # .depth: this thread's nesting of thread_budget()


def cores() -> int:
    """Threads numba can run at most: ``NUMBA_NUM_THREADS`` (else the CPU count)."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS or os.cpu_count() or 1))


def share(active: int, n_cores: int) -> int:
    """Threads one of ``active`` concurrent callers gets on ``n_cores`` cores: ``max(1, n_cores // active)``."""
    return max(1, n_cores // max(1, active))


def enabled() -> bool:
    """False when ``FUSIONLAB_THREAD_BUDGET`` is ``0`` (or ``off``/``false``/``no``)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def active() -> int:
    """Callers currently inside :func:`thread_budget`."""
    return _active


@contextmanager
def thread_budget() -> Iterator[int]:
    """Run the enclosed numba-parallel calls on this caller's share of the cores; yields the thread count."""
    if not enabled():
        yield numba.get_num_threads()
        return
    global _active
    depth = getattr(_local, "depth", 0)
    with _lock:
        if depth == 0:
            _active += 1
        n = min(share(_active, cores()), numba.config.NUMBA_NUM_THREADS)
    _local.depth = depth + 1
    try:
        prev = numba.get_num_threads()
        numba.set_num_threads(n)
        try:
            yield n
        finally:
            numba.set_num_threads(prev)
    finally:
        _local.depth = depth
        if depth == 0:
            with _lock:
                _active -= 1


def one_blas_thread() -> None:
    """numpy's and scipy's OpenBLAS on one thread, for the whole process (the dashboard and the command line call
    this at start, so both compute alike). scikit-learn's and scipy's solvers make many small BLAS calls (the
    reliability test's experts are logistic regressions fitted by L-BFGS-B), and with two threads each call paid a
    hand-off between them: the test's default took 7.8-8.6 s with two and 0.52-0.58 s with one, 14-16x
    (``benchmarks/blas_threads.py``). torch's products use their own threads (``torch.set_num_threads``)."""
    import numpy  # noqa: F401 -- a limit applies to the BLAS libraries already loaded: numpy's and scipy's
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits
    threadpool_limits(1, user_api="blas")
