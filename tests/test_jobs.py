"""Multi-run studies as jobs (issue 19): the same tables in-process, in local processes and on a Dask
cluster; a killed sweep resumes from its cache; progress per finished job; Stop cancels pending jobs."""
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pandas as pd
import pytest

from fusionlab.data import ClipLikeConfig, DataConfig, SyntheticConfig
from fusionlab.experiments import scaling, udml
from fusionlab.jobs import Job, JobCache, run_jobs
from fusionlab.models.udml_schedule import NoiseSchedule
from fusionlab.train import TIMING

SCALING = replace(scaling.DEFAULT, data=DataConfig("clip-like", ClipLikeConfig(n_samples=300)),
                  fusions=("concat", "product"), sizes=(32, 64), n_seeds=2,
                  train=replace(scaling.DEFAULT.train, epochs=2))
UDML = replace(udml.DEFAULT, data=DataConfig("synthetic", SyntheticConfig(n_samples=200, n_modalities=2, dim=6,
                                                                         xor_modalities=(1,))),
               model=replace(udml.DEFAULT.model, enc_dim=8, head_hidden=8), train=replace(udml.DEFAULT.train, epochs=3),
               schedule=NoiseSchedule(clean_epochs=1, weight_delay=0), seeds=2, methods=("static", "pe", "udml"))


def _same(a, b, names):
    for name in names:
        x, y = a.tables[name], b.tables[name]
        pd.testing.assert_frame_equal(x.drop(columns=[c for c in TIMING if c in x]),
                                      y.drop(columns=[c for c in TIMING if c in y]), check_exact=True)


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        yield client.get_executor(pure=False)


@pytest.fixture(scope="module")
def in_process():
    return scaling.run(SCALING), udml.run(UDML)


def test_scaling_on_a_dask_cluster_equals_in_process(in_process, dask_executor):
    remote = scaling.run(SCALING, executor=dask_executor)
    _same(in_process[0], remote, ("scaling", "robustness", "roc", "params"))
    assert [f.line() for f in remote.findings] == [f.line() for f in in_process[0].findings]


def test_udml_on_a_dask_cluster_equals_in_process(in_process, dask_executor):
    remote = udml.run(UDML, executor=dask_executor)
    _same(in_process[1], remote, ("estimator", "weights", "alpha", "robustness", "accuracy"))
    assert [f.verdict for f in remote.findings] == [f.verdict for f in in_process[1].findings]


def test_any_executor_plugs_in(in_process):
    with ThreadPoolExecutor(2) as pool:
        _same(in_process[0], scaling.run(SCALING, executor=pool), ("scaling", "robustness"))


def test_a_killed_sweep_resumes_with_only_the_missing_jobs(tmp_path, in_process):
    cache = tmp_path / "cache"
    args = [sys.executable, "-m", "fusionlab", "scaling", "--clip-samples", "300", "--fusions", "concat,product",
            "--sizes", "32-64", "--seeds", "2", "--epochs", "2", "--cache", str(cache), "--out", str(tmp_path / "o")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(cache.glob("*/job.json"))) < 1:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    finished = len(list(cache.glob("*/job.json")))
    assert 1 <= finished < 4 and not (tmp_path / "o").exists()
    seen = []
    resumed = scaling.run(SCALING, cache=JobCache(cache), progress=lambda f, m, epoch=None: seen.append(m))
    assert resumed.artifacts.cached == finished and len(resumed.artifacts.job_seconds) == 4 - finished
    assert any("from the cache" in m for m in seen)
    _same(in_process[0], resumed, ("scaling", "robustness", "roc"))


def _square(x):
    time.sleep(0.05)
    return {"t": pd.DataFrame({"x": [x * x]})}


def test_progress_per_job_and_stop_cancels_the_pending_ones():
    jobs = [Job(f"job {i}", _square, (i,)) for i in range(6)]
    messages = []
    out = run_jobs(jobs, progress=lambda f, m, epoch=None: messages.append((f, m)))
    assert [f for f, _ in messages] == [(i + 1) / 6 for i in range(6)] and "left" in messages[0][1]
    calls = []
    stopped = run_jobs(jobs, stop=lambda: calls.append(1) or len(calls) > 2)
    assert stopped.stopped and sum(r is not None for r in stopped.results) == 2
    with ThreadPoolExecutor(1) as pool:
        remote = run_jobs(jobs, executor=pool, stop=lambda: True)
    assert remote.stopped and sum(r is not None for r in remote.results) < 6
    assert [r["t"]["x"].item() for r in out.results] == [i * i for i in range(6)]


def test_an_executor_gets_the_costliest_jobs_first_and_the_results_stay_in_the_listed_order():
    """On a few workers the longest job started last is the study's tail: jobs go out by ``cost``, descending
    (ties in the listed order), and come back where they were listed."""
    submitted = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)
    costs = [1.0, 5.0, 0.0, 5.0, 3.0]
    jobs = [Job(f"job {i}", _square, (i,), cost=c) for i, c in enumerate(costs)]
    with Recording(1) as pool:
        out = run_jobs(jobs, executor=pool)
    assert submitted == [1, 3, 4, 0, 2]
    assert [r["t"]["x"].item() for r in out.results] == [i * i for i in range(5)]
    assert jobs[0].digest() == Job("job 0", _square, (0,)).digest()  # a cost hint does not change what is cached


def test_scaling_jobs_cost_more_with_more_rows_and_a_larger_fusion():
    data = scaling.prepared(SCALING.data, SCALING.split)
    cost = {(j.args[1], j.args[2]): j.cost for j in scaling.jobs_of(replace(SCALING, fusions=("concat", "tensor")),
                                                                     data)}
    assert cost["concat", 32] < cost["concat", 64] and cost["tensor", 32] < cost["tensor", 64]
    assert cost["concat", 64] < cost["tensor", 64]
