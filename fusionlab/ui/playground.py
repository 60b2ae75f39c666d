"""Controls and session state of the Playground page."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

import pandas as pd
import streamlit as st
import torch

from ..data import PreparedData
from ..experiments import playground as study
from ..experiments.base import Result
from ..experiments.playground import PlaygroundConfig
from .attribution import shapley_bars
from ..fusion import FUSIONS
from ..noise import distinct_corruptions, level_label, level_range, on_off
from .bundle_box import PageSaving
from .links import Param, data_params
from .forms import data_controls, data_state, init_state, state_shapes
from .live import LiveSlider, Metric
from .operators import option_controls, option_params, option_state
from .optin import ALLOW_USER_CODE, user_code_allowed

KEY = "playground"

@dataclass
class PlaygroundRun:
    """A trained model and everything the page draws from it (one user's, in session_state)."""

    result: Result
    config: PlaygroundConfig
    robustness: Dict[str, pd.DataFrame]  # per noise type, computed on first use (the config's comes with the run)

    @property
    def model(self) -> torch.nn.Module:
        return self.result.artifacts.model

    @property
    def data(self) -> PreparedData:
        return self.result.artifacts.data

    @property
    def history(self) -> pd.DataFrame:
        return self.result.tables["history"]

    @property
    def best_epoch(self) -> int:
        return int(self.result.tables["metrics"]["best_epoch"].iloc[0])


URL_PATH = "playground"


def link_params(dataset: str) -> Dict[str, Param]:
    """The Playground's controls as URL parameters (``ui.links``)."""
    return {**data_params(KEY, dataset, study.DATASET_NAMES),
            "fusion": Param(f"{KEY}-fusion", "str", FUSIONS.names()),
            **option_params(KEY, FUSIONS.names()),
            "epochs": Param(f"{KEY}-epochs", "int", lo=1, hi=100),
            "seed": Param(f"{KEY}-seed", "int", lo=0, hi=10_000),
            "noise": Param(f"{KEY}-noise", "str", distinct_corruptions(), default=study.DEFAULT.noise),  # its widget
            "sample": Param(f"{KEY}-sample", "int", lo=0, hi=100_000, late=True, default=0),
            **level_params()}  # is drawn only with a model: its default is not in DEFAULTS before


def level_params() -> Dict[str, Param]:
    """``level-<modality>``: a noise slider's level, for the noise type the page holds (looked up after
    ``noise``); the trained model's modalities, or before training those the dataset controls pick."""
    noise = st.session_state.get(f"{KEY}-noise", study.DEFAULT.noise)
    run = current_run()
    names = (list(run.data.modality_names) if run is not None
             else list(state_shapes(KEY, study.DATA_DEFAULTS, study.DEFAULT.data.name)))
    lo, hi = (0.0, 1.0) if on_off(noise) else level_range(noise)
    return {f"level-{m}": Param(f"{KEY}-lv-{noise}-{m}", "float", lo=lo, hi=hi, late=True, default=0.0)
            for m in names}


LAB, YOURS = "a lab fusion model", "your model file"


@dataclass(frozen=True)
class YoursChoice:
    """Your model as the controls describe it: its file (``path.py[:build]``) and, if uploaded, its weights."""

    path: str
    weights: Optional[bytes] = None
    weights_name: str = ""


def yours_controls() -> Optional[YoursChoice]:
    """The model file and its weights, when this server allows user code (else how to allow it)."""
    if not user_code_allowed():
        st.info(f"Importing a model file runs its code on this server, so a served lab refuses it. For a lab on your "
                f"own machine, start it with `{ALLOW_USER_CODE}=1 .venv/bin/streamlit run app.py` (or set "
                "`allow_user_code = true` in `.streamlit/secrets.toml`). The command line needs no switch: "
                "`python -m fusionlab inspect --model my_model.py:build --weights W.safetensors --out DIR` "
                "(docs/your-model.md).")
        return None
    c1, c2 = st.columns(2)
    path = c1.text_input("model file on this server (PATH.py or PATH.py:build)", key=init_state(f"{KEY}-yours-path", ""),
                         help="a Python file defining build(shapes, n_classes) -> torch.nn.Module; forward(xs) takes "
                              "a dict of (B, D) or (B, T, D) tensors and returns logits (B, C) (docs/your-model.md)")
    up = c2.file_uploader("trained weights (.safetensors); none: train it here", type=["safetensors"],
                          key=f"{KEY}-yours-weights",
                          help="your module's state_dict as safetensors: the features reach it as stored. Without "
                               "weights the model is trained here on standardised features, like a lab model")
    if not path.strip():
        st.caption("Give the path of your model file.")
        return None
    return YoursChoice(path.strip(), up.getvalue() if up is not None else None, up.name if up is not None else "")


def study_controls() -> Tuple[Optional[PlaygroundConfig], object]:
    """The dataset, the model and the training controls: the study's config (None if unusable) and the upload. With
    "your model file" chosen, ``st.session_state[f"{KEY}-yours"]`` holds it (None otherwise)."""
    d = study.DEFAULT
    data, source = data_controls(KEY, study.DATASET_NAMES, study.DATA_DEFAULTS, d.data.name)
    kind = st.radio("model", (LAB, YOURS), horizontal=True, key=init_state(f"{KEY}-model-kind", LAB),
                    help="a fusion model the lab builds, or your own PyTorch model (docs/your-model.md)")
    yours = yours_controls() if kind == YOURS else None
    st.session_state[f"{KEY}-yours"] = yours
    c1, c2, c3 = st.columns(3)
    fusion = d.model.fusion if kind == YOURS else c1.selectbox(
        "fusion operator", FUSIONS.names(), key=init_state(f"{KEY}-fusion", d.model.fusion),
        help="  \n".join(f"**{n}**: {FUSIONS.doc(n)}" for n in FUSIONS.names()))
    epochs = c2.slider("epochs", 1, 100, key=init_state(f"{KEY}-epochs", d.train.epochs),
                       help="with your weights given, no training happens" if kind == YOURS else None)
    seed = c3.number_input("seed", 0, 10_000, key=init_state(f"{KEY}-seed", d.train.seed),
                           help="seeds the split, the initialisation, the batch order and dropout")
    options = option_controls(KEY, fusion) if kind == LAB else {}
    if data is None or (kind == YOURS and yours is None):
        return None, None
    cfg = replace(d, data=data, model=replace(d.model, fusion=fusion, fusion_options=options),
                  train=replace(d.train, epochs=int(epochs), seed=int(seed)))
    st.session_state[f"{KEY}-config"] = cfg  # what the widgets describe (tests compare it with the CLI's)
    return cfg, source


def noise_type(default: str, where=None) -> str:
    return (where or st).selectbox(
        "noise type", distinct_corruptions(), key=init_state(f"{KEY}-noise", default),
        help="gaussian: x + level·s·ε (on the lab's standardised inputs the same as additive noise x + αn, "
             "which the command line still takes); mix: (1−α)x + αn; "
             "timestep: a fraction of timesteps/entries replaced by noise; drop: modality removed; "
             "missing: a share of the test samples lose the modality (set to the train mean, "
             "which is all a model without an availability mask can be told); snr: white noise at a signal-to-noise "
             "ratio in dB; gap: one stretch of timesteps masked; occlusion: a rectangle of the timesteps x features "
             "masked. On a recording snr and gap act on the sound, on an image gaussian and occlusion act on the "
             "pixels, and the features are recomputed")


def sample_index(n: int, where=None) -> int:
    """The test sample the view shows (a link's or a saved run's, kept within this test set)."""
    if st.session_state.get(f"{KEY}-sample", 0) >= n:
        st.session_state[f"{KEY}-sample"] = 0
    return int((where or st).number_input("test sample index", 0, n - 1, key=init_state(f"{KEY}-sample", 0)))


def noise_sliders(names: list[str], noise: str) -> List[LiveSlider]:
    """One slider per modality: 21 levels over the noise's range, or off / on for ``drop``."""
    if on_off(noise):  # a 0-1 slider would be a step at 0
        return [LiveSlider(f"{noise} {k}", f"{KEY}-lv-{noise}-{k}", (0.0, 1.0), ("off", "on")) for k in names]
    lo, hi = level_range(noise)
    values = tuple(round(lo + (hi - lo) * j / 20, 10) for j in range(21))
    labels = tuple(level_label(noise, v) for v in values)  # snr in dB, what a person sets
    what = "signal-to-noise ratio of " if noise == "snr" else "noise on "
    return [LiveSlider(f"{what}{k}", f"{KEY}-lv-{noise}-{k}", values, labels) for k in names]


def noise_layout(run: "PlaygroundRun") -> List[List[Tuple[str, str]]]:
    rows = [[("metrics", "")],
            [("rob", "the × moves along the curve of the modality you noise; a curve that stays flat belongs to a "
                     "modality the model can do without."),
             ("cm", "counts off the diagonal are mistakes: which classes the model confuses, and how that spreads "
                    "as you add noise.")],
            [("sample", "")],
            [("probs", "one tall bar is a confident answer, several similar bars a guess."),
             ("contrib", "the modality whose removal costs the most probability is the one this decision rests on."),
             ("shapley", "a modality's bar is its share of the decision, counting what it does together with the "
                         "others; the bars add up to the margin with every modality minus with none.")],
            [("input", input_caption(run))]]
    if run.config.model.fusion == "gated":
        rows.append([("gate", "a gate near 0 shuts a modality's channels out of the fused vector for this sample.")])
    return rows


def input_caption(run: "PlaygroundRun") -> str:
    """What to look for in the sample's inputs; on data with raw signals, which noise types act on which signal."""
    from ..noise import SIGNAL_CORRUPTIONS
    if run.data.name.startswith("uci"):
        return ("as the noise on pix rises the digit dissolves; the prediction above says whether the model still reads "
                "it from the other views.")
    raw = getattr(run.data.test.xs, "raw", {})
    if not raw:
        return ("rows are timesteps, columns features; a noised modality turns into speckle, and the prediction above "
                "says whether the model still gets the class.")
    where = []
    for k, r in raw.items():
        names = [n for n, kinds in SIGNAL_CORRUPTIONS.items() if r.kind in kinds]
        where.append(f"{' and '.join(names)} act on {k}'s {'pixels' if r.kind == 'image' else 'sound'}")
    return ("; ".join(where) + ", and the features are recomputed from them (what you see here); every other noise type "
            "acts on the features. A heatmap's rows are timesteps (a sound's frames), its columns features (mel bands).")


def noise_frame(run: "PlaygroundRun", noise: str, levels: Dict[str, float], i: int) -> Dict[str, object]:
    """Everything the noise view draws for one setting of the sliders and test sample ``i``."""
    from .. import figures
    images = run.config.data.spec.info(run.config.data.options).images  # modalities drawn as pictures
    from ..diagnostics import modality_contributions, noisy_evaluation
    from .widgets import metric_change
    try:
        ev = noisy_evaluation(run.model, run.data, levels, noise, run.config.train.seed)
    except ValueError as exc:
        return {"metrics": f"Cannot apply this noise: {exc}"}
    m, y, cls = ev.metrics, ev.y, run.data.class_names
    change = metric_change(m["accuracy"], float(run.result.tables["metrics"]["accuracy"].iloc[0]), "clean")
    marks = current_marks(levels)
    one = {k: v[i:i + 1] for k, v in ev.xs.items()}
    pred = int(ev.probs[i].argmax())
    frame = {
        "metrics": [Metric("test accuracy", f"{m['accuracy']:.3f}", change["delta"], change["delta_color"]),
                    Metric("macro-F1", f"{m['macro_f1']:.3f}"),
                    Metric("ROC-AUC", "n/a" if m["roc_auc"] != m["roc_auc"] else f"{m['roc_auc']:.3f}")],
        "cm": figures.confusion_matrix_figure(ev.confusion, cls),
        "rob": figures.robustness_figure(run.robustness[noise], marks=marks, current=m["accuracy"],
                                         title="accuracy vs noise<br><sup>× = the current setting</sup>" if marks else
                                         "accuracy vs noise<br><sup>dotted = the current setting (mixed levels)"
                                         "</sup>"),
        "sample": f"Test sample **{i}**: true class **{cls[y[i]]}**, predicted **{cls[pred]}** "
                  f"({'correct' if pred == y[i] else 'wrong'}) under the current noise.",
        "probs": figures.probability_bars(ev.probs[i], cls, int(y[i])),
        "contrib": figures.contribution_bars(modality_contributions(run.model, one, run.data),
                                             "contribution<br><sup>probability lost when the modality is dropped"
                                             "</sup>"),
        "shapley": shapley_bars(run.model, one, run.data, y[i:i + 1]),
        "input": figures.sample_inputs(ev.raw(run.data, i), images,
                                       "what the model sees for this sample (raw scale, under the current noise)"),
    }
    if "gate" in ev.extras:
        frame["gate"] = figures.gate_heatmap(ev.extras["gate"][i].numpy(), run.data.modality_names,
                                             "gated fusion: gate z per modality (this sample)")
    return frame


def attribution_section(run: "PlaygroundRun") -> None:
    """Which modality the model used over the test set, at the sliders' current setting (``ui.attribution``)."""
    from ..noise import corrupt_modalities
    from .attribution import which_modality
    noise, levels = current_noise(run.data.modality_names, run.config.noise)
    setting = ", ".join(f"{k} {v:g}" for k, v in levels.items() if v > 0)
    which_modality(KEY, run.model, run.data,
                   lambda: corrupt_modalities(run.data.test.xs, levels, noise, run.config.train.seed, run.data.stats),
                   f"{noise} on {setting}" if setting else "clean")


def current_noise(names: list[str], default: str) -> tuple[str, Dict[str, float]]:
    """The noise type and the sliders' levels, from their session-state keys (``live_view`` keeps them)."""
    noise = st.session_state.get(f"{KEY}-noise", default)
    return noise, {k: float(st.session_state.get(f"{KEY}-lv-{noise}-{k}", 0.0)) for k in names}


def current_run() -> Optional[PlaygroundRun]:
    return st.session_state.get(f"{KEY}-run")


def current_marks(levels: Dict[str, float]) -> Dict[str, float]:
    """Which robustness curve the sliders' setting lies on: the one noisy modality's, or ``all`` when every
    modality has the same level (0 included: clean lies on every curve); none (empty) for a mixed setting."""
    noisy = {k: v for k, v in levels.items() if v > 0}
    if len(noisy) == 1:
        return noisy
    if levels and len(set(levels.values())) == 1:
        v = next(iter(levels.values()))
        return {"all": v} if len(levels) > 1 else dict(levels)
    return {}


def widget_state(cfg: PlaygroundConfig) -> Dict[str, object]:
    """The widget values that show ``cfg`` on this page."""
    return {**data_state(KEY, cfg.data), f"{KEY}-fusion": cfg.model.fusion, f"{KEY}-epochs": cfg.train.epochs,
            f"{KEY}-seed": cfg.train.seed, **option_state(KEY, cfg.model.fusion, cfg.model.fusion_options)}
    # the noise type is the live view's (what was on screen, in a bundle's view), not the config's curve


def _restore(done) -> None:
    cfg = done.config
    st.session_state[f"{KEY}-noise"] = cfg.noise  # the view's noise type, if it has one, replaces it next
    st.session_state[f"{KEY}-run"] = PlaygroundRun(done.result, cfg, {cfg.noise: done.result.tables["robustness"]})


SAVING = PageSaving(KEY, URL_PATH, study.SAVING, link_params, widget_state, _restore)


def bundle_controls(run: Optional[PlaygroundRun]) -> None:
    """'Download run' (a zip: config, the sliders and sample on screen, weights, tables, figures) and 'Reopen'."""
    from .. import figures

    def figs() -> Dict[str, object]:
        return {"training_curves": figures.training_curves(run.history),
                "robustness": figures.robustness_figure(run.result.tables["robustness"])}
    yours = run is not None and bool(run.result.config.get("yours"))
    savable = run is not None and not yours and (run.result.artifacts.fit is not None
                                                 or run.result.artifacts.bundle is not None)
    SAVING.box(run, run.config if run else None, run.result if run else None, figs,
               f"fusionlab-playground-{run.config.model.fusion}-seed{run.config.train.seed}.zip" if run else "",
               savable, why="a run of your own model is not saved: a bundle never carries code (your file and "
                            "weights already are the run)" if yours else "")
