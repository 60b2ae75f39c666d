"""Shared widgets and small helpers. Widget keys carry the page's name."""
from __future__ import annotations

from ..data import MultimodalDataset
from ..text import signed
from .forms import init_state  # noqa: F401  (re-exported: pages set widget defaults through it)


def look_for(text: str, where=None) -> None:
    """The one line under a figure that says what to look for in it (issue 17, teaching aids)."""
    import streamlit as st
    (where or st).caption(f"What to look for: {text}")


def describe_dataset(ds: MultimodalDataset) -> str:
    shapes = ", ".join(f"{k} {t}×{d}" if t > 1 else f"{k} {d}" for k, (t, d) in ds.shapes().items())
    return f"**{ds.name}**: {ds.n_samples} samples, {ds.n_classes} classes; modalities {shapes}"


def metric_change(value: float, reference: float, name: str) -> dict:
    """``st.metric`` keyword arguments for the change of ``value`` from ``reference``: signed,
    never ``-0.000``, and without a coloured arrow when it rounds to no change."""
    change = signed(value - reference)
    return dict(delta=f"{change} vs {name}", delta_color="off" if change == signed(0) else "normal")
