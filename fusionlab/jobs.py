"""Multi-run studies as jobs on an executor, with a resumable cache.

A ``Job`` is a module-level function and its (frozen, picklable) arguments; it returns a dict of
tables (``pandas.DataFrame``) and, optionally, ``"artifacts"`` (trained models, for a page; never
cached). Because every training draws only from its own seed (``fusionlab.rng``), a job gives the
same tables wherever it runs.

``run_jobs(jobs, executor=None, cache=None, progress=None, stop=None)``:

- ``executor=None`` runs the jobs here, one after another, and passes them ``progress`` and ``stop``
  (live epochs, Stop within a job);
- any ``concurrent.futures.Executor`` (``ProcessPoolExecutor``, Dask's ``Client.get_executor()``,
  another engine's) runs them there; ``stop()`` cancels the jobs not started yet;
- ``cache`` (a ``JobCache``) keeps each finished job's tables under a hash of the job, so a sweep
  killed part-way and started again runs only the missing jobs.

``executor_from(workers, scheduler)`` builds the CLI's choice: local processes (``--workers N``) or a
Dask cluster (``--scheduler tcp://HOST:PORT`` or ``DASK_SCHEDULER_ADDRESS``).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from . import __version__
from .data.spec import DataConfig

Tables = Dict[str, Any]


class Stopped(Exception):
    """Raised inside a job when its ``stop()`` says so (in-process runs only)."""


def _plain(obj: Any) -> Any:
    if isinstance(obj, DataConfig) and obj.spec.upload:
        path = getattr(obj.options, "path", "")
        content = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path and Path(path).is_file() else None
        return {"__data__": _plain(asdict(obj)), "__file_sha256__": content}  # the file's content, not its name
    if is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__qualname__, **{k: _plain(v) for k, v in asdict(obj).items()}}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, bytes):
        return {"__bytes_sha256__": hashlib.sha256(obj).hexdigest()}
    return obj


@dataclass(frozen=True)
class Job:
    label: str  # what a progress bar says, e.g. "concat, n = 64"
    func: Callable[..., Tables]  # a module-level function (picklable)
    args: Tuple[Any, ...]
    cost: float = 0.0  # a rough relative cost (not part of the digest): an executor starts the costliest first

    def digest(self) -> str:
        """A hash of what the job computes: the function, its arguments, fusionlab's version."""
        spec = {"func": f"{self.func.__module__}.{self.func.__qualname__}", "args": _plain(self.args),
                "version": __version__}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, default=repr).encode()).hexdigest()[:24]


class JobCache:
    """Finished jobs' tables as parquet files in ``root/<digest>/``, each job's folder renamed into place
    when whole (a job killed while writing leaves nothing that counts)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, job: Job) -> Path:
        return self.root / job.digest()

    def has(self, job: Job) -> bool:
        return (self._dir(job) / "job.json").is_file()

    def load(self, job: Job) -> Tables:
        d = self._dir(job)
        meta = json.loads((d / "job.json").read_text())
        return {name: pd.read_parquet(d / f"{i}.parquet") for i, name in enumerate(meta["tables"])}

    def save(self, job: Job, tables: Tables) -> None:
        names = [k for k, v in tables.items() if isinstance(v, pd.DataFrame)]
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".partial-"))
        try:
            for i, name in enumerate(names):
                tables[name].to_parquet(tmp / f"{i}.parquet", index=False)
            (tmp / "job.json").write_text(json.dumps({"label": job.label, "tables": names}))
            target = self._dir(job)
            if target.exists():
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@dataclass
class JobsOutcome:
    results: List[Optional[Tables]]  # per job, in the jobs' order; None where stopped before it ran
    cached: int  # how many came from the cache
    seconds: List[float]  # per job that ran here or remotely (wall time of its future)
    stopped: bool


def _accepts(func: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def _eta(started: float, done: int, total: int) -> str:
    if done == 0 or done >= total:
        return ""
    left = (time.perf_counter() - started) / done * (total - done)
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"


class _Run:
    """One ``run_jobs`` call's state: the results so far, the jobs left, the count done and its progress reports."""

    def __init__(self, jobs: Sequence[Job], cache: Optional[JobCache], progress: Optional[Callable[..., None]]) -> None:
        self.jobs, self.cache, self.progress, self.n = jobs, cache, progress, len(jobs)
        self.results: List[Optional[Tables]] = [None] * self.n
        self.todo: List[int] = []
        for i, job in enumerate(jobs):
            if cache is not None and cache.has(job):
                self.results[i] = cache.load(job)
            else:
                self.todo.append(i)
        self.cached = self.done = self.n - len(self.todo)
        self.seconds: List[float] = []
        self.started = time.perf_counter()

    def report(self, msg: str, epoch=None) -> None:
        """Tell ``progress`` the share of jobs done and ``msg``."""
        if self.progress is not None:
            self.progress(self.done / max(self.n, 1), msg, epoch=epoch)

    def finish(self, i: int, out: Tables, seconds: float) -> None:
        """Keep job ``i``'s tables (and cache them), count it done and report it."""
        self.results[i] = out
        self.seconds.append(seconds)
        if self.cache is not None:
            self.cache.save(self.jobs[i], out)
        self.done += 1
        self.report(f"{self.jobs[i].label} done ({self.done}/{self.n})"
                    f"{_eta(self.started, self.done - self.cached, self.n - self.cached)}")


def _job_kwargs(run: _Run, job: Job, stop: Optional[Callable[[], bool]]) -> Dict[str, Any]:
    """The ``progress`` (scaled to the job's share of the run) and ``stop`` a job running here accepts."""
    kwargs: Dict[str, Any] = {}
    progress, n = run.progress, run.n
    if progress is not None and _accepts(job.func, "progress"):
        base = run.done

        def sub(fraction, message, epoch=None, base=base, label=job.label):
            if progress is not None:
                progress((base + fraction) / n, f"{label}: {message}", epoch=epoch)

        kwargs["progress"] = sub
    if stop is not None and _accepts(job.func, "stop"):
        kwargs["stop"] = stop
    return kwargs


def _run_here(run: _Run, stop: Optional[Callable[[], bool]]) -> bool:
    """Run the jobs left one after another in this process; True if stopped before the end."""
    for i in run.todo:
        if stop is not None and stop():
            return True
        job, t0 = run.jobs[i], time.perf_counter()
        kwargs = _job_kwargs(run, job, stop)
        try:
            out = job.func(*job.args, **kwargs)
        except Stopped:
            return True
        run.finish(i, out, time.perf_counter() - t0)
    return False


def _run_on(executor: Executor, run: _Run, stop: Optional[Callable[[], bool]]) -> bool:
    """Run the jobs left on ``executor``, cancelling those not started when stopped; True if any is missing."""
    jobs, stopped = run.jobs, False
    # the costliest first: on a few workers, the longest job started last is the study's tail
    order = sorted(run.todo, key=lambda i: -jobs[i].cost)
    futures: Dict[Future, int] = {executor.submit(jobs[i].func, *jobs[i].args): i for i in order}
    submitted = {f: time.perf_counter() for f in futures}
    try:
        for fut in as_completed(futures):
            i = futures[fut]
            run.finish(i, fut.result(), time.perf_counter() - submitted[fut])
            if stop is not None and stop():
                stopped = True
                break
    finally:
        pending = [f for f in futures if not f.done()]
        for f in pending:
            f.cancel()
    return stopped or any(r is None for r in run.results)


def run_jobs(jobs: Sequence[Job], executor: Optional[Executor] = None, cache: Optional[JobCache] = None,
             progress: Optional[Callable[..., None]] = None, stop: Optional[Callable[[], bool]] = None) -> JobsOutcome:
    """Run ``jobs`` (see the module docstring); ``progress(fraction, message, epoch=None)`` after each job."""
    run = _Run(jobs, cache, progress)
    if run.cached:
        run.report(f"{run.cached} of {run.n} jobs from the cache")
    stopped = _run_here(run, stop) if executor is None else _run_on(executor, run, stop)
    return JobsOutcome(run.results, run.cached, run.seconds, stopped)


def executor_from(workers: int = 0, scheduler: Optional[str] = None
                  ) -> Tuple[Optional[Executor], str, Callable[[], None]]:
    """The executor the CLI flags (or ``DASK_SCHEDULER_ADDRESS``) ask for, a sentence saying where jobs run,
    and how to release it."""
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if scheduler:
        from distributed import Client  # imported only when a cluster is asked for
        try:
            client = Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        n = len(client.scheduler_info().get("workers", {}))
        return client.get_executor(pure=False), f"on the Dask cluster at {scheduler} ({n} workers)", client.close
    if workers < 0:
        raise ValueError(f"--workers must be >= 0, got {workers}")
    if workers > 1:
        import multiprocessing
        threads = max(1, (os.cpu_count() or 1) // workers)  # the cores shared out: no oversubscription
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=worker_threads, initargs=(threads,))
        return pool, f"in {workers} local worker processes", lambda: pool.shutdown(wait=True, cancel_futures=True)
    return None, "in this process", lambda: None


def uploads_uncached(cached: Callable) -> Callable:
    """Use ``cached`` (an ``lru_cache``'d loader) only for built-in data: a call with upload bytes
    (``source``) loads afresh, so no process-wide cache keeps a user's upload or shares it across sessions."""

    def load(*args, source: Optional[bytes] = None):
        if len(args) > 1 and isinstance(args[-1], (bytes, bytearray)):
            *args, source = args
        return cached.__wrapped__(*args, source) if source is not None else cached(*args)

    load.__wrapped__ = cached.__wrapped__
    load.__doc__ = cached.__doc__
    return load


def worker_threads(n: int) -> None:
    """A worker process's torch and numba thread count (its share of the cores)."""
    import torch
    torch.set_num_threads(n)
    os.environ["NUMBA_NUM_THREADS"] = str(n)


def concat(results: Sequence[Optional[Tables]], name: str) -> pd.DataFrame:
    """One table from every finished job's ``name`` table, in the jobs' order."""
    parts = [r[name] for r in results if r is not None and name in r and len(r[name])]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
