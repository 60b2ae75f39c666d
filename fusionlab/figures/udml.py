"""Figures of the Uncertainty-weighting page (the UDML paper, UDML): data in, ``go.Figure`` out.

(a) ``estimator_figure``: the noise estimate against the injected intensity, per modality;
(b) ``weights_figure``: per-sample weights against the true injected noise;
(c) ``alpha_figure``: the dependency alpha per modality;
(d) ``robustness_methods_figure``: accuracy vs noise level per method, mean ± sd over seeds.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import color, empty_figure, line_with_band

# two lines each: three or four panels share a row, and at 1024 px one-line titles ran into each other
LABELS = {"udml": "UDML:<br>predicted ŝ", "udml_no_alpha": "UDML w/o α:<br>predicted ŝ",
          "pe": "PE:<br>mean σ²"}
METHOD_NAMES = {"static": "static", "pe": "PE", "udml_no_alpha": "UDML w/o α", "udml": "UDML"}


def vline(x: float, col: int, colour: str) -> dict:
    """A dotted vertical line over the full height of subplot ``col`` (of one row), as a layout shape: the
    live view draws these figures for every slider position, and ``add_vline`` cost 11 ms a line."""
    axis = "" if col == 1 else str(col)
    return dict(type="line", x0=x, x1=x, y0=0, y1=1, xref=f"x{axis}", yref=f"y{axis} domain",
                line=dict(color=colour, dash="dot"))


def estimator_figure(response: pd.DataFrame, spear: pd.DataFrame, methods: Sequence[str] = ("udml", "pe"),
                     marks: Optional[Mapping[str, float]] = None) -> go.Figure:
    """One panel per method: mean ± sd (over test samples) of the estimate at each injected
    intensity, one line per modality, Spearman ρ (mean over seeds) in the legend; with ``oracle``
    rows in ``response``, a last panel draws the ceiling (the best per-sample ρ under this noise).
    ``marks``: the current slider intensity per modality, drawn as dotted lines."""
    have = set(response["method"].unique()) if response is not None and "method" in response else set()
    methods = [m for m in methods if m in have and m != "oracle"]
    if response is None or response.empty or not methods:
        return empty_figure("no estimator to show: train UDML and PE first")
    if "oracle" in have:  # the ceiling, in a panel of its own (its scale is the input's energy)
        methods.append("oracle")
    titles = [LABELS.get(m, m) if m != "oracle" else "ceiling:<br>oracle ‖x‖²"
              for m in methods]
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=titles)
    mods = list(response["modality"].unique())  # in order of appearance (iterating 60 k strings cost 30 ms)
    for c, meth in enumerate(methods, start=1):
        part = response[response["method"] == meth]
        stats = part.groupby(["modality", "injected"], sort=False)["predicted"].agg(["mean", "std"]).reset_index()
        for i, mod in enumerate(mods):
            s = stats[stats["modality"] == mod]
            rho = spear.loc[(spear["method"] == meth) & (spear["modality"] == mod), "spearman"].mean()
            line_with_band(fig, s["injected"], s["mean"], s["std"], f"{meth} {mod} (ρ={rho:.2f})", i, row=1, col=c,
                           lo=0.0, hi=None)  # variance estimates: never negative, unbounded above
    fig.layout.shapes = [vline(marks[mod], c, color(i)) for c in range(1, len(methods) + 1)
                         for i, mod in enumerate(mods) if marks and mod in marks]
    fig.update_xaxes(title_text="intensity t", title_standoff=4)  # short: three of them share a row at 1024 px
    fig.update_yaxes(title_text="estimate", col=1)
    fig.update_annotations(font_size=12)
    # the title at the top of its margin, the two-line panel titles under it; the legend (three rows at 1024 px)
    # below the axis titles
    fig.update_layout(height=450, margin=dict(t=120), legend=dict(orientation="h", y=-0.3, yanchor="top"),
                      title=dict(text="(a) does the estimate rise with the injected noise?", y=0.98, yref="container",
                                 yanchor="top", subtitle=dict(text="t = 1 is clean; ρ: Spearman, per sample")))
    return fig


def weights_figure(weights: pd.DataFrame, title: str = "(b) per-sample weights vs injected noise") -> go.Figure:
    """Scatter of each sample's weight against its modality's injected level, coloured by modality."""
    if weights is None or weights.empty:
        return empty_figure("no weights to show")
    fig = go.Figure()
    for i, (mod, part) in enumerate(weights.groupby("modality", sort=False)):
        fig.add_trace(go.Scatter(x=part["injected"], y=part["weight"], mode="markers", name=str(mod),
                                 marker=dict(color=color(i), size=5, opacity=0.55),
                                 hovertemplate=f"{mod}<br>noise %{{x:.2f}} sd<br>weight %{{y:.2f}}<extra></extra>"))
    # the equal share as a legend entry: a label on the line sat on the points
    lo, hi = float(weights["injected"].min()), float(weights["injected"].max())
    fig.add_trace(go.Scatter(x=[lo, hi], y=[1.0, 1.0], mode="lines", name="equal share (1)", hoverinfo="skip",
                             line=dict(color="grey", dash="dash")))
    fig.update_layout(title=dict(text=title, subtitle=dict(text="a sample's weights sum to M, the number of "
                                                                 "modalities")),
                      xaxis_title="injected gaussian noise (train sd)", yaxis_title="weight w_m", height=400,
                      margin=dict(t=80))
    return fig


def unimodal_figure(uni: pd.DataFrame) -> go.Figure:
    """One panel per method: each modality's unimodal validation accuracy per epoch, mean ± sd over seeds.
    A modality whose curve rises late is the one the model learns slowly (the authors log these)."""
    if uni is None or uni.empty:
        return empty_figure("no unimodal accuracies recorded")
    methods = list(dict.fromkeys(uni["method"]))
    fig = make_subplots(rows=1, cols=len(methods), subplot_titles=[METHOD_NAMES.get(m, m) for m in methods],
                        shared_yaxes=True)
    for c, meth in enumerate(methods, start=1):
        part = uni[uni["method"] == meth]
        for i, (mod, g) in enumerate(part.groupby("modality", sort=False)):
            s = g.groupby("epoch")["accuracy"].agg(["mean", "std"]).reset_index()
            line_with_band(fig, s["epoch"], s["mean"], s["std"].fillna(0.0), f"{mod}", i, row=1, col=c,
                           lo=0.0, hi=1.0, showlegend=c == 1)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="unimodal validation accuracy", col=1, range=[0, 1.02])
    fig.update_layout(height=350, margin=dict(t=80), legend=dict(orientation="h", y=-0.3),  # the title clears the panels
                      title="unimodal accuracy per epoch: which modality does the model learn slowly?")
    return fig


def alpha_figure(alpha: pd.DataFrame) -> go.Figure:
    """Bars of the dependency α per modality, grouped by method, with the sd over seeds."""
    if alpha is None or alpha.empty:
        return empty_figure("no dependency α measured yet")
    stats = alpha.groupby(["method", "modality"], sort=False)["alpha"].agg(["mean", "std"]).reset_index()
    fig = go.Figure()
    for i, (mod, part) in enumerate(stats.groupby("modality", sort=False)):
        fig.add_trace(go.Bar(x=part["method"], y=part["mean"], name=str(mod), marker_color=color(i),
                             error_y=dict(type="data", array=part["std"].fillna(0).to_numpy())))
    fig.update_layout(title="(c) dependency α per modality", barmode="group",
                      yaxis_title="α (at the end of training)", height=340, margin=dict(t=50))
    return fig


def robustness_methods_figure(rob: pd.DataFrame, marks: Optional[Mapping[str, float]] = None) -> go.Figure:
    """One panel per noise condition (each modality alone, all); one line per method with a
    ±1 sd band over seeds. ``marks``: current slider level per modality (dotted line)."""
    if rob is None or rob.empty:
        return empty_figure("no robustness data")
    conds = list(dict.fromkeys(rob["condition"]))
    fig = make_subplots(rows=1, cols=len(conds), subplot_titles=[f"noise on {c}" for c in conds], shared_yaxes=True)
    for c, cond in enumerate(conds, start=1):
        part = rob[rob["condition"] == cond]
        stats = part.groupby(["method", "level"], sort=False)["accuracy"].agg(["mean", "std"]).reset_index()
        for i, (meth, s) in enumerate(stats.groupby("method", sort=False)):
            line_with_band(fig, s["level"], s["mean"], s["std"], str(meth), i, row=1, col=c, showlegend=c == 1)
    fig.layout.shapes = robustness_marks(rob, marks)
    fig.update_xaxes(title_text="level (sd)")
    fig.update_yaxes(title_text="test accuracy", col=1)
    fig.update_annotations(font_size=12)
    fig.update_layout(title=dict(text="(d) accuracy vs noise level",
                                 subtitle=dict(text="gaussian level in train sd; mean ± sd over seeds")),
                      height=420, margin=dict(t=110), legend=dict(orientation="h", y=-0.25))
    return fig


def robustness_marks(rob: pd.DataFrame, marks: Optional[Mapping[str, float]]) -> list:
    """The dotted lines of ``robustness_methods_figure`` at the sliders' levels: all that changes with them (a live
    view draws the figure once and sets these per position: ``figures.common.with_shapes``)."""
    conds = list(rob["condition"].unique()) if rob is not None and not rob.empty else []
    return [vline(marks[cond], c, "grey") for c, cond in enumerate(conds, start=1) if marks and cond in marks]
