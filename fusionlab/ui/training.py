"""Running a study in a page: progress bar, live training chart, and a Stop button that works.

The run itself goes to this server's runner (``ui.sharing``: a queue for the cores, identical runs computed
once); the page waits for it and redraws its progress. Stop works through Streamlit's rerun: clicking it
during a run interrupts the wait at its next redraw; the next run sees the button pressed and reports the
stop, and the computation, if no other session waits for it, is abandoned at its next progress report. The
interrupted page never reaches the line that stores its result, so it keeps the previous one, never a
half-trained model.
"""
from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

import pandas as pd
import streamlit as st

from .. import figures

T = TypeVar("T")
REDRAW_S = 1.5  # the live chart is redrawn at most this often (and at every run's last epoch)
POLL_S = 0.25  # how often a waiting page redraws its bar (and can be stopped)


def train_buttons(key: str, label: str = "Train") -> tuple[bool, bool]:
    """A Train and a Stop button side by side (call outside any fragment)."""
    row = st.container(horizontal=True)  # buttons as wide as their labels: none is cut at 1024 px
    start = row.button(label, type="primary", key=f"{key}-train")
    stop = row.button("Stop", key=f"{key}-stop", help="interrupts a running training; the previous model is kept")
    if stop:
        done = st.session_state.get(f"{key}-progress-epoch")
        st.warning(f"Training stopped by you{f' after {done}' if done else ''}; "
                   "the previously trained model (if any) is kept.")
    return start, stop


def live_run(key: str, run: Callable[[Callable], T], label: str = "training", share: Optional[str] = None) -> T:
    """Call ``run(progress)`` on this server's runner (``ui.sharing``) and wait for it, drawing the bar and, for an
    epoch, that training's live chart (one chart per named run), redrawn at most every ``REDRAW_S`` seconds.

    ``progress(fraction, message, epoch=None)`` reports to the runner. While the run waits for a core the bar says
    so, with its place in the queue. ``share`` (``sharing.share_name``) names a run that is a pure function of its
    config: sessions asking for the same one wait for one computation, or take its finished result. Stop (or a
    closed tab) interrupts the wait at the next redraw; a run nobody waits for any more is abandoned."""
    from . import sharing
    bar = st.progress(0.0, text=f"{label}: starting")
    chart = st.empty()
    st.session_state[f"{key}-progress-epoch"] = None
    runner = sharing.runner()
    task = runner.submit(run, share)
    drawn, rows_drawn, said = 0.0, None, None
    try:
        while not task.done.wait(POLL_S):
            # the bar is sent again only when what it shows changes: each message is a redraw in the browser, and
            # a class of browsers on the server's machine was spending its cores redrawing bars that said the same
            now_says = (round(min(max(task.fraction, 0.0), 1.0), 2), f"{label}: {_status(runner, task)}")
            if now_says != said:
                said = now_says
                fraction, text = now_says
                bar.progress(fraction, text=text)
            else:  # reading the session state is where Streamlit handles a Stop or a rerun, as sending does
                _ = f"{key}-progress-epoch" in st.session_state
            rows, epoch = task.rows, task.epoch
            if epoch is not None:
                st.session_state[f"{key}-progress-epoch"] = f"epoch {epoch.epoch}/{epoch.epochs}" + (
                    f" of {epoch.run}" if epoch.run else "")
            now = time.monotonic()
            if rows and rows is not rows_drawn and (now - drawn >= REDRAW_S or rows[-1]["epoch"] == rows[-1]["epochs"]):
                drawn, rows_drawn = now, rows  # building the figure holds the GIL: at most every REDRAW_S
                chart.plotly_chart(figures.training_curves(pd.DataFrame(list(rows)), title=rows[-1]["run"] or None),
                                   key=f"{key}-live-{rows[-1]['run']}-{len(rows)}")
    finally:
        runner.leave(task)
    if task.error is not None:
        raise task.error
    bar.progress(1.0, text=f"{label}: done" + (
        " (the same setting was computed on this server before, and gives the same result: shared)"
        if task.cached else ""))
    chart.empty()
    return sharing.named(sharing.private_copy(task.value), share)


def _status(runner, task) -> str:
    """What the bar says while a run waits or runs: its place in the queue, or its progress; and who shares it."""
    place = runner.place(task)
    shared = f" (shared by {task.waiters} sessions asking for the same setting)" if task.waiters > 1 else ""
    if place is not None:
        return (f"waiting for a free core: place {place[0]} of {place[1]} in the queue "
                f"({runner.slots} run at once on this server){shared}")
    return f"{task.message}{shared}"


def start_background(key: str, run: Callable[[Callable], T], share: Optional[str] = None) -> None:
    """Give ``run(progress)`` to the runner without waiting for it: the page is drawn and can be used meanwhile,
    and :func:`follow_background` draws its progress and hands over its result. (A page that waited for it in its
    own run kept Streamlit's running icon and Stop on screen, and held back every other run of the page, the live
    view's included, until it ended.)"""
    from . import sharing
    stop_background(key)
    st.session_state[f"{key}-background"] = (sharing.runner().submit(run, share), share)


def stop_background(key: str) -> None:
    """Stop waiting for ``key``'s background run (abandoned if no other session waits for it)."""
    from . import sharing
    held = st.session_state.pop(f"{key}-background", None)
    if held is not None:
        sharing.runner().leave(held[0])


def running_in_background(key: str) -> bool:
    return f"{key}-background" in st.session_state


def follow_background(key: str, label: str, done: Callable[[T], None], failed: Callable[[Exception], None]) -> None:
    """While ``key``'s background run goes on, a bar that follows it (a fragment rerun every ``BACKGROUND_POLL_S``:
    too short for Streamlit to show its running icon); when it ends, ``done(result)`` or ``failed(ValueError)``,
    then the whole page runs again."""
    if running_in_background(key):
        _follow(key, label, done, failed)


BACKGROUND_POLL_S = 1.0


@st.fragment(run_every=BACKGROUND_POLL_S)
def _follow(key: str, label: str, done: Callable, failed: Callable) -> None:
    from . import sharing
    held = st.session_state.get(f"{key}-background")
    if held is None:
        return
    task, share = held
    runner = sharing.runner()
    if not task.done.is_set():
        st.progress(min(max(task.fraction, 0.0), 1.0), text=f"{label}: {_status(runner, task)}")
        return
    stop_background(key)
    if isinstance(task.error, ValueError):
        failed(task.error)
    elif task.error is not None:
        raise task.error
    elif task.value is not None:
        done(sharing.named(sharing.private_copy(task.value), share))
    st.rerun()


SCROLL_HTML = """<script>
const want = %s; let tries = 0, settled = 0;
const look = setInterval(() => {  // the result is drawn after this frame: look for it for up to 30 s (a loaded server)
  const el = window.parent.document.getElementById(want);
  if (++tries > 150) clearInterval(look);
  if (!el) return;
  const top = el.getBoundingClientRect().top;
  if (top < 0 || top > 120) el.scrollIntoView({behavior: settled ? "auto" : "smooth", block: "start"});
  // what is drawn after it can still move it for a moment (a figure taking its height): look again for ~2 s
  if (++settled > 10) clearInterval(look);
}, 200);
</script>"""


def ask_scroll(key: str, anchor: str) -> None:
    """After the main button's run succeeded: the page shows the result at the top of the screen (issue 33, a
    projector: the result landed below the fold and nothing scrolled). ``scroll_to_result`` does it, once."""
    st.session_state[f"{key}-scroll"] = anchor


def scroll_to_result(key: str) -> None:
    """Scroll the browser to the heading ``ask_scroll`` named, in this run only (an invisible frame)."""
    anchor = st.session_state.pop(f"{key}-scroll", None)
    if anchor:
        import json
        st.iframe(SCROLL_HTML % json.dumps(anchor).replace("<", "\\u003c"), height=1)


def show_error(exc: Exception, what: str = "This setting") -> None:
    st.error(f"{what} cannot run: {exc}")
