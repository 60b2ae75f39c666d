"""Playground

Train a fusion model live, then corrupt each modality with a slider.
"""
import numpy as np
import streamlit as st
import torch
from sklearn.metrics import confusion_matrix

from fusionlab import figures
from fusionlab.data import SplitConfig, prepare
from fusionlab.diagnostics import modality_contributions, noisy_predictions, robustness_curve
from fusionlab.models import build_model, count_parameters
from fusionlab.noise import default_levels
from fusionlab.train import fit, metrics_from_probs
from fusionlab.ui.playground import (KEY, PlaygroundRun, current_marks, current_run, formula_expander, model_controls,
                                     noise_controls)
from fusionlab.ui.training import live_training, train_buttons
from fusionlab.ui.widgets import dataset_controls, describe_dataset, metric_change

st.title("Playground")
st.markdown(
    "Pick a dataset and a fusion operator and press **Train**: a small model (per-modality encoder → fusion → "
    "classifier) trains live. Then drag a **noise slider**: the frozen model is re-evaluated on the corrupted "
    "test set at once. The robustness curve shows which modality's corruption the model cannot absorb; a "
    "modality whose corruption barely moves accuracy is one the model ignores. That is not the same question as "
    "*which modality it relies on when inputs are clean*: the `drop` noise and the sample's contribution bars answer "
    "that one, and a small modality the model barely uses can still wreck it when its inputs turn into loud noise."
)

with st.container(border=True):
    ds = dataset_controls(KEY)
    if ds is not None:
        st.markdown(describe_dataset(ds))
    model_cfg, train_cfg = model_controls()
    formula_expander(model_cfg.fusion)
    start, _ = train_buttons(KEY)

if start and ds is not None:
    try:
        data = prepare(ds, SplitConfig(seed=train_cfg.seed))
        model = build_model(data.shapes(), data.n_classes, model_cfg, seed=train_cfg.seed)
        result = live_training(KEY, lambda cb: fit(model, data, train_cfg, callback=cb))
    except ValueError as exc:
        st.error(f"Cannot train: {exc}")
    else:
        st.session_state[f"{KEY}-run"] = PlaygroundRun(result.model, data, result.history, model_cfg, train_cfg,
                                                        result.best_epoch, {})

run = current_run()
if run is None:
    st.info("No model yet: press **Train** above.")
    st.stop()

st.subheader("Trained model")
st.caption(f"{run.model_cfg.fusion} fusion on {run.data.name} ({', '.join(run.data.modality_names)}); "
           f"{count_parameters(run.model):,} parameters; best validation epoch {run.best_epoch} "
           f"(the weights kept); test set {len(run.data.test)} samples.")
with st.expander("Training curves", expanded=False):
    st.plotly_chart(figures.training_curves(run.history), key=f"{KEY}-history")


@st.fragment
def noise_view(run: PlaygroundRun) -> None:
    st.subheader("Corrupt the test set")
    noise, levels = noise_controls(run.data.modality_names)
    seed = run.train_cfg.seed
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
                                                 fusion=run.model_cfg.fusion)
    if "__clean__" not in run.robustness:
        run.robustness["__clean__"] = float(run.robustness[noise].query("level == 0")["accuracy"].iloc[0])
    clean = run.robustness["__clean__"]  # computed before the metric: its "vs clean" shows from the first draw
    c1, c2, c3 = st.columns(3)
    c1.metric("test accuracy", f"{m['accuracy']:.3f}", **metric_change(m["accuracy"], clean, "clean"))
    c2.metric("macro-F1", f"{m['macro_f1']:.3f}")
    c3.metric("ROC-AUC", "n/a" if np.isnan(m["roc_auc"]) else f"{m['roc_auc']:.3f}")
    left, right = st.columns(2)
    cm = confusion_matrix(y, probs.argmax(1), labels=list(range(run.data.n_classes)))
    left.plotly_chart(figures.confusion_matrix_figure(cm, run.data.class_names), key=f"{KEY}-cm")
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
    b.plotly_chart(figures.contribution_bars(contrib, "contribution: probability lost when the modality is dropped"),
                   key=f"{KEY}-contrib")
    if "gate" in out.extras:
        st.plotly_chart(figures.gate_heatmap(out.extras["gate"][i].numpy(), run.data.modality_names,
                                             "gated fusion: gate z per modality (this sample)"), key=f"{KEY}-gate")


noise_view(run)
