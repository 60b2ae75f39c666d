"""Running a study in a page: progress bar, live training chart, and a Stop button that works.

Stop works through Streamlit's rerun: clicking it during a run interrupts the script at its next
element update; the next run sees the button pressed and reports the stop. The interrupted run never
reaches the line that stores its result, so the page keeps the previous one, never a half-trained
model.
"""
from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

import pandas as pd
import streamlit as st

from .. import figures
from ..train import EpochInfo

T = TypeVar("T")
REDRAW_S = 1.5  # the live chart is redrawn at most this often (and at every run's last epoch)


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


def live_run(key: str, run: Callable[[Callable], T], label: str = "training") -> T:
    """Call ``run(progress)``; ``progress(fraction, message, epoch=None)`` draws the bar and, for an
    epoch, that training's live chart (one chart per named run), redrawn at most every ``REDRAW_S``
    seconds: building the figure holds the GIL, and a study of 8 short trainings spent a third of its
    time redrawing a chart per epoch."""
    bar = st.progress(0.0, text=f"{label}: starting")
    chart = st.empty()
    rows: list[dict] = []
    drawn = [0.0]
    st.session_state[f"{key}-progress-epoch"] = None

    def progress(fraction: float, message: str, epoch: Optional[EpochInfo] = None) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")
        if epoch is None:
            return
        if rows and rows[-1]["run"] != epoch.run:  # the next of several trainings: a chart of its own
            rows.clear()
        rows.append(vars(epoch).copy())
        st.session_state[f"{key}-progress-epoch"] = f"epoch {epoch.epoch}/{epoch.epochs}" + (
            f" of {epoch.run}" if epoch.run else "")
        now = time.monotonic()
        if now - drawn[0] < REDRAW_S and epoch.epoch < epoch.epochs:
            return
        drawn[0] = now
        chart.plotly_chart(figures.training_curves(pd.DataFrame(rows), title=epoch.run or None),
                           key=f"{key}-live-{epoch.run}-{len(rows)}")

    result = run(progress)
    bar.progress(1.0, text=f"{label}: done")
    chart.empty()
    return result


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
