"""Figures of the Reliability permutation page (the reliability paper): data in, ``go.Figure`` out.

Positive controls (scores named ``control-*``) are labelled as controls in every title,
legend and hover text.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..text import signed
from .common import color, empty_figure


def label(score: str) -> str:
    """A score's display name; controls say so."""
    return f"{score} (POSITIVE CONTROL)" if str(score).startswith("control-") else str(score)


def permutation_histograms(null: pd.DataFrame, table: pd.DataFrame, score: str, cols: int = 3) -> go.Figure:
    """Per rule: histogram of the metric under K permutations of ``Q``, the clean value marked."""
    part = null[null["score"] == score] if null is not None and not null.empty else pd.DataFrame()
    if part.empty:
        return empty_figure(f"no permutation results for '{score}'")
    return null_histograms(part, table[table["score"] == score], "rule",
                           f"{label(score)}: balanced accuracy with permuted Q (dashed line = clean Q)", "broken-Q", cols)


def null_histograms(part: pd.DataFrame, stats: pd.DataFrame, panel: str, title: str, what: str,
                    cols: int = 3) -> go.Figure:
    """One panel per value of ``panel``: the histogram of the K permuted balanced accuracies (``part``,
    one row per permutation), the clean value as a dashed line with its number, Δ and p in the title."""
    panels = list(dict.fromkeys(part[panel]))
    stats = stats.set_index(panel)
    rows = math.ceil(len(panels) / cols)

    def flat(r) -> bool:  # every permutation gives the clean value: the rule ignores Q, or Q is the same on every row
        v = part.loc[part[panel] == r, "balanced_accuracy"]
        clean = float(part.loc[part[panel] == r, "metric_clean"].iloc[0])
        return max(v.max(), clean) - min(v.min(), clean) < 1e-3

    def clean_of(r) -> float:
        return float(part.loc[part[panel] == r, "metric_clean"].iloc[0])

    # Δ, p and the clean value in the title (a label on the panel sat on the bars), each part on its own line
    # (panels are narrow at 1024 px)
    titles = [f"{r}: Δ={signed(stats.loc[r, 'delta'])}, p={stats.loc[r, 'p_value']:.3f}<br>clean {clean_of(r):.3f} "
              "(dashed)" + ("<br>(no permutation changes it)" if flat(r) else "") for r in panels]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles)
    for i, r in enumerate(panels):
        d = part[part[panel] == r]
        rc = dict(row=i // cols + 1, col=i % cols + 1)
        fig.add_trace(go.Histogram(x=d["balanced_accuracy"], nbinsx=30, marker_color=color(i), opacity=0.75,
                                   name=str(r), showlegend=False,
                                   hovertemplate=what + " balanced accuracy %{x}<br>%{y} permutations<extra></extra>"),
                      **rc)
        clean = float(d["metric_clean"].iloc[0])
        fig.add_vline(x=clean, line=dict(color="black", width=2, dash="dash"), **rc)
        if flat(r):  # every permutation gives the same value: one thin bar, not a block over [0, 1]
            lo, hi = min(d["balanced_accuracy"].min(), clean), max(d["balanced_accuracy"].max(), clean)
            fig.update_xaxes(range=[lo - 0.01, hi + 0.01], **rc)
            fig.update_traces(xbins=dict(start=lo - 0.0005, end=hi + 0.0005, size=0.001), selector=dict(name=str(r)))
    fig.update_layout(title=title, height=260 * rows + 80, margin=dict(t=125 if any(map(flat, panels)) else 105),
                      bargap=0.05)
    fig.update_annotations(font_size=12)  # the subplot titles
    fig.update_xaxes(title_text="balanced accuracy", tickformat=".3f")
    return fig


def q_vs_correct(df: pd.DataFrame) -> go.Figure:
    """Box per modality of ``Q`` on test rows, split by whether that modality's expert was right."""
    if df is None or df.empty:
        return empty_figure("no quality scores to show")
    fig = go.Figure()
    # a control's Q is one value per group (1 where the expert was right): each box is then a flat line, and
    # what is left to read is how many rows each line holds: the modality's axis label says it
    single = bool((df.groupby(["modality", "correct"])["q"].agg(lambda q: q.max() - q.min()) < 1e-9).all())
    for i, (ok, name) in enumerate([(True, "expert correct"), (False, "expert wrong")]):
        d = df[df["correct"] == ok]
        fig.add_trace(go.Box(x=d["modality"], y=d["q"], name=name, marker_color=color(2 if ok else 1),
                             boxpoints=False if single else "outliers"))
    score = df["score"].iloc[0]
    note = "Q against expert correctness (test rows)"
    if single:
        mods = list(dict.fromkeys(df["modality"]))
        counts = df.groupby(["modality", "correct"]).size()
        fig.update_xaxes(tickmode="array", tickvals=mods,
                         ticktext=[f"{m}<br>{counts.get((m, True), 0)} right<br>{counts.get((m, False), 0)} wrong"
                                   for m in mods])
        note += "<br>Q is one value per group, so its box is a line; its rows are counted under the axis"
    fig.update_xaxes(tickangle=0)
    height = 420 if single else 360
    fig.update_layout(title=dict(text=f"{label(score)}<br><sup>{note}</sup>", font_size=14, y=1 - 30 / height,
                                 yref="container", yanchor="top"), boxmode="group",
                      yaxis_title="Q (scaled to [0, 1])", xaxis_title="modality", yaxis_range=[-0.05, 1.05],
                      height=height, margin=dict(t=125 if single else 100),
                      legend=dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom"))
    return fig


def rho_delta_summary(table: pd.DataFrame, alpha: float = 0.05) -> go.Figure:
    """ρ (x) against Δ_perm (y) per (score, rule); filled markers where p ≤ alpha; error bars if ``delta_sd``."""
    if table is None or table.empty:
        return empty_figure("no results")
    fig = go.Figure()
    for i, (rule, d) in enumerate(table.groupby("rule", sort=False)):
        sig = d["p_value"] <= alpha
        err = dict(type="data", array=d["delta_sd"], visible=True) if "delta_sd" in d else None
        fig.add_trace(go.Scatter(
            x=d["rho"], y=d["delta"], mode="markers", name=rule, error_y=err,
            marker=dict(size=12, color=color(i), symbol=np.where(sig, "circle", "circle-open"), line=dict(width=2)),
            text=[label(s) for s in d["score"]], customdata=np.stack([d["p_value"], d["oracle_headroom"]], 1),
            hovertemplate="%{text}<br>ρ=%{x:.3f}<br>Δ_perm=%{y:+.4f}<br>p=%{customdata[0]:.3f}"
                          "<br>oracle headroom=%{customdata[1]:.3f}<extra>" + rule + "</extra>"))
    fig.add_hline(y=0, line=dict(color="grey", dash="dot"))
    fig.update_layout(title=f"Δ_perm against ρ<br><sup>ρ = mean corr(Q, expert correct); filled: p ≤ {alpha}</sup>",
                      xaxis_title="ρ", yaxis_title="Δ_perm (balanced accuracy)", height=380, margin=dict(t=60))
    return fig


def delta_bars(summary: pd.DataFrame) -> go.Figure:
    """Mean Δ_perm ± sd per score and rule over repeated runs."""
    if summary is None or summary.empty:
        return empty_figure("no repeated runs yet")
    fig = go.Figure()
    for i, (rule, d) in enumerate(summary.groupby("rule", sort=False)):
        fig.add_trace(go.Bar(x=[label(s) for s in d["score"]], y=d["delta"], name=rule, marker_color=color(i),
                             error_y=dict(type="data", array=d.get("delta_sd"), visible="delta_sd" in d)))
    runs = int(summary["runs"].iloc[0]) if "runs" in summary else 1
    fig.update_layout(title=f"Δ_perm, mean ± sd over {runs} run{'s' if runs != 1 else ''} (seeds × folds)", barmode="group",
                      yaxis_title="Δ_perm (balanced accuracy)", height=360, margin=dict(t=50))
    return fig


def signal_histograms(null: pd.DataFrame, table: pd.DataFrame, signal: str, cols: int = 4) -> go.Figure:
    """Per modality (and ``all``): balanced accuracy with ``signal`` permuted across test rows (docs/methods.md, signal permutation test)."""
    if null is None or null.empty or signal not in set(null["signal"]):
        return empty_figure(f"no signal-test results for '{signal}'")
    part, stats = null[null["signal"] == signal], table[table["signal"] == signal]
    if "condition" in part:  # one condition per result on the pages; the first otherwise
        first = part["condition"].iloc[0]
        part, stats = part[part["condition"] == first], stats[stats["condition"] == first]
    return null_histograms(part, stats, "modality",
                           f"{signal} swapped between test samples: balanced accuracy (dashed line = the real {signal})",
                           f"{signal}-permuted", cols=min(cols, part["modality"].nunique()))
