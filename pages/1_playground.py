"""Playground

Train a fusion model live, then corrupt each modality with a slider.
"""
import numpy as np
import streamlit as st

from fusionlab import figures
from fusionlab.experiments import playground as study
from fusionlab.models import count_parameters
from fusionlab.diagnostics.signals import declared_signals
from fusionlab.ui.glossary import term
from fusionlab.ui.lessons import lesson_panel
from fusionlab.ui.operators import formula_expander
from fusionlab.ui.links import link_box, open_link, write_link
from fusionlab.ui.live import live_view
from fusionlab.ui.sharing import name_of, share_name
from fusionlab.ui.playground import (KEY, URL_PATH, YOURS, PlaygroundRun, attribution_section, bundle_controls, current_noise, current_run,
                                     link_params, noise_frame, noise_layout, noise_sliders,
                                     noise_type, sample_index, study_controls)
from fusionlab.ui.signals import input_section, signal_section
from fusionlab.ui.training import ask_scroll, live_run, scroll_to_result, train_buttons
from fusionlab.ui.widgets import look_for
from fusionlab.ui.restart import lost_notice, mark
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("Playground")
panel = lesson_panel("playground")  # a lesson step's question, while one is open
lost_notice(KEY, has_run=current_run() is not None)  # a run lost with a reload or a restart
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
    yours = st.session_state.get(f"{KEY}-yours")
    if st.session_state.get(f"{KEY}-model-kind") != YOURS:
        formula_expander(cfg.model.fusion if cfg else study.DEFAULT.model.fusion)
    with st.container(horizontal=True, vertical_alignment="center"):
        start, _ = train_buttons(KEY)
        link_box(KEY, URL_PATH, link_params(st.session_state[f"{KEY}-dataset"]))

if start and cfg is not None:
    try:
        if yours is not None:
            result = live_run(KEY, lambda progress: study.run_yours(cfg, yours.path, yours.weights, progress=progress,
                                                                    source=source), "your model")
        else:
            result = live_run(KEY, lambda progress: study.run(cfg, progress=progress, source=source),
                              share=share_name(KEY, cfg, source=source))  # a class's identical runs: once
    except ValueError as exc:
        st.error(f"Cannot train: {exc}" + (" The model below is the one trained before, with its own settings."
                                            if st.session_state.get(f"{KEY}-run") is not None else ""))
    else:
        st.session_state[f"{KEY}-run"] = PlaygroundRun(result, cfg, {cfg.noise: result.tables["robustness"]})
        ask_scroll(KEY, panel.anchor("corrupt-the-test-set"))  # the noise sliders and what they move

bundle_controls(current_run())  # after training, so a model trained in this run can be downloaded
run = current_run()
if run is None:
    st.info("No model yet: press **Train** above.")
    st.stop()
mark(KEY)
if cfg is not None and cfg != run.config:
    st.info("The controls above have changed since this model was trained; press **Train** to train the new setting.")

st.subheader("Trained model")
given = run.result.config.get("weights") == "given"
what = (f"your model ({run.result.config['yours']}, "
        + ("your weights, features as stored" if given else "trained here on standardised features") + ")"
        if run.result.config.get("yours") else f"{run.config.model.fusion} fusion")
st.caption(f"{what} on {run.data.name} ({', '.join(run.data.modality_names)}); "
           f"{count_parameters(run.model):,} parameters; "
           + ("" if given else f"best validation epoch {run.best_epoch} (the weights kept); ")
           + f"test set {len(run.data.test)} samples.")
if len(run.history):
    with st.expander("Training curves", expanded=False):
        st.plotly_chart(figures.training_curves(run.history), key=f"{KEY}-history")
        look_for("validation loss turning up while the training loss still falls is overfitting; the weights kept "
                 "are those of the best validation epoch.")


def hear(run: PlaygroundRun, noise: str, i: int) -> None:
    """av-digits: test sample ``i``'s recording as the sliders' setting corrupts it (the noise added to the sound,
    the features recomputed) or, for a corruption of the features, as recorded."""
    from fusionlab.data.avdigits import RATE, SAMPLES
    from fusionlab.noise import SIGNAL_CORRUPTIONS, acts_on_signal, corrupted_signal, snr_db
    _, levels = current_noise(run.data.modality_names, noise)
    raw = getattr(run.data.test.xs, "raw", {})
    on_sound = ", ".join(f"**{n}**" for n, kinds in SIGNAL_CORRUPTIONS.items() if "audio" in kinds)
    for k in [k for k in run.data.modality_names if k in raw and raw[k].kind == "audio"]:
        wave = corrupted_signal(run.data.test.xs, levels, noise, run.config.train.seed, k)[i]
        st.audio(np.clip(wave, -1.0, 1.0), sample_rate=RATE)
        lv = levels.get(k, 0.0)
        if noise == "snr" and lv > 0:
            said = (f"with white noise at {snr_db(lv):.0f} dB signal-to-noise ratio added to the sound, the features "
                    "the model sees recomputed from it")
        elif acts_on_signal(noise, "audio") and lv > 0:
            said = (f"with {lv:.0%} of it silenced in one stretch ({noise}), the features the model sees recomputed "
                    "from it")
        elif lv > 0:
            said = (f"as recorded: **{noise}** corrupts the {k} features, not the sound (the {on_sound} noise types "
                    "act on the recording itself)")
        else:
            said = "as recorded (its slider is at 0)"
        st.caption(f"Test sample {i}'s {k} recording (its first {SAMPLES / RATE:.2f} s, what the features are computed from), {said}.")


@st.fragment
def noise_view(run: PlaygroundRun) -> None:
    st.subheader("Corrupt the test set", anchor="corrupt-the-test-set")
    left, right = st.columns(2)
    noise = noise_type(run.config.noise, left)
    i = sample_index(len(run.data.test), right)
    if noise not in run.robustness:
        run.robustness[noise] = study.robustness(run.model, run.data, run.config, noise)
    names = run.data.modality_names
    live_view(f"{KEY}-live", noise_sliders(names, noise),
              lambda values: noise_frame(run, noise, dict(zip(names, values)), i),
              noise_layout(run), owner=run, context=(noise, i), shared=name_of(run.result))
    st.caption("Every slider position was evaluated when the model or the sample changed, so a step redraws at "
               "once; after a second slider moves, the page evaluates the new setting's positions (a second or so).")
    hear(run, noise, i)
    write_link(link_params(st.session_state[f"{KEY}-dataset"]))  # the noise type and levels, in the address


panel.says(run.result)
noise_view(run)
scroll_to_result(KEY)


@st.fragment
def attribution_view(run: PlaygroundRun) -> None:
    attribution_section(run)


attribution_view(run)


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
