"""Figures of the fusion-complexity study (the fusion-complexity paper): data in, ``go.Figure`` out.

Accuracy vs training size (log2 axis) with ±1 sd bands, ROC curves per fusion,
robustness per noise condition with seed bands, and parameter counts.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import color, empty_figure, line_with_band


def _order(df: pd.DataFrame, fusions: Optional[Sequence[str]]) -> list:
    present = list(dict.fromkeys(df["fusion"]))
    return [f for f in (fusions or present) if f in present]


def accuracy_vs_size(scores: pd.DataFrame, metric: str = "test_accuracy", chance: Optional[float] = None,
                     fusions: Optional[Sequence[str]] = None) -> go.Figure:
    """Mean ``metric`` over seeds vs training size per fusion, ±1 sd band; log2 x-axis."""
    if scores is None or scores.empty:
        return empty_figure("no scaling results yet")
    fig = go.Figure()
    stats = scores.groupby(["fusion", "size"])[metric].agg(["mean", "std", "count"]).reset_index()
    for i, f in enumerate(_order(scores, fusions)):
        part = stats[stats["fusion"] == f].sort_values("size")
        line_with_band(fig, part["size"], part["mean"], part["std"], f, i)
    sizes = sorted(scores["size"].unique())
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color="grey", annotation_text="chance (majority class)",
                      annotation_position="bottom right", annotation_font_color="grey")  # below: bands rise above
    n = int(stats["count"].max())
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[str(s) for s in sizes], title="training samples (log2)")
    fig.update_layout(title=dict(text=f"{metric.replace('_', ' ')} vs training size",  # short: at 1024 px the
                                 subtitle=dict(text=f"mean ± 1 sd over {n} seed{'s' if n != 1 else ''}")),  # column
                      yaxis_title=metric.replace("_", " "), height=380, margin=dict(t=70))  # cut a long title
    return fig


def roc_figure(roc: pd.DataFrame, size: int, fusions: Optional[Sequence[str]] = None) -> go.Figure:
    """Mean ROC curve over seeds per fusion at training size ``size`` (band: ±1 sd of TPR)."""
    part = roc[roc["size"] == size] if roc is not None and not roc.empty else pd.DataFrame()
    if part.empty:
        return empty_figure(f"no ROC curves at n = {size}")
    fig = go.Figure()
    stats = part.groupby(["fusion", "fpr"])["tpr"].agg(["mean", "std"]).reset_index()
    for i, f in enumerate(_order(part, fusions)):
        s = stats[stats["fusion"] == f]
        line_with_band(fig, s["fpr"], s["mean"], s["std"], f, i)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"),
                             name="chance", hoverinfo="skip"))
    fig.update_layout(title=dict(text="ROC on the test set",
                                 subtitle=dict(text=f"models trained on n = {size}; mean ± 1 sd over seeds")),
                      xaxis_title="false-positive rate", yaxis_title="true-positive rate", height=380,
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], margin=dict(t=70))
    return fig


def robustness_grid(robustness: pd.DataFrame, size: Optional[int] = None,
                    fusions: Optional[Sequence[str]] = None) -> go.Figure:
    """Accuracy vs noise level, one panel per condition (each modality alone, all), one line per fusion."""
    if robustness is None or robustness.empty:
        return empty_figure("no robustness results")
    conditions = list(dict.fromkeys(robustness["condition"]))
    fig = make_subplots(rows=1, cols=len(conditions), shared_yaxes=True,
                        subplot_titles=[f"noise on {c}" if c != "all" else "noise on all" for c in conditions])
    stats = robustness.groupby(["condition", "fusion", "level"])["accuracy"].agg(["mean", "std"]).reset_index()
    for j, cond in enumerate(conditions, start=1):
        for i, f in enumerate(_order(robustness, fusions)):
            s = stats[(stats["condition"] == cond) & (stats["fusion"] == f)]
            line_with_band(fig, s["level"], s["mean"], s["std"], f, i, row=1, col=j, showlegend=j == 1)
    noise = robustness["noise"].iloc[0]
    fig.update_xaxes(title_text=f"{noise} level α")
    fig.update_yaxes(title_text="test accuracy", row=1, col=1)
    at = f" (models trained on n = {size})" if size else ""
    fig.update_layout(title=dict(text="robustness: accuracy under noise",
                                 subtitle=dict(text=f"mean ± 1 sd over seeds{at}")), height=400, margin=dict(t=110))
    return fig


def params_bars(params: pd.DataFrame, fusions: Optional[Sequence[str]] = None) -> go.Figure:
    """Trainable parameters per fusion (per seed's model)."""
    if params is None or params.empty:
        return empty_figure("no parameter counts")
    order = _order(params, fusions)
    p = params.set_index("fusion").loc[order, "params"]
    fig = go.Figure(go.Bar(x=order, y=p.values, marker_color=[color(i) for i in range(len(order))],
                           text=[f"{v:,}" for v in p.values], textposition="outside"))
    fig.update_layout(title=dict(text="parameters", subtitle=dict(text="trainable, per model")), height=320,
                      yaxis_range=[0, float(np.max(p.values)) * 1.2], margin=dict(t=70))
    return fig


def emap_figure(emap: pd.DataFrame, fusions: Optional[Sequence[str]] = None) -> go.Figure:
    """Left: each fusion's test accuracy (solid) and its EMAP's, the best additive copy (dashed), vs training size;
    right: the interaction share (0: additive). Mean ± 1 sd over seeds."""
    if emap is None or emap.empty:
        return empty_figure("no attribution results: tick 'which modality did each model use?' and run the study")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42], horizontal_spacing=0.17,
                        subplot_titles=["model vs EMAP (dashed)", "interaction share"])
    stats = emap.groupby(["fusion", "size"])[["accuracy", "emap_accuracy", "interaction_share"]].agg(
        ["mean", "std"]).reset_index()
    stats.columns = ["_".join(c).strip("_") for c in stats.columns]
    for i, f in enumerate(_order(emap, fusions)):
        s = stats[stats["fusion"] == f].sort_values("size")
        line_with_band(fig, s["size"], s["accuracy_mean"], s["accuracy_std"], f, i, row=1, col=1)
        line_with_band(fig, s["size"], s["emap_accuracy_mean"], s["emap_accuracy_std"], f"{f} EMAP", i, row=1, col=1,
                       dash="dash", showlegend=False)
        line_with_band(fig, s["size"], s["interaction_share_mean"], s["interaction_share_std"], f, i, row=1, col=2,
                       showlegend=False)
    sizes = sorted(emap["size"].unique())
    fig.update_xaxes(type="log", tickvals=sizes, ticktext=[str(s) for s in sizes], title_text="training samples (log2)")
    fig.update_yaxes(title_text="test accuracy", row=1, col=1)
    fig.update_yaxes(title_text="share of |Möbius| terms", range=[-0.02, 1.02], row=1, col=2)
    fig.update_layout(title=dict(text="does the model combine the modalities?",
                                 subtitle=dict(text="a gap between a solid line and its dashed copy: accuracy no sum "
                                                    "of per-modality parts reaches")), height=430, margin=dict(t=110),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0))
    return fig
