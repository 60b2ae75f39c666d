"""Figures of the Gates & values page (VGMR, the VGMR paper): data in, ``go.Figure`` out.

Per sample and modality: heatmaps (timesteps x channels) of the input, of the
effective gate ``G_eff`` and of the refinement difference ``X~ - X`` (the VGMR paper's §4.10);
the global value as bars, the channel value as a strip; the §4.4 clean-vs-corrupted
statistics; §4.8 robustness with seed bands; a scatter of test samples to click on.
"""
from __future__ import annotations

from typing import Optional, Mapping, Sequence, Tuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import color, empty_figure, line_with_band


def sample_heatmaps(x: np.ndarray, g_eff: np.ndarray, diff: np.ndarray, name: str,
                    gate_range: Tuple[float, float], title: str = "", noised: Optional[np.ndarray] = None) -> go.Figure:
    """Three ``(T, D)`` heatmaps of one modality of one sample: input, ``G_eff``, ``X~ - X``.

    ``noised`` (``(T, D)`` bool) outlines the noised timesteps (whole rows) or entries in every panel."""
    if x.size == 0:
        return empty_figure(f"modality '{name}' has no features")
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.11,
                        subplot_titles=(f"{name}: input X", f"{name}: effective gate G_eff", f"{name}: X̃ − X"))
    span = float(np.max(np.abs(x))) or 1.0
    dspan = float(np.max(np.abs(diff))) or 1.0
    hover = "timestep %{y}<br>channel %{x}<br>%{z:.3f}<extra></extra>"
    panels = [dict(z=x, colorscale="RdBu_r", zmid=0, zmin=-span, zmax=span),
              dict(z=g_eff, colorscale="Viridis", zmin=gate_range[0], zmax=gate_range[1]),
              dict(z=diff, colorscale="RdBu_r", zmid=0, zmin=-dspan, zmax=dspan)]
    for c, kw in enumerate(panels, start=1):  # each colour bar under its panel: beside it, its tick labels ran
        lo, hi = fig.get_subplot(1, c).xaxis.domain  # into the next panel's at 1024 px
        fig.add_trace(go.Heatmap(hovertemplate=hover, colorbar=dict(
            orientation="h", x=(lo + hi) / 2, xanchor="center", len=hi - lo, thickness=8, yref="container", y=0.01,
            yanchor="bottom", ypad=0), **kw), 1, c)
    if noised is not None and noised.any():
        rows = noised.all(1) if x.shape[0] > 1 else np.zeros(x.shape[0], bool)  # whole noised timesteps
        cells = [(t, t, 0, x.shape[1] - 1) for t in np.flatnonzero(rows)] + \
                [(t, t, c, c) for t, c in zip(*np.nonzero(noised & ~rows[:, None]))]
        # one assignment, not add_shape per cell: that re-walked the layout each time (a third of the figure's cost)
        fig.layout.shapes = [dict(type="rect", x0=c0 - 0.5, x1=c1 + 0.5, y0=t0 - 0.5, y1=t1 + 0.5, xref=xref,
                                  yref=yref, line=dict(color="black", width=2), fillcolor="rgba(0,0,0,0)")
                             for xref, yref in (("x", "y"), ("x2", "y2"), ("x3", "y3")) for t0, t1, c0, c1 in cells]
    fig.update_xaxes(title_text="channel")
    fig.update_yaxes(title_text="timestep", autorange="reversed", col=1)
    fig.update_yaxes(autorange="reversed", dtick=1 if x.shape[0] <= 20 else None)  # whole timesteps only (T = 1: "0")
    fig.update_layout(title=title or None, height=290 + 6 * min(x.shape[0], 20), margin=dict(t=60, b=90, l=50, r=20))
    return fig


def value_bars(v_g: Mapping[str, float],
               title: str = "global value v_g per modality<br><sup>dotted: 0.5, where the gate's value term is 0</sup>"
               ) -> go.Figure:
    """One bar per modality, in (0, 1); 0.5 (the centre of the gate's input) marked."""
    if not v_g:
        return empty_figure("no values")
    names = list(v_g)
    fig = go.Figure(go.Bar(x=names, y=[v_g[k] for k in names], marker_color=[color(i) for i in range(len(names))],
                           text=[f"{v_g[k]:.3f}" for k in names], textposition="outside"))
    fig.add_hline(y=0.5, line_dash="dot")  # explained in the title: an annotation here collided with bar labels
    fig.update_layout(title=dict(text=title, font_size=13), yaxis_range=[0, 1.12], height=290, margin=dict(t=60, b=30))
    return fig


def channel_value_strip(v_c: Mapping[str, np.ndarray], title: str = "channel value v_c (latent channels)") -> go.Figure:
    """A ``(modalities, d)`` strip of channel values in (0, 1)."""
    if not v_c:
        return empty_figure("no channel values")
    names = list(v_c)
    z = np.stack([np.asarray(v_c[k]) for k in names])
    fig = go.Figure(go.Heatmap(z=z, y=names, zmin=0, zmax=1, colorscale="Viridis",
                               hovertemplate="%{y}, channel %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="latent channel", height=140 + 40 * len(names), margin=dict(t=40, b=50))
    return fig


def stat_label(column: str) -> str:
    """Display name of a §4.4 statistic column (e.g. ``m1_gate``): the table's ``gate`` is the mean
    raw gate ``G``, not the ``G_eff`` of the heatmaps, and says so."""
    return column.replace("channel_sd", "channel-value sd").replace("gate", "raw gate G").replace("_", " ")


def gate_stats_figure(stats: pd.DataFrame, stats_names: Sequence[str] = ("global_value", "channel_value",
                                                                          "channel_sd", "gate")) -> go.Figure:
    """§4.4 as grouped bars: clean vs corrupted, mean ± sd over test samples, one panel per statistic."""
    if stats is None or stats.empty:
        return empty_figure("no gate statistics yet")
    fig = make_subplots(rows=1, cols=len(stats_names), subplot_titles=[stat_label(s) for s in stats_names])
    for j, s in enumerate(stats_names):
        for i, cond in enumerate(("clean", "corrupted")):
            part = stats[stats["condition"] == cond]
            fig.add_trace(go.Bar(x=part["modality"], y=part[s], error_y=dict(type="data", array=part[f"{s}_sd"]),
                                 name=cond, marker_color=color(i), showlegend=j == 0, legendgroup=cond), 1, j + 1)
    fig.update_layout(barmode="group", height=320, margin=dict(t=50, b=30), legend=dict(orientation="h", y=-0.15),
                      title="clean vs corrupted (modality on the x axis is the one corrupted)")
    return fig


def robustness_bands(rob: pd.DataFrame) -> go.Figure:
    """§4.8: accuracy vs noise ratio and vs noise weight per method, mean ± sd over seeds."""
    if rob is None or rob.empty:
        return empty_figure("no robustness data yet")
    kinds = list(dict.fromkeys(rob["sweep"]))
    titles = []
    for kind in kinds:
        part = rob[rob["sweep"] == kind]
        fixed = f"weight {part['weight'].iloc[0]:g}" if kind == "ratio" else f"ratio {part['ratio'].iloc[0]:g}"
        titles.append(f"vs noise {kind} ({fixed}, all modalities)")
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=titles)
    for c, kind in enumerate(kinds):
        part = rob[rob["sweep"] == kind]
        agg = part.groupby(["method", "level"], sort=False)["accuracy"].agg(["mean", "std"]).reset_index()
        for i, (method, m) in enumerate(agg.groupby("method", sort=False)):
            line_with_band(fig, m["level"], m["mean"], m["std"], str(method), i, row=1, col=c + 1, showlegend=c == 0)
        fig.update_xaxes(title_text=f"noise {kind}", row=1, col=c + 1)
    n_seeds = rob["seed"].nunique()
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.02])
    fig.update_layout(height=360, margin=dict(t=85, b=40), title=f"mean ± sd over {n_seeds} seed(s)")
    return fig


def sample_scatter(samples: pd.DataFrame, x: str, y: str, selected: int = -1) -> go.Figure:
    """Test samples (``index`` as customdata) coloured by correctness; the selected one ringed."""
    if samples is None or samples.empty:
        return empty_figure("no test samples")
    fig = go.Figure()
    for i, (ok, label) in enumerate(((True, "correct"), (False, "wrong"))):
        part = samples[samples["correct"] == ok]
        fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="markers", name=label, customdata=part["index"],
                                 marker=dict(color=color(2 if ok else 1), size=7, opacity=0.7),
                                 hovertemplate="sample %{customdata}<br>%{x:.3f}, %{y:.3f}<extra></extra>"))
    sel = samples[samples["index"] == selected]
    if not sel.empty:
        fig.add_trace(go.Scatter(x=sel[x], y=sel[y], mode="markers", name=f"sample {selected}", hoverinfo="skip",
                                 marker=dict(size=16, symbol="circle-open", color="black", line=dict(width=2))))
    fig.update_layout(title="test samples on clean inputs<br><sup>click one to inspect it</sup>", xaxis_title=stat_label(x),
                      yaxis_title=stat_label(y), height=350, margin=dict(t=60, b=40),
                      legend=dict(orientation="h", y=-0.2), clickmode="event+select")
    return fig
