"""Live training in a page: progress bar, live chart, and a Stop button that works.

Stop works through Streamlit's rerun: clicking it during a run interrupts the
script at its next element update; the next run sees the button pressed and
reports the stop. The interrupted run never reaches the line that stores its
result, so the page keeps the previous model, never a half-trained one.
"""
from __future__ import annotations

from typing import Callable, Optional, TypeVar

import pandas as pd
import streamlit as st

from .. import figures
from ..train import EpochInfo

T = TypeVar("T")


def train_buttons(key: str, label: str = "Train") -> tuple[bool, bool]:
    """A Train and a Stop button side by side (call outside any fragment)."""
    c1, c2, _ = st.columns([1, 1, 4])
    start = c1.button(label, type="primary", key=f"{key}-train")
    stop = c2.button("Stop", key=f"{key}-stop", help="interrupts a running training; the previous model is kept")
    if stop:
        done = st.session_state.get(f"{key}-progress-epoch")
        st.warning(f"Training stopped by you{f' after {done}' if done else ''}; "
                   "the previously trained model (if any) is kept.")
    return start, stop


def live_training(key: str, run: Callable[[Callable[[EpochInfo], None]], T],
                  label: str = "training") -> T:
    """Call ``run(callback)``; the callback draws progress and the live chart each epoch."""
    progress = st.progress(0.0, text=f"{label}: starting")
    chart = st.empty()
    rows: list[dict] = []
    st.session_state[f"{key}-progress-epoch"] = None

    def callback(info: EpochInfo) -> None:
        if rows and rows[-1]["run"] != info.run:  # the next of several trainings: a chart of its own
            rows.clear()
        rows.append(vars(info).copy())
        where = f"epoch {info.epoch}/{info.epochs}" + (f" of {info.run}" if info.run else "")
        st.session_state[f"{key}-progress-epoch"] = where
        done = info.overall if info.overall is not None else info.epoch / info.epochs
        progress.progress(min(done, 1.0), text=f"{label}: {where}, validation accuracy {info.val_accuracy:.3f}")
        chart.plotly_chart(figures.training_curves(pd.DataFrame(rows), title=info.run or None),
                           key=f"{key}-live-{info.run}-{len(rows)}")

    result = run(callback)
    progress.progress(1.0, text=f"{label}: done")
    chart.empty()
    return result


def show_error(exc: Exception, what: str = "This setting") -> None:
    st.error(f"{what} cannot run: {exc}")


def session_get(key: str, default: Optional[object] = None):
    return st.session_state.get(key, default)
