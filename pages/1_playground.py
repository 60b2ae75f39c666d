"""Playground

Train a fusion model live, then corrupt each modality with a slider.
"""
import numpy as np
import streamlit as st
import torch
from sklearn.metrics import confusion_matrix

from fusionlab import figures
from fusionlab.data.loaders import UCI_IMAGES
from fusionlab.diagnostics import modality_contributions, noisy_predictions, robustness_curve
from fusionlab.experiments import playground as study
from fusionlab.models import count_parameters
from fusionlab.noise import default_levels
from fusionlab.train import metrics_from_probs
from fusionlab.diagnostics.signals import declared_signals
from fusionlab.ui.glossary import term
from fusionlab.ui.links import link_box, open_link
from fusionlab.ui.playground import (KEY, URL_PATH, PlaygroundRun, bundle_controls, current_marks, current_noise,
                                     current_run, formula_expander, link_params, noise_controls, study_controls)
from fusionlab.ui.signals import input_section, signal_section
from fusionlab.ui.training import live_run, train_buttons
from fusionlab.ui.widgets import look_for, metric_change
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("Playground")
st.markdown(
    f"Pick a dataset and a {term('fusion', 'fusion')} operator and press **Train**: a small model (per-"
    f"{term('modality', 'modality')} encoder → fusion → classifier) trains live. Then drag a "
    f"**{term('noise', 'noise slider')}**: the frozen model is re-evaluated on the corrupted "
    "test set at once. The robustness curve shows which modality's corruption the model cannot absorb; a "
    "modality whose corruption barely moves accuracy is one the model ignores. That is not the same question as "
    f"*which modality it relies on when inputs are clean*: the `drop` noise and the sample's "
    f"{term('contribution', 'contribution')} bars answer "
    "that one, and a small modality the model barely uses can still wreck it when its inputs turn into loud noise."
)

open_link(KEY, link_params, study.DEFAULT.data.name)  # a link's settings, before the widgets are drawn
with st.container(border=True):
    cfg, source = study_controls()
    formula_expander(cfg.model.fusion if cfg else study.DEFAULT.model.fusion)
    with st.container(horizontal=True, vertical_alignment="center"):
        start, _ = train_buttons(KEY)
        link_box(KEY, URL_PATH, link_params(st.session_state[f"{KEY}-dataset"]))

if start and cfg is not None:
    try:
        result = live_run(KEY, lambda progress: study.run(cfg, progress=progress, source=source))
    except ValueError as exc:
        st.error(f"Cannot train: {exc}" + (" The model below is the one trained before, with its own settings."
                                            if st.session_state.get(f"{KEY}-run") is not None else ""))
    else:
        st.session_state[f"{KEY}-run"] = PlaygroundRun(result, cfg, {cfg.noise: result.tables["robustness"]})

bundle_controls(current_run())  # after training, so a model trained in this run can be downloaded
run = current_run()
if run is None:
    st.info("No model yet: press **Train** above.")
    st.stop()
if cfg is not None and cfg != run.config:
    st.info("The controls above have changed since this model was trained; press **Train** to train the new setting.")

st.subheader("Trained model")
st.caption(f"{run.config.model.fusion} fusion on {run.data.name} ({', '.join(run.data.modality_names)}); "
           f"{count_parameters(run.model):,} parameters; best validation epoch {run.best_epoch} "
           f"(the weights kept); test set {len(run.data.test)} samples.")
with st.expander("Training curves", expanded=False):
    st.plotly_chart(figures.training_curves(run.history), key=f"{KEY}-history")
    look_for("validation loss turning up while the training loss still falls is overfitting; the weights kept "
             "are those of the best validation epoch.")


@st.fragment
def noise_view(run: PlaygroundRun) -> None:
    st.subheader("Corrupt the test set")
    noise, levels = noise_controls(run.data.modality_names, run.config.noise)
    seed = run.config.train.seed
    try:
        xs, out = noisy_predictions(run.model, run.data, levels, noise, seed)
    except ValueError as exc:
        st.error(f"Cannot apply this noise: {exc}")
        return
    probs = torch.softmax(out.logits, dim=1).numpy()
    y = run.data.test.y.numpy()
    m = metrics_from_probs(y, probs)
    if noise not in run.robustness:
        run.robustness[noise] = robustness_curve(run.model, run.data, noise, default_levels(noise), seed=seed,
                                                 fusion=run.config.model.fusion)
    clean = float(run.result.tables["metrics"]["accuracy"].iloc[0])  # "vs clean" shows from the first draw
    c1, c2, c3 = st.columns(3)
    c1.metric("test accuracy", f"{m['accuracy']:.3f}", **metric_change(m["accuracy"], clean, "clean"))
    c2.metric("macro-F1", f"{m['macro_f1']:.3f}")
    c3.metric("ROC-AUC", "n/a" if np.isnan(m["roc_auc"]) else f"{m['roc_auc']:.3f}")
    left, right = st.columns(2)
    cm = confusion_matrix(y, probs.argmax(1), labels=list(range(run.data.n_classes)))
    left.plotly_chart(figures.confusion_matrix_figure(cm, run.data.class_names), key=f"{KEY}-cm")
    look_for("counts off the diagonal are mistakes: which classes the model confuses, and how that spreads as you "
             "add noise.", left)
    right.plotly_chart(figures.robustness_figure(run.robustness[noise], marks=current_marks(levels),
                                                 current=m["accuracy"],
                                                 title="accuracy vs noise (× = current setting)"), key=f"{KEY}-rob")
    st.subheader("One test sample")
    i = int(st.number_input("test sample index", 0, len(y) - 1, 0, key=f"{KEY}-sample"))
    one = {k: v[i:i + 1] for k, v in xs.items()}
    contrib = modality_contributions(run.model, one, run.data)
    pred = int(probs[i].argmax())
    st.markdown(f"True class **{run.data.class_names[y[i]]}**, predicted **{run.data.class_names[pred]}** "
                f"({'correct' if pred == y[i] else 'wrong'}) under the current noise.")
    a, b = st.columns(2)
    a.plotly_chart(figures.probability_bars(probs[i], run.data.class_names, int(y[i])), key=f"{KEY}-probs")
    look_for("one tall bar is a confident answer, several similar bars a guess.", a)
    b.plotly_chart(figures.contribution_bars(contrib, "contribution: probability lost when the modality is dropped"),
                   key=f"{KEY}-contrib")
    look_for("the modality whose removal costs the most probability is the one this decision rests on.", b)
    raw = {k: (xs[k][i] * run.data.raw_stats[k].std + run.data.raw_stats[k].mean).numpy() for k in xs}
    st.plotly_chart(figures.sample_inputs(raw, UCI_IMAGES if run.data.name.startswith("uci") else {},
                                          "what the model sees for this sample (raw scale, under the current noise)"),
                    key=f"{KEY}-input")
    st.caption("What to look for: " + ("as the noise on pix rises the digit dissolves; the prediction above says "
                                       "whether the model still reads it from the other views."
                                       if run.data.name.startswith("uci") else
                                       "rows are timesteps, columns features; a noised modality turns into speckle, "
                                       "and the prediction above says whether the model still gets the class."))
    if "gate" in out.extras:
        st.plotly_chart(figures.gate_heatmap(out.extras["gate"][i].numpy(), run.data.modality_names,
                                             "gated fusion: gate z per modality (this sample)"), key=f"{KEY}-gate")


noise_view(run)


@st.fragment
def permutation_view(run: PlaygroundRun) -> None:
    noise, levels = current_noise(run.data.modality_names, run.config.noise)
    setting = [{k: v for k, v in levels.items() if v > 0}]
    label = study.noise_label(noise, setting[0])
    seed, n = run.config.train.seed, len(run.data.test)
    input_section(KEY, run.model, lambda cfg: study.perceptual_test(run.model, run.data, noise, setting, cfg, seed),
                  label, n)
    if declared_signals(run.model):
        signal_section(KEY, run.model, lambda cfg: study.signal_test(run.model, run.data, noise, setting, cfg, seed),
                       label, n, what="gate")


permutation_view(run)
