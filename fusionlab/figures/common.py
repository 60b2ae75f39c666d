"""Shared figure builders (Playground and the other pages)."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

PALETTE = qualitative.Plotly


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def empty_figure(message: str) -> go.Figure:
    """A figure that says why there is nothing to draw (never an empty canvas)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=220)
    return fig


def training_curves(history: pd.DataFrame, title: Optional[str] = None) -> go.Figure:
    """Training loss, validation loss and validation accuracy per epoch, each in its own panel.

    The training loss is everything the optimiser minimised (UDML's and VGMR's extra terms
    included), the validation loss the task loss alone: on one axis the extra terms, orders of
    magnitude larger, flattened the validation curve."""
    if history is None or history.empty:
        return empty_figure("no epoch finished yet")
    fig = make_subplots(rows=1, cols=3, subplot_titles=("training loss (all terms)", "validation loss",
                                                        "validation accuracy"))
    for col, (column, name) in enumerate((("train_loss", "training loss"), ("val_loss", "validation loss"),
                                          ("val_accuracy", "validation accuracy")), start=1):
        fig.add_trace(go.Scatter(x=history["epoch"], y=history[column], name=name, mode="lines+markers",
                                 marker_color=color(col - 1), showlegend=False), 1, col)
    fig.update_xaxes(title_text="epoch", tickformat="d", rangemode="tozero",  # whole epochs only (1.5 is no epoch)
                     dtick=max(1, int(np.ceil(history["epoch"].max() / 8))) if len(history) else 1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=3)
    fig.update_layout(height=300, margin=dict(t=70 if title else 40, b=40), title=title)
    return fig


def confusion_matrix_figure(cm: np.ndarray, class_names: Sequence[str], title: str = "confusion matrix") -> go.Figure:
    """Rows: true class; columns: predicted class; cell text is the count."""
    cm = np.asarray(cm)
    fig = go.Figure(go.Heatmap(z=cm, x=list(class_names), y=list(class_names), colorscale="Blues", showscale=False,
                               text=cm, texttemplate="%{text}", hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra></extra>"))
    fig.update_layout(title=title, height=380, xaxis_title="predicted", yaxis_title="true",
                      yaxis_autorange="reversed", margin=dict(t=40),
                      xaxis=dict(type="category", dtick=1), yaxis_type="category")
    return fig


def line_with_band(fig: go.Figure, x, mean, sd, name: str, i: int, row=None, col=None, dash=None,
                   showlegend: bool = True, lo: Optional[float] = 0.0, hi: Optional[float] = 1.0) -> None:
    """Add a mean line with a ±1 sd band (no band where ``sd`` is all zero or NaN), the band clipped
    to the quantity's range ``[lo, hi]`` (default: an accuracy or rate in [0, 1]; ``None``: open)."""
    x, mean, sd = np.asarray(x), np.asarray(mean, dtype=float), np.nan_to_num(np.asarray(sd, dtype=float))
    kw = dict(row=row, col=col) if row is not None else {}
    if np.any(sd > 0):
        upper, lower = np.clip(mean + sd, lo, hi), np.clip(mean - sd, lo, hi)
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([upper, lower[::-1]]),
                                 mode="lines", fill="toself", fillcolor=_rgba(color(i), 0.18), line=dict(width=0),
                                 hoverinfo="skip", showlegend=False, legendgroup=name), **kw)
    fig.add_trace(go.Scatter(x=x, y=mean, name=name, mode="lines+markers", legendgroup=name, showlegend=showlegend,
                             line=dict(color=color(i), dash=dash)), **kw)


def robustness_figure(df: pd.DataFrame, marks: Optional[Mapping[str, float]] = None, group: str = "condition",
                      title: str = "accuracy under noise", current: Optional[float] = None) -> go.Figure:
    """Accuracy vs noise level per ``group`` (mean ± sd over seeds).

    ``marks`` puts a marker at the current level of each named group (the sliders'
    setting), at the curve's value there; with ``current`` (the accuracy measured at
    the sliders' setting) the marker sits at that measured accuracy instead, and with
    ``current`` but no matching group a dotted line shows it.
    """
    if df is None or df.empty:
        return empty_figure("no robustness data")
    fig = go.Figure()
    stats = df.groupby([group, "level"], sort=False)["accuracy"].agg(["mean", "std"]).reset_index()
    marked = False
    for i, (name, part) in enumerate(stats.groupby(group, sort=False)):
        line_with_band(fig, part["level"], part["mean"], part["std"], str(name), i)
        if marks and name in marks:
            lv, marked = marks[name], True
            y = current if current is not None else float(np.interp(lv, part["level"], part["mean"]))
            fig.add_trace(go.Scatter(x=[lv], y=[y], mode="markers", marker=dict(size=14, symbol="x", color=color(i)),
                                     name=f"{name}: current", showlegend=False,
                                     hovertemplate=f"{name} now: level %{{x}}, accuracy %{{y:.3f}}<extra></extra>"))
    if current is not None and not marked:  # a legend entry, not a label on the plot: a label sat on a curve
        lo, hi = float(df["level"].min()), float(df["level"].max())
        fig.add_trace(go.Scatter(x=[lo, hi], y=[current, current], mode="lines", name=f"current setting: {current:.3f}",
                                 line=dict(dash="dot", color="grey"), hoverinfo="skip"))
    noise = df["noise"].iloc[0] if "noise" in df else "noise"
    fig.update_layout(title=title, xaxis_title=f"{noise} level", yaxis_title="test accuracy", height=380,
                      yaxis_range=[0, 1.02], margin=dict(t=60),  # the legend below: a column at 1024 px keeps its plot
                      legend=dict(orientation="h", y=-0.22, yanchor="top", x=0))
    levels = sorted(df["level"].unique())
    if len(levels) <= 3:  # e.g. drop: off / on; no in-between ticks for levels that do not exist
        fig.update_xaxes(tickvals=levels)
    return fig


def probability_bars(probs: Sequence[float], class_names: Sequence[str], true_class: int,
                     title: str = "predicted probabilities") -> go.Figure:
    colors = [color(2) if i == true_class else color(0) for i in range(len(class_names))]
    fig = go.Figure(go.Bar(x=list(class_names), y=list(probs), marker_color=colors))
    fig.update_layout(title=dict(text=title, subtitle=dict(text="green = true class")), yaxis_range=[0, 1], height=280,
                      margin=dict(t=60),
                      xaxis_title="class", yaxis_title="probability", xaxis_type="category")
    return fig


def contribution_bars(contrib: pd.DataFrame, title: str = "modality contribution",
                      y_title: str = "probability lost") -> go.Figure:
    """Bars of ``contribution`` per ``modality`` (drop in the predicted class's probability, or another loss)."""
    if contrib is None or contrib.empty:
        return empty_figure("no contributions")
    fig = go.Figure(go.Bar(x=contrib["modality"], y=contrib["contribution"],
                           marker_color=[color(i) for i in range(len(contrib))]))
    fig.update_layout(title=title, yaxis_title=y_title, height=300, margin=dict(t=60))
    return fig


def gate_heatmap(gate: np.ndarray, row_names: Sequence[str], title: str = "gate values",
                 x_title: str = "channel", zmin: float = 0.0, zmax: float = 1.0) -> go.Figure:
    """A ``(rows, channels)`` heatmap, e.g. a gated fusion's ``z`` per modality."""
    gate = np.asarray(gate)
    fig = go.Figure(go.Heatmap(z=gate, y=list(row_names), colorscale="Viridis", zmin=zmin, zmax=zmax,
                               colorbar=dict(title="value")))
    fig.update_layout(title=title, xaxis_title=x_title, height=120 + 40 * len(row_names), margin=dict(t=40))
    return fig


def sample_inputs(inputs: Mapping[str, np.ndarray], images: Mapping[str, Tuple[int, int]] = {},
                  title: str = "the sample's input") -> go.Figure:
    """One panel per modality of one sample's input ``(T, D)``: an image where ``images`` gives its shape
    (uci-digits ``pix``: 16 rows of 15 pixels), a bar per feature for a vector (its axis is the scale: a one-row
    heatmap was a colour block without one), else a heatmap of timesteps x features."""
    from plotly.subplots import make_subplots
    names = list(inputs)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.08)
    for j, k in enumerate(names, start=1):
        x = np.asarray(inputs[k], dtype=float)
        image = k in images and x.size == images[k][0] * images[k][1]
        z = x.reshape(images[k]) if image else x.reshape(-1, x.shape[-1])
        if not image and z.shape[0] == 1:  # a vector: its features' values on an axis of their own
            fig.add_trace(go.Bar(y=z[0], marker_color="#4c78a8", showlegend=False,
                                 hovertemplate="feature %{x}: %{y:.3g}<extra></extra>"), 1, j)
            fig.update_xaxes(title_text="feature", row=1, col=j)
            continue
        fig.add_trace(go.Heatmap(z=z, colorscale="Greys" if image else "RdBu_r", showscale=False,
                                 hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"), 1, j)
        fig.update_yaxes(autorange="reversed", showticklabels=image or z.shape[0] > 1, row=1, col=j)
        if image:  # square pixels, the panel shrunk to the image (not the axis stretched past it), no zero line
            fig.update_yaxes(scaleanchor=f"x{j if j > 1 else ''}", constrain="domain", zeroline=False, row=1, col=j)
            fig.update_xaxes(constrain="domain", zeroline=False, row=1, col=j)
    fig.update_layout(title=title, height=300, margin=dict(t=70, b=30))
    return fig


def with_shapes(figure: dict, shapes: list) -> dict:
    """A figure's plotly JSON (``go.Figure.to_plotly_json()``) with its layout's shapes replaced, sharing the rest:
    a live view's figure whose only change between slider positions is a marker line, built once."""
    return {**figure, "layout": {**figure["layout"], "shapes": shapes}}
