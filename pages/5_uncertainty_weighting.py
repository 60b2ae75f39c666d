"""Uncertainty weighting

Seed 001 (UDML): noise-aware per-sample modality weights, their baselines, and dual suppression.
"""
import streamlit as st

from fusionlab.data import SplitConfig, prepare
from fusionlab.diagnostics.udml import (accuracy_table, alpha_table, findings, per_sample_levels, robustness_table,
                                       sample_weights, spearman_table, study_response)
from fusionlab.figures import udml as fig
from fusionlab.refiners.udml import METHODS
from fusionlab.refiners.udml_train import level_to_intensity, max_level, train_study
from fusionlab.ui.training import live_training, train_buttons
from fusionlab.ui.udml import (KEY, UDMLRun, controls, current_run, formula_expander, load, noise_sliders,
                               preset_buttons, store_run)
from fusionlab.ui.widgets import describe_dataset, metric_change

st.title("Uncertainty weighting")
st.markdown(
    "Dynamic fusion gives each modality a **per-sample weight** from an uncertainty estimate. UDML (seed 001) "
    "learns to *predict the injected noise intensity* and divides by the model's **dependency α** on each "
    "modality, so a modality that is hard to learn is not punished twice (\"dual suppression\"). Press **Train** "
    "to train static fusion, PE (weights from the embedding variance) and UDML with and without α over several "
    "seeds; then move the test-noise sliders. Read (a) as *does the estimate rise with the noise?*, (b) as "
    "*does a noisier sample get less weight?*, and (d) as *does dynamic weighting beat static fusion?*"
)
preset_buttons()

with st.container(border=True):
    settings = controls()
    formula_expander()
    tc = settings.train_cfg
    if tc.epochs <= tc.clean_epochs + tc.weight_delay:
        st.warning(f"With {tc.epochs} epochs, E₁ = {tc.clean_epochs} and a delay of {tc.weight_delay}, the weights "
                   "stay 1 for the whole training: the dynamic methods train exactly like static fusion (their "
                   f"weights only act at evaluation). Use more than {tc.clean_epochs + tc.weight_delay} epochs.")
    if not settings.methods:
        st.info("No method picked: all four will be trained.")
    start, _ = train_buttons(KEY)

if start:
    try:
        ds = load(settings)
        st.markdown(describe_dataset(ds))
        data = prepare(ds, SplitConfig(seed=0))
        study = live_training(KEY, lambda cb: train_study(data, settings.model_cfg, settings.train_cfg,
                                                          settings.methods, settings.seeds, cb),
                              label=f"{len(settings.methods or METHODS.names())} methods × {len(settings.seeds)} seeds")
        store_run(UDMLRun(study, robustness_table(study), settings.hard))
    except ValueError as exc:
        st.error(f"Cannot train: {exc}")

run = current_run()
if run is None:
    st.info("No models yet: pick a preset (or your own settings) and press **Train**.")
    st.stop()

study = run.study
st.caption(f"Trained {', '.join(study.methods)} with seeds {study.seeds} on {study.data.name} "
           f"({', '.join(study.data.modality_names)}), {study.train_cfg.epochs} epochs; test set {len(study.data.test)} "
           f"samples. Figures use every seed; (b) shows seed {study.seeds[0]}.")


@st.fragment
def noise_view(run: UDMLRun) -> None:
    study = run.study
    st.subheader("Corrupt the test set")
    st.markdown("Each test sample gets gaussian noise of a random level between 0 and the slider's value, "
                "per modality. Everything below is re-evaluated on the frozen models at once.")
    max_levels = noise_sliders(study.data.modality_names, max_level(study.train_cfg))
    levels = per_sample_levels(len(study.data.test), max_levels, 0)
    try:
        acc = accuracy_table(study, levels)
        resp = study_response(study, levels)
    except ValueError as exc:
        st.error(f"Cannot evaluate: {exc}")
        return
    spear = spearman_table(resp)
    means = acc.groupby("method", sort=False)["current"].agg(["mean", "std"])
    cols = st.columns(len(means))
    static = means["mean"].get("static")
    for c, (meth, r) in zip(cols, means.iterrows()):
        change = {} if static is None or meth == "static" else metric_change(r["mean"], static, "static")
        c.metric(f"{meth} accuracy", f"{r['mean']:.3f}", help=f"mean over seeds, sd {r['std']:.3f}", **change)
    marks = {k: level_to_intensity(v, study.train_cfg) for k, v in max_levels.items()}
    st.plotly_chart(fig.estimator_figure(resp, spear, marks=marks), key=f"{KEY}-estimator")
    st.caption("Other modalities carry the slider noise while one modality's intensity runs from 1 to 11; "
               "dotted lines: each slider's maximum as an intensity.")
    left, right = st.columns(2)
    with left:
        weighted = [m for m in study.methods if m != "static"] or study.methods
        meth = st.selectbox("weights of", weighted, index=len(weighted) - 1, key=f"{KEY}-wmethod")
        w = sample_weights(study, meth, study.seeds[0], levels)
        st.plotly_chart(fig.weights_figure(w, f"(b) {meth}: per-sample weights vs injected noise"), key=f"{KEY}-w")
    right.plotly_chart(fig.alpha_figure(alpha_table(study)), key=f"{KEY}-alpha")
    st.plotly_chart(fig.robustness_methods_figure(run.robustness, marks=max_levels), key=f"{KEY}-rob")
    st.subheader("Does the paper's finding hold here?")
    for f in findings(spear, acc, run.hard):
        badge = (":gray-badge[cannot tell]" if f.holds is None else
                 ":green-badge[holds]" if f.holds else ":red-badge[does not hold]")  # words, not emoji: no font needed
        st.markdown(f"{badge} **{f.claim}** — {f.detail}")


noise_view(run)
