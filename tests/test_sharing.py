"""A class on one server (``ui.sharing``): identical runs computed once, a queue with places, leaving abandons."""
import threading
import time

import torch

from fusionlab.data import DataConfig
from fusionlab.experiments import playground
from fusionlab.experiments.base import Result
from fusionlab.ui import sharing
from fusionlab.ui.live import LiveSlider, _evaluator


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def result(model):
    return Result(tables={"metrics": None}, findings=[], config={}, artifacts={"model": model})


def test_identical_requests_are_computed_once_and_each_session_gets_its_own_containers():
    runner, calls, gate = sharing.Runner(slots=2), [], threading.Event()
    model = torch.nn.Linear(3, 2)

    def compute(progress):
        calls.append(1)
        gate.wait(5)
        progress(1.0, "done")
        return result(model)
    a, b = runner.submit(compute, "same"), runner.submit(compute, "same")
    assert a is b and a.waiters == 2
    gate.set()
    assert a.done.wait(5) and a.error is None
    c = runner.submit(compute, "same")  # after it finished: from the cache, at once
    assert c.cached and c.done.is_set() and c.value is a.value
    assert len(calls) == 1
    mine, theirs = sharing.private_copy(a.value), sharing.private_copy(c.value)
    assert mine is not theirs and mine.tables is not theirs.tables and mine.artifacts is not theirs.artifacts
    mine.tables["added"] = 1  # a page adding a table to its run
    assert "added" not in theirs.tables and "added" not in a.value.tables
    assert mine.artifacts.model is theirs.artifacts.model is model  # the model itself is shared, read only


def test_unnamed_requests_queue_in_order_and_say_their_place():
    runner, gate = sharing.Runner(slots=1), threading.Event()
    first = runner.submit(lambda progress: gate.wait(5))
    wait_until(lambda: first.started)
    second, third = runner.submit(lambda p: 2), runner.submit(lambda p: 3)
    assert runner.place(first) is None and runner.place(second) == (1, 2) and runner.place(third) == (2, 2)
    gate.set()
    assert third.done.wait(5) and (second.value, third.value) == (2, 3)


def test_a_run_nobody_waits_for_is_abandoned_at_its_next_report_and_never_cached():
    runner, started, reports = sharing.Runner(slots=1), threading.Event(), []

    def compute(progress):
        started.set()
        for i in range(500):
            progress(i / 500, "epoch")
            reports.append(i)
            time.sleep(0.01)
        return "whole"
    task = runner.submit(compute, "k")
    assert started.wait(5)
    runner.leave(task)
    wait_until(lambda: task.done.is_set())
    assert task.value is None and task.error is None and len(reports) < 500
    assert runner.finished.peek("k") is None
    again = runner.submit(lambda p: "fresh", "k")  # a new request computes afresh, not joining the abandoned one
    assert again.done.wait(5) and again.value == "fresh"


def test_a_queued_run_left_by_its_only_session_never_starts():
    runner, gate, ran = sharing.Runner(slots=1), threading.Event(), []
    runner.submit(lambda p: gate.wait(5))
    queued = runner.submit(lambda p: ran.append(1))
    runner.leave(queued)
    assert queued.done.is_set() and runner.place(queued) is None
    gate.set()
    time.sleep(0.2)
    assert not ran


def test_one_session_leaving_a_shared_run_does_not_stop_it_for_the_others():
    runner, gate = sharing.Runner(slots=1), threading.Event()

    def compute(progress):
        gate.wait(5)
        progress(1.0, "done")
        return "value"
    a = runner.submit(compute, "k")
    b = runner.submit(compute, "k")
    runner.leave(a)
    gate.set()
    assert b.done.wait(5) and b.value == "value"


def test_an_error_reaches_every_session_and_is_not_cached():
    runner = sharing.Runner(slots=1)

    def boom(progress):
        time.sleep(0.1)
        raise ValueError("one class")
    a, b = runner.submit(boom, "k"), runner.submit(boom, "k")
    assert a is b and a.done.wait(5) and isinstance(a.error, ValueError)
    assert runner.finished.peek("k") is None
    assert runner.submit(lambda p: 1).done.wait(5)  # the worker lives on


def test_finished_results_are_bounded_in_bytes():
    runner = sharing.Runner(slots=1, limit=10_000)
    big = runner.submit(lambda p: torch.zeros(10_000), "big")  # 40 kB: computed, handed back, not kept
    assert big.done.wait(5) and big.value is not None and runner.finished.peek("big") is None
    small = runner.submit(lambda p: torch.zeros(100), "small")
    assert small.done.wait(5) and runner.finished.peek("small") is not None


def test_only_runs_on_built_in_data_are_shared():
    cfg = playground.DEFAULT
    assert sharing.share_name("playground", cfg) == sharing.share_name("playground", cfg)
    assert sharing.share_name("playground", cfg) != sharing.share_name("gates", cfg)
    from dataclasses import replace
    other = replace(cfg, train=replace(cfg.train, seed=cfg.train.seed + 1))
    assert sharing.share_name("playground", other) != sharing.share_name("playground", cfg)
    assert sharing.share_name("playground", cfg, source=b"an upload") is None
    upload = replace(cfg, data=DataConfig("file"))
    assert sharing.share_name("playground", upload) is None
    folder = replace(cfg, data=DataConfig("av-digits"))  # read from a folder the server was given
    assert sharing.share_name("playground", folder) is None


def test_frames_of_a_shared_view_are_computed_once_for_every_session():
    sliders = [LiveSlider("noise", "k", (0.0, 0.5, 1.0))]
    calls = []

    def frame(values):
        calls.append(values)
        return {"text": f"level {values[0]}"}
    one = _evaluator(sliders, frame, None, {}, {}, shared=("run", "view"))
    other_frames = {}
    other = _evaluator(sliders, frame, None, other_frames, {}, shared=("run", "view"))
    assert one((1,)) is True and other((1,)) is False  # the second session takes the first one's frame
    assert other_frames[(1,)] and len(calls) == 1
    store = sharing.frame_store()
    assert store.claim((("run", "view"), (2,)))  # a session computing (2,) now
    assert other((2,), claim=True) is None and (2,) not in other_frames  # left to it
    mine = _evaluator(sliders, frame, None, {}, {}, shared=("another run", "view"))
    assert mine((1,)) is True  # another result's frames are never taken


def test_a_shared_result_keeps_its_name_while_it_lives():
    r = result(None)
    assert sharing.named(r, "k") is r and sharing.name_of(r) == "k"
    assert sharing.name_of(result(None)) is None  # an equal result of a session's own
    key = id(r)
    del r
    import gc
    gc.collect()
    assert key not in sharing._names


def test_a_waiting_page_sends_its_bar_again_only_when_what_it_says_changes(monkeypatch):
    """Each message is a redraw in the browser: a page that waits 0.5 s at one fraction, polling every 10 ms, sends
    its bar a few times (its start, the change, its end), not fifty."""
    from fusionlab.ui import training
    sent, gate = [], threading.Event()

    class Bar:
        def progress(self, value, text=""):
            sent.append((value, text))
    monkeypatch.setattr(training.st, "progress", lambda *a, **k: (sent.append(a), Bar())[1])
    monkeypatch.setattr(training, "POLL_S", 0.01)

    def run(progress):
        progress(0.5, "half way")
        gate.wait(5)
        return result(None)
    threading.Timer(0.5, gate.set).start()
    assert training.live_run("k", run, "training").tables == {"metrics": None}
    assert 3 <= len(sent) <= 5, sent
    assert any("half way" in str(s) for s in sent) and "done" in sent[-1][1]


def test_a_shared_result_nobody_asks_for_is_dropped_after_the_idle_time_and_an_asked_one_is_kept():
    """A class that has left gives its cached results and frames back; one still asked for stays."""
    from fusionlab.ui.cache import ByteLRU
    now = [0.0]
    lru = ByteLRU(1000, size=len, max_idle_s=60.0, clock=lambda: now[0])
    lru.put("left", b"x" * 10)
    lru.put("used", b"y" * 10)
    now[0] = 50.0
    assert lru.peek("used") == b"y" * 10  # asked for: its idle time starts again
    now[0] = 61.0
    assert lru.expire() == 1 and lru.peek("left") is None and lru.peek("used") is not None and lru.used == 10
    now[0] = 200.0
    assert lru.peek("used") is None and lru.used == 0  # dropped at the next call, without expire()
    assert ByteLRU(1000, size=len).expire() == 0  # no idle time: only the byte bound


def test_the_trimmer_expires_idle_shared_results_without_making_the_stores(monkeypatch):
    monkeypatch.setattr(sharing, "_singletons", {})  # a server where no page has run yet
    assert sharing.expire_idle() == 0 and sharing._singletons == {}
    runner = sharing.runner()
    runner.finished.clock = lambda: 0.0
    runner.finished.put("k", result(torch.nn.Linear(2, 2)))
    runner.finished.clock = lambda: sharing.SHARED_IDLE_S + 1
    assert sharing.expire_idle() == 1 and runner.finished.peek("k") is None
    runner.shutdown()
