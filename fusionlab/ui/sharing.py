"""A class on one server: identical requests computed once, and a queue for the cores.

A class opens the same lesson link and presses Train within seconds of each other: 24 sessions asking for the
same training. Each session ran its own copy in its own thread, side by side on two cores: 24 × the work, and the
first result after minutes. Here every page's main run (``ui.training.live_run``) goes to this process's
:class:`Runner`:

- at most ``slots`` computations run at once (one per core: the dashboard trains with one torch thread); the
  others wait in order, and a waiting session says so, with its place in the queue;
- a request named by ``share`` is one whose result is a pure function of its name (the lab's engine is
  deterministic per config and seed): the lab's own model on built-in data, never an upload, a folder read from
  the machine, or a user's model (:func:`share_name` gives None for those). It joins the same computation when one
  is queued or running, and a finished one comes from a cache bounded in bytes (``MAX_SHARED_BYTES``, least
  recently used out first) and in time (``SHARED_IDLE_S`` since it was last asked for);
- a session that stops waiting (Stop, another run of its page, a closed tab) leaves; a computation nobody waits
  for any more is abandoned at its next progress report and never cached (what Stop did before).

Every session gets its own copy of a shared result's containers (:func:`private_copy`: tables, findings,
artifacts): a page adding a table to its run never changes another session's. The models and arrays inside are
shared and only read (evaluation never changes a model).
"""
from __future__ import annotations

import atexit
import copy
import dataclasses
import hashlib
import json
import os
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable, Deque, Dict, Hashable, Optional, Tuple

import numpy as np
import pandas as pd
import torch

from .cache import ByteLRU

MAX_SHARED_BYTES = 256 * 2**20  # finished shared results held at most
MAX_FRAME_BYTES = 64 * 2**20  # live-view frames of shared results held at most
# a shared result or frame nobody has asked for in this long is dropped: a class that has left gives its memory
# back within 90 s (its sessions go 30 s after their tabs close), and a class pressing Train within seconds shares
SHARED_IDLE_S = 60.0
IDLE_S = 30.0  # a worker thread with nothing to do ends after this long
CLAIM_S = 30.0  # a frame another session is computing is left to it for this long at most


class Abandoned(BaseException):
    """Raised inside a computation at its next progress report once no session waits for it. A BaseException, as
    Streamlit's own stop is, so that no study's ``except Exception`` keeps it running."""


def deep_nbytes(obj: Any, _seen: Optional[set] = None, _depth: int = 0) -> int:
    """The bytes of the arrays, tensors, models and tables reachable from ``obj`` (each counted once)."""
    seen = set() if _seen is None else _seen
    if id(obj) in seen or _depth > 8 or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return len(obj) if isinstance(obj, (str, bytes)) else 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, torch.Tensor):
        return int(obj.numel() * obj.element_size())
    if isinstance(obj, torch.nn.Module):
        return sum(deep_nbytes(t, seen) for t in [*obj.parameters(), *obj.buffers()])
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return int(obj.memory_usage(deep=False).sum()) if isinstance(obj, pd.DataFrame) else int(obj.nbytes)
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    else:
        return 0
    return sum(deep_nbytes(v, seen, _depth + 1) for v in items)


def private_copy(value: Any) -> Any:
    """A session's own containers around a shared result: a new result object, tables, findings and model
    dictionaries (what a page may add to); the models, arrays and tables themselves stay shared."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (tuple, list)):
        return type(value)(private_copy(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if isinstance(v, (dict, list)) or (dataclasses.is_dataclass(v) and not isinstance(v, type)):
                object.__setattr__(out, f.name, private_copy(v))
        return out
    return value


def _builtin(obj: Any) -> bool:
    """Whether every dataset named inside ``obj`` (a config) is built in: no upload, nothing read from the
    machine's folders (whose files can change between two runs with the same config)."""
    from ..data.spec import DataConfig
    if isinstance(obj, DataConfig):
        return not obj.spec.upload and not obj.spec.settings
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return all(_builtin(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, (list, tuple)):
        return all(_builtin(v) for v in obj)
    if isinstance(obj, dict):
        return all(_builtin(v) for v in obj.values())
    return True


def share_name(page: str, *config: Any, source: Any = None) -> Optional[str]:
    """The name under which a run of ``config`` on page ``page`` is shared between sessions, or None when it must
    not be: data given by the user (``source``) or read from the machine, or a config that is not plain data."""
    from .. import __version__
    from ..jobs import _plain
    if source is not None or not _builtin(config):
        return None
    try:
        text = json.dumps({"page": page, "config": _plain(config), "version": __version__}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Task:
    """One computation and the sessions waiting for it: its progress as the last report left it."""

    def __init__(self, compute: Callable[[Callable], Any], key: Optional[str]) -> None:
        self.compute, self.key = compute, key
        self.fraction, self.message = 0.0, "waiting"
        self.epoch = None  # the last epoch reported (``train.EpochInfo``)
        self.rows: Tuple[dict, ...] = ()  # the current training's epochs, for a live chart (replaced, never changed)
        self.waiters, self.started, self.cancelled, self.cached = 1, False, False, False
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()

    def report(self, fraction: float, message: str, epoch=None) -> None:
        """The computation's ``progress``: raises :class:`Abandoned` once nobody waits for it."""
        if self.cancelled:
            raise Abandoned()
        self.fraction, self.message = fraction, message
        if epoch is not None:
            rows = self.rows if self.rows and self.rows[-1]["run"] == epoch.run else ()
            self.rows, self.epoch = rows + (vars(epoch).copy(),), epoch


class Runner:
    """At most ``slots`` computations at once, the others queued in order; shared ones computed once."""

    def __init__(self, slots: int, limit: int = MAX_SHARED_BYTES) -> None:
        self.slots = max(1, int(slots))
        self._cond = threading.Condition()
        self._queue: Deque[Task] = deque()
        self._flights: Dict[str, Task] = {}
        self._workers = 0
        self._running: set = set()  # tasks being computed now
        self._threads: list = []
        self.finished = ByteLRU(limit, size=deep_nbytes, max_idle_s=SHARED_IDLE_S)

    def submit(self, compute: Callable[[Callable], Any], share: Optional[str] = None) -> Task:
        """Queue ``compute(progress)``, or join the same shared computation, or take its finished result."""
        with self._cond:
            if share is not None:
                hit = self.finished.peek(share)
                if hit is not None:
                    task = Task(compute, share)
                    task.value, task.cached, task.fraction, task.message = hit, True, 1.0, "done"
                    task.done.set()
                    return task
                task = self._flights.get(share)
                if task is not None:
                    task.waiters += 1
                    return task
            task = Task(compute, share)
            if share is not None:
                self._flights[share] = task
            self._queue.append(task)
            if self._workers < self.slots:
                self._workers += 1
                thread = threading.Thread(target=self._work, name="fusionlab-runner", daemon=True)
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
                thread.start()
            self._cond.notify()
            return task

    def place(self, task: Task) -> Optional[Tuple[int, int]]:
        """``(place, queued)`` while ``task`` waits for a core (1 is next), None once it runs."""
        with self._cond:
            return (self._queue.index(task) + 1, len(self._queue)) if task in self._queue else None

    def leave(self, task: Task) -> None:
        """A session stops waiting for ``task``; the last one to leave abandons it (unless it is done)."""
        with self._cond:
            task.waiters -= 1
            if task.waiters > 0 or task.done.is_set():
                return
            task.cancelled = True
            if task.key is not None and self._flights.get(task.key) is task:
                del self._flights[task.key]
            if task in self._queue:
                self._queue.remove(task)
                task.done.set()

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(IDLE_S)
                if not self._queue:  # idle: the thread ends (the next submit starts another)
                    self._workers -= 1
                    return
                task = self._queue.popleft()
                task.started = True
                self._running.add(task)
            try:
                task.value = task.compute(task.report)
            except Abandoned:
                pass
            except BaseException as exc:  # noqa: BLE001 -- handed to the sessions waiting; the worker lives on
                task.error = exc
            else:
                stopped = getattr(task.value, "stopped", False) or getattr(task.value, "stopped_by_user", False)
                if task.key is not None and not stopped:
                    self.finished.put(task.key, task.value)
            finally:
                with self._cond:
                    self._running.discard(task)
                    if task.key is not None and self._flights.get(task.key) is task:
                        del self._flights[task.key]
                task.done.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Abandon every queued and running computation and wait for the threads (the server is stopping: a thread
        killed inside torch aborts the process)."""
        with self._cond:
            for task in self._running:
                task.cancelled = True
            for task in self._queue:
                task.cancelled = True
                task.done.set()
            self._queue.clear()
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


class FrameStore:
    """Live-view frames of shared results, for every session showing one (bounded in bytes), and which frames a
    session is computing now, so that two sessions do not compute the same one side by side."""

    def __init__(self, limit: int = MAX_FRAME_BYTES) -> None:
        self.frames = ByteLRU(limit, size=lambda frame: sum(len(v) for v in frame.values()), max_idle_s=SHARED_IDLE_S)
        self._claims: Dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def claim(self, key) -> bool:
        """True if the caller should compute ``key`` now (nobody else is, or their claim is stale)."""
        now = time.monotonic()
        with self._lock:
            if now - self._claims.get(key, -CLAIM_S) < CLAIM_S:
                return False
            self._claims[key] = now
            return True

    def release(self, key) -> None:
        with self._lock:
            self._claims.pop(key, None)


_names: Dict[int, str] = {}  # by id: a result (an eq dataclass) is not hashable; dropped with the object


def name_of(value: Any) -> Optional[str]:
    """The share name of a result a session got from a shared run (``ui.training.live_run``), None otherwise."""
    return _names.get(id(value))


def named(value: Any, name: Optional[str]) -> Any:
    """``value``, remembered as shared under ``name`` for as long as it lives."""
    if name is not None:
        try:
            weakref.finalize(value, _names.pop, id(value), None)
        except TypeError:  # not weakly referenceable: not remembered (its frames are this session's own)
            return value
        _names[id(value)] = name
    return value


def default_slots() -> int:
    """Computations at once: one per core (``FUSIONLAB_SLOTS`` overrides)."""
    try:
        return max(1, int(os.environ.get("FUSIONLAB_SLOTS", "")))
    except ValueError:
        return max(1, os.cpu_count() or 1)


_lock = threading.Lock()
_singletons: Dict[str, Any] = {}


def _one(name: str, make: Callable[[], Any]) -> Any:
    with _lock:
        if name not in _singletons:
            _singletons[name] = make()
        return _singletons[name]


@atexit.register
def _shutdown() -> None:
    with _lock:
        made = list(_singletons.values())
    for one in made:
        if isinstance(one, Runner):
            one.shutdown()


def runner() -> Runner:
    """This server process's runner (every session's)."""
    return _one("runner", lambda: Runner(default_slots()))


def frame_store() -> FrameStore:
    return _one("frames", FrameStore)


def expire_idle() -> int:
    """Drop the shared results and frames idle longer than ``SHARED_IDLE_S`` (without making either store); how
    many were dropped. The memory trimmer calls it, so a server nobody visits gives them back too."""
    with _lock:
        made = list(_singletons.values())
    return sum(one.finished.expire() if isinstance(one, Runner) else one.frames.expire() for one in made)
