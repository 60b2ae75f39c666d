"""Thread budget of the numba-parallel permutation kernels (fusionlab.threads): same results, fair shares."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
from scipy.special import softmax

from fusionlab import threads
from fusionlab.diagnostics.permutation import PermutationConfig, _null_metrics, decide


def _data(n=600, m=3, c=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, m, c))
    logits[np.arange(n), :, y] += 1.0
    return softmax(logits, -1), rng.uniform(size=(n, m)), y


CFG = PermutationConfig(permutations=40, chunk=16)  # several chunks: the share is re-read per launch


def _run(rule, probs, q, y):
    return decide(rule, probs, q[:, None], None, CFG), _null_metrics(rule, probs, q, y, None, CFG, 4)


def _equal(a, b):
    assert np.array_equal(a[0], b[0])
    for k in a[1]:
        assert np.array_equal(a[1][k], b[1][k])


@pytest.mark.parametrize("rule", ["weighted", "route", "softmax"])
def test_results_identical_with_1_and_4_concurrent_callers(rule, monkeypatch):
    data = _data()
    monkeypatch.setenv(threads.ENV, "0")  # budget off: force the thread count by hand
    prev = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one_thread = _run(rule, *data)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        all_threads = _run(rule, *data)
    finally:
        numba.set_num_threads(prev)
    _equal(one_thread, all_threads)
    monkeypatch.setenv(threads.ENV, "1")
    alone = _run(rule, *data)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: _run(rule, *data), range(4)))
    _equal(one_thread, alone)
    for r in together:
        _equal(alone, r)
    assert threads.active() == 0


def test_share():
    assert [threads.share(a, 2) for a in (0, 1, 2, 3, 4)] == [2, 2, 1, 1, 1]
    assert [threads.share(a, 8) for a in (1, 2, 3, 4, 9)] == [8, 4, 2, 2, 1]


def test_four_concurrent_callers_get_one_thread_each_on_two_cores(monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    monkeypatch.setattr(threads, "cores", lambda: 2)  # this machine's 2 cores, whatever it runs on
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba runs 1 thread here")
    inside, leave = threading.Barrier(4), threading.Barrier(4)
    seen = {}

    def caller(i):
        with threads.thread_budget():  # entered one by one: early ones may start with 2 threads ...
            inside.wait()  # ... all 4 are active now
            with threads.thread_budget() as n:  # re-read before a kernel launch: not counted twice
                seen[i] = (n, numba.get_num_threads(), threads.active())
            leave.wait()
        return numba.get_num_threads()

    before = numba.get_num_threads()
    with ThreadPoolExecutor(4) as pool:
        after = list(pool.map(caller, range(4)))
    assert seen == {i: (1, 1, 4) for i in range(4)}
    assert after == [numba.config.NUMBA_NUM_THREADS] * 4  # restored on exit (a new thread's default)
    assert numba.get_num_threads() == before and threads.active() == 0
    with threads.thread_budget() as n:  # alone again: all of it
        assert n == 2 and threads.active() == 1
    assert threads.active() == 0


def test_budget_off_leaves_thread_count(monkeypatch):
    monkeypatch.setenv(threads.ENV, "0")
    before = numba.get_num_threads()
    with threads.thread_budget() as n:
        assert n == before and threads.active() == 0
