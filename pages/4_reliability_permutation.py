"""Reliability permutation

Does a per-sample quality score change any fused decision? (the reliability paper)
"""
import pandas as pd
import streamlit as st

from fusionlab.papers import cite
from fusionlab.text import plus_minus
from fusionlab.ui.methods import methods_link

from fusionlab.experiments import permutation as study
from fusionlab.figures import permutation as figs
from fusionlab.ui.findings import show_findings
from fusionlab.ui.lessons import lesson_panel
from fusionlab.ui.forms import load_or_error
from fusionlab.experts import ExpertConfig
from fusionlab.noise import RowCorruption
from fusionlab.ui.training import ask_scroll, live_run, scroll_to_result
from fusionlab.ui.links import link_box, open_link
from fusionlab.ui.glossary import term
from fusionlab.ui.permutation import (KEY, URL_PATH, Base, bundle_controls, link_params, control_controls, corruption_controls, current_base, dataset_controls,
                                      diagnose, expert_controls, outputs_controls, permutation_controls, preset_buttons,
                                      read_outputs, set_base, source_control, study_config)
from fusionlab.ui.training import train_buttons
from fusionlab.ui.widgets import describe_dataset, look_for
from fusionlab.ui.restart import lost_notice, mark
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py
TABLE_COLUMNS = {  # short headers so the table fits the page; the full meaning on hover
    "metric_clean": ("BA clean", "balanced accuracy of the fused decision with the real Q"),
    "metric_broken_mean": ("BA broken", "mean balanced accuracy over the K permutations of Q"),
    "delta": ("Δ_perm", "clean minus mean broken balanced accuracy"),
    "p_value": ("p", "(1 + #{broken >= clean}) / (K + 1)"),
    "f1_clean": ("F1 clean", "macro-F1 with the real Q"),
    "f1_broken_mean": ("F1 broken", "mean macro-F1 over the K permutations of Q"),
    "accuracy": ("accuracy", "plain accuracy of the fused decision with the real Q"),
    "f1_delta": ("F1 Δ", "clean minus mean broken macro-F1"),
    "f1_p_value": ("F1 p", "permutation p-value of macro-F1"),
    "oracle_headroom": ("headroom", "balanced accuracy of an oracle that picks a correct expert if any exists, minus "
                                    "the rule's (the metric of Δ_perm)"),
    "rho": ("ρ", "mean over modalities of corr(Q_m, expert m correct)"),
    "competitiveness": ("compet.", "top-1 minus top-2 true-class confidence among the experts"),
}

st.title("Reliability permutation")
panel = lesson_panel(KEY)  # a lesson step's question, while one is open
lost_notice(KEY, "set of experts", has_run=current_base() is not None)  # a run lost with a reload or a restart
st.markdown(
    f"Frozen per-modality **{term('expert', 'experts')}** are fused by {term('rules', 'rules')} that may use a "
    f"per-sample **{term('q', 'quality score')}** `Q`. To test whether `Q` changes any decision, `Q` is **permuted "
    f"across test rows** {term('k', '`K`')} times while inputs and experts stay fixed: if the fused "
    f"{term('ba', 'balanced accuracy')} barely moves (**{term('delta_perm', 'Δ_perm')} ≈ 0**, **{term('p', 'p')}** "
    "large), the rule "
    "does not use the score, however much an oracle could gain. Read the table per rule, the histograms for the "
    "spread of broken-`Q` accuracy around the clean value, and the box plot for whether `Q` tells right from wrong."
)
with st.expander("Formulas and source"):
    st.latex(r"\text{noq: } \bar p = \tfrac1M \sum_m p_m \quad \text{weighted: } w_m = Q_m / \textstyle\sum_k Q_k"
             r"\quad \text{softmax: } w = \mathrm{softmax}(Q/\tau),\ \tau = 0.1")
    st.latex(r"\text{route: } \arg\max_m Q_m \quad \text{moe: } \ell = \textstyle\sum_m "
             r"\mathrm{softmax}(W[\mathbf{1}; Q] + b)_m \log p_m")
    st.latex(r"\Delta_{perm} = \mathrm{BA}(Q) - \tfrac1K \textstyle\sum_k \mathrm{BA}(Q^{\pi_k}),\qquad "
             r"p = \frac{1 + \#\{k : \mathrm{BA}(Q^{\pi_k}) \ge \mathrm{BA}(Q)\}}{K + 1}")
    st.latex(r"\rho = \tfrac1M \textstyle\sum_m \mathrm{corr}\big(Q_m, \mathbf{1}[\text{expert } m \text{ correct}]\big),"
             r"\quad \text{headroom} = \mathrm{BA}(\text{oracle: any expert correct}) - \mathrm{BA}(\text{fused})")
    st.markdown(
        f"Source: {cite('reliability')}; details in {methods_link('reliability-permutation-test')} (Methods). "
        "Real scores (`pca-recon`, `max-prob`, "
        "`energy`, `correctness`) never see a test label and are scaled by train quantiles (q05→0, q95→1). "
        "The two **positive controls** use test correctness on purpose, to show what a score that matters looks like.")

open_link(KEY, link_params, study.DEFAULT.data.name)  # a link's settings, before the widgets are drawn
with st.container(border=True):
    kind = source_control()
    if kind == "features":
        data_cfg, source = dataset_controls()
        ds = load_or_error(data_cfg, source)
        if ds is not None:
            st.markdown(describe_dataset(ds))
        expert, seed = expert_controls()
        with st.container(horizontal=True, vertical_alignment="center"):
            start, _ = train_buttons(KEY, "Fit experts")
            link_box(KEY, URL_PATH, link_params(st.session_state[f"{KEY}-dataset"]))
        if start and ds is not None:
            set_base(Base(ds, data_cfg, expert, seed))
            ask_scroll(KEY, panel.anchor("what-the-test-found"))  # the findings, at the top of the screen
    else:
        upload, outputs_cfg, seed = outputs_controls()
        if st.button("Load outputs", type="primary", key=f"{KEY}-load"):
            if upload is None:
                st.warning("Choose a file first.")
            else:
                outputs = read_outputs(outputs_cfg, upload.getvalue())
                # a rejected file clears the previous run: the page never shows results of another file under it
                set_base(None if outputs is None else Base(None, None, ExpertConfig(kind="yours"), seed, outputs,
                                                           outputs_cfg))

st.session_state.pop(f"{KEY}-reopened", None)  # this is a full run: the controls show the reopened bundle
base = current_base()
if base is not None and (base.outputs is not None) != (kind == "outputs"):
    base = None  # the other source's run stays stored (switching back shows it) but never under this choice
if base is None:
    bundle_controls(None, None, None)  # reopen a saved run (a downloaded one's box is in the view below)
    st.info("Nothing to test yet: press **Fit experts** (or, with your own outputs, **Load outputs**) above.")
    st.stop()
mark(KEY)
if base.outputs is not None:
    st.markdown(base.outputs.describe())

st.markdown("**Presets** (set the controls below in one click):")
preset_buttons(base.names, features=base.outputs is None)


@st.fragment
def diagnostic_view(base: Base) -> None:
    if st.session_state.pop(f"{KEY}-reopened", False):
        st.rerun(scope="app")  # a bundle reopened from this view: its dataset and expert controls are outside it
    names = base.names
    st.subheader("Controls")
    control, qcfg = control_controls()
    corruption = corruption_controls(names, base.seed) if base.outputs is None else RowCorruption()
    pcfg = permutation_controls()
    try:
        cfg = study_config(base, control, qcfg, corruption, pcfg)
        st.session_state[f"{KEY}-config"] = cfg  # what the controls describe (tests compare it with the CLI's)
        out = diagnose(base, cfg)
    except ValueError as exc:
        st.error(f"This setting cannot run: {exc}")
        return
    st.session_state[f"{KEY}-result"] = out
    bank, result, qc = out.artifacts.bank, out.artifacts.result, out.tables["q_correct"]
    here = bank.mask("test")
    acc = ", ".join(f"{k} {bank.correct('test')[here[:, j], j].mean():.3f}" for j, k in enumerate(bank.names))
    missing = ", ".join(f"{k} on {1 - here[:, j].mean():.1%} of them" for j, k in enumerate(bank.names)
                        if not here[:, j].all())
    runs = out.config.get("runs", 1)
    st.caption(f"Experts ({base.expert.kind}) test accuracy where present: {acc}; {len(bank.y['test'])} test rows"
               + (f" (missing: {missing})" if missing else "") + "; "
               f"K = {pcfg.permutations} {'joint' if pcfg.joint else 'independent per-modality'} permutations."
               + (f" Corrupted ({corruption.noise}): each '{corruption.modality}' row with probability "
                  f"{corruption.fraction:.0%} (drawn per row, so the share above can differ by a few rows)."
                  if corruption.modality else "")
               + (f" Your outputs hold {runs} train/test runs: the table is the mean over them (median p), the "
                  "histograms and box plot show the first." if runs > 1 else ""))
    table = out.tables["permutation"] if runs > 1 else result.table
    st.subheader("What the test found", anchor="what-the-test-found")
    show_findings(out.findings)
    panel.says(out)
    scroll_to_result(KEY)
    shown = table.assign(score=[figs.label(s) for s in table["score"]])
    shown[SHOWN] = shown[SHOWN].astype(float).round(3) + 0.0  # + 0.0: a rounded -0.0 shows as 0.000, not -0.000
    wide = st.toggle("also macro-F1 and competitiveness", key=f"{KEY}-wide",
                     help="the balanced-accuracy columns decide the findings; these add macro-F1's Δ and p and the "
                          "experts' competitiveness (12 columns do not fit a 1024 px screen)")
    st.dataframe(shown[["score", "rule", *[c for c in SHOWN if wide or c not in EXTRA]]],
                 hide_index=True, key=f"{KEY}-table", width="stretch",
                 column_config={c: st.column_config.NumberColumn(label, format="%.3f", help=tip)
                                for c, (label, tip) in TABLE_COLUMNS.items()})
    options = list(dict.fromkeys(table["score"]))
    # keyed by the options: when a control joins the table, the picker moves to it (the last option)
    pick = st.selectbox("score to inspect", options, index=len(options) - 1, format_func=figs.label,
                        key=f"{KEY}-inspect-{'-'.join(options)}")
    st.plotly_chart(figs.permutation_histograms(result.null, table, pick), key=f"{KEY}-hist")
    look_for("a dashed clean line to the right of the whole histogram: the rule needs this Q; inside it: "
             "permuting Q changes nothing.")
    left, right = st.columns(2)
    left.plotly_chart(figs.q_vs_correct(qc[qc["score"] == pick]), key=f"{KEY}-qbox")
    right.plotly_chart(figs.rho_delta_summary(table), key=f"{KEY}-summary")
    look_for("higher boxes for 'correct' than for 'wrong' mean Q tells right from wrong.", left)
    look_for("a score far right (ρ high) with Δ_perm ≈ 0 tracks correctness but no rule uses it.", right)
    if base.outputs is None:  # your outputs fix their own runs (split, folds, or the layout's seeds x folds)
        repeat_view(base, control, qcfg, corruption, pcfg)
    bundle_controls(out, cfg, base)


SHOWN = ["metric_clean", "metric_broken_mean", "delta", "p_value", "f1_clean", "f1_delta", "f1_p_value",
         "oracle_headroom", "rho", "competitiveness"]  # the main table's metric columns, in its order
EXTRA = ("f1_clean", "f1_delta", "f1_p_value", "competitiveness")  # shown on request: all did not fit 1024 px
REPEATED = [c for c in SHOWN if c not in ("metric_clean", "metric_broken_mean", "f1_clean")]  # the effects, not
# the levels they are differences of: with "mean ± sd" cells, all ten columns did not fit the page


def repeat_table(summary):
    """The repeat summary's effect columns, each cell ``mean ± sd`` over the runs (one column per
    metric instead of a mean and an sd column, so the table fits the page; the CLI's CSV keeps
    every number). Text cells sort as text, which is why the rows keep the run order."""
    shown = pd.DataFrame({"score": [figs.label(s) for s in summary["score"]], "rule": summary["rule"]})
    config = {}
    for c in REPEATED:
        shown[c] = ["—" if pd.isna(m) else plus_minus(m, sd) for m, sd in zip(summary[c], summary[f"{c}_sd"])]
        label, tip = TABLE_COLUMNS[c]
        what = "median ± sd" if c.endswith("p_value") else "mean ± sd"  # a mean of p-values is not a p-value
        config[c] = st.column_config.TextColumn(label, help=f"{what} over runs of: {tip}")
    shown["runs"] = summary["runs"]
    return shown, config


def repeat_view(base, control, qcfg, corruption, pcfg) -> None:
    with st.expander("Repeat over seeds × stratified folds (mean ± sd)"):
        c1, c2, c3 = st.columns(3)
        seeds = int(c1.number_input("seeds", 1, 5, 2, key=f"{KEY}-rep-seeds"))
        folds = int(c2.number_input("stratified folds (0 = one split per seed)", 0, 10, 3, key=f"{KEY}-rep-folds"))
        runs = seeds * max(folds, 1)
        if c3.button(f"Repeat ({runs} runs)", key=f"{KEY}-rep-go",
                     help="each run fits the experts on its own split and permutes again; the progress bar says how "
                          "many are done and, after the first, about how long the rest will take"):
            try:
                cfg = study_config(base, control, qcfg, corruption, pcfg, repeats=seeds, folds=folds)
                st.session_state[f"{KEY}-repeated"] = live_run(
                    KEY, lambda progress: study.run(cfg, progress=progress, dataset=base.dataset),
                    f"{runs} runs ({seeds} seed(s) × {max(folds, 1)} fold(s))").tables["permutation"]
            except ValueError as exc:
                st.error(f"Cannot repeat: {exc}")
        summary = st.session_state.get(f"{KEY}-repeated")
        if summary is not None:
            st.plotly_chart(figs.delta_bars(summary), key=f"{KEY}-rep-bars")
            look_for("an effect whose ± sd bar crosses 0 does not survive repetition.")
            shown, config = repeat_table(summary)
            st.dataframe(shown, hide_index=True, key=f"{KEY}-rep-table", width="stretch", column_config=config)


diagnostic_view(base)
