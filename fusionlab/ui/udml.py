"""Controls, presets and session state of the Uncertainty-weighting page (seed 001, UDML)."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Dict, Optional

import streamlit as st

from ..experiments import udml as study
from ..experiments.base import Result
from ..experiments.udml import UDMLStudyConfig
from ..models.udml import ALPHA_MODES, METHODS
from ..models.udml_schedule import INTENSITY_MAPS
from ..noise import level_range
from .forms import data_controls, data_state, init_state

KEY = "udml"

FORMULAS = [
    r"z_m = \mu_m + \epsilon\,\sigma_m,\quad \hat s_m = \exp\!\big(\tfrac12 f_m(\overline{\sigma_m}^{\,\mathrm{detach}})\big)",
    r"\mathcal{L} = \mathrm{CE}(\text{fused}) + \gamma \sum_m \mathrm{CE}(\text{unimodal}_m)"
    r" + \beta\,\mathrm{KL}\big(\mathcal N(\mu_m,\sigma_m^2)\,\|\,\mathcal N(0, t_m)\big) + 0.1\,(\hat s_m - t_m)^2",
    r"\alpha_m = \textstyle\sum_c \mathrm{mean}_{\text{batch}} |\mathrm{logit}_c(h_{k\ne m} = 0)|"
    r"\quad\text{(running mean over training steps)}",
    r"w_m = M\,\frac{1/(\hat s_m^2\,\alpha_m)}{\sum_k 1/(\hat s_k^2\,\alpha_k)},\qquad h_m \leftarrow h_m + w_m h_m",
]


@dataclass
class UDMLRun:
    """A trained study and its tables (one user's, in session_state)."""

    result: Result
    config: UDMLStudyConfig

    @property
    def study(self):
        return self.result.artifacts["study"]

    @property
    def hard(self) -> Optional[str]:
        return self.result.artifacts["hard"]

    @property
    def robustness(self):
        return self.result.tables["robustness"]


def _k(name: str) -> str:
    return f"{KEY}-{name}"


def state_of(cfg: UDMLStudyConfig) -> Dict[str, object]:
    """Every widget's session-state value for ``cfg`` (what a preset button writes)."""
    return {**data_state(KEY, cfg.data), _k("epochs"): cfg.train.epochs, _k("e1"): cfg.schedule.clean_epochs,
            _k("delay"): cfg.schedule.weight_delay, _k("seeds"): cfg.seeds, _k("gamma"): cfg.model.gamma,
            _k("beta"): cfg.model.beta, _k("alpha-mode"): cfg.model.alpha_mode,
            _k("imap"): cfg.schedule.intensity_map, _k("methods"): list(cfg.methods)}


def apply_preset(name: str) -> None:
    for k, v in state_of(study.PRESETS[name][0]).items():
        st.session_state[k] = v


def preset_buttons() -> None:
    cols = st.columns(len(study.PRESETS) + 1)
    cols[0].markdown("**Presets**")
    for c, (name, (_, cost)) in zip(cols[1:], study.PRESETS.items()):
        c.button(name, key=_k(f"preset-{name}"), on_click=apply_preset, args=(name,), use_container_width=True,
                 help=f"runs in {cost}")


def _init(name: str, default) -> str:
    return init_state(_k(name), default)


def controls() -> Optional[UDMLStudyConfig]:
    """The study's config from the widgets (None while the dataset settings are unusable)."""
    d = study.DEFAULT
    data, source = data_controls(KEY, study.DATASET_NAMES, study.DATA_DEFAULTS, d.data.name, {"views": 2})
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.slider("epochs", 2, 80, key=_init("epochs", d.train.epochs))
    e1 = c2.slider("clean epochs E₁", 0, 10, key=_init("e1", d.schedule.clean_epochs),
                   help="epochs of clean data before the training noise starts")
    delay = c3.slider("weights fixed to 1 for … more epochs", 0, 20, key=_init("delay", d.schedule.weight_delay),
                      help="after E₁, the dynamic weights stay 1 in training for this many epochs")
    seeds = c4.slider("seeds", 1, 3, key=_init("seeds", d.seeds), help="each method is trained once per seed")
    c5, c6, c7, c8 = st.columns(4)
    gamma = c5.slider("γ (unimodal CE weight)", 0.0, 5.0, step=0.5, key=_init("gamma", d.model.gamma),
                      help="weight of each modality's own classifier loss")
    beta = c6.select_slider("β (KL weight)", [1e-5, 1e-4, 1e-3, 1e-2], key=_init("beta", d.model.beta),
                            help="weight of the KL term pulling each embedding's spread toward the injected noise")
    mode = c7.selectbox("dependency α", ALPHA_MODES, key=_init("alpha-mode", d.model.alpha_mode),
                        help="logit: logit size with the other modalities zeroed (authors' code); "
                             "accuracy: accuracy drop when the modality is zeroed")
    imap = c8.selectbox("training noise of intensity t", INTENSITY_MAPS, key=_init("imap", d.schedule.intensity_map),
                        format_func=lambda m: {"variance": "variance t: sd √t (t ≥ 2)", "sd": "sd t (t ≥ 2)",
                                               "linear": "sd 0.3·(t − 1)"}[m],
                        help="METHODS.md §4: noise N(0, t) in train sd, t = 1 clean. 'variance' reads t as the "
                             "variance (as in the KL prior N(0, t)); 'sd' as the standard deviation (up to 11 sd); "
                             "'linear' is a gentler ramp")
    methods = st.multiselect("methods", METHODS.names(), key=_init("methods", list(d.methods)),
                             format_func=lambda n: f"{n} — {METHODS.doc(n)}")
    if data is None:
        return None
    cfg = replace(d, data=data, model=replace(d.model, gamma=float(gamma), beta=float(beta), alpha_mode=mode),
                  train=replace(d.train, epochs=int(epochs)),
                  schedule=replace(d.schedule, clean_epochs=int(e1), weight_delay=int(delay), intensity_map=imap),
                  seeds=int(seeds), methods=tuple(methods))
    st.session_state[_k("config")] = cfg  # what the widgets describe (tests compare it with the CLI's)
    st.session_state[_k("source")] = source
    return cfg


def formula_expander() -> None:
    with st.expander("How UDML weights the modalities — formulas and source"):
        for f in FORMULAS:
            st.latex(f)
        st.markdown(
            "`t_m ∈ {1..11}` is the injected noise intensity of modality *m* (1 = clean; intensity *t* ≥ 2 adds "
            "gaussian noise of variance *t*, i.e. sd √t train sd — the options read *t* as the sd, or ramp it as "
            "0.3·(t−1)); "
            "a random half of the training samples stays clean. Data are "
            "clean for the first E₁ epochs, and the weights stay 1 in training until epoch E₁ + delay (the slider; 10 in the authors' code). "
            "**PE** uses the mean variance σ² in place of ŝ²α, with no noise supervision (KL to N(0, 1)); "
            "**static** keeps all weights at 1.  \n"
            "Source: *Unbiased Dynamic Multimodal Fusion* (UDML), CVPR 2026, arXiv 2603.19681; details from the "
            "authors' public code as recorded in METHODS.md §4.")


def noise_sliders(names: list[str], top: float) -> Dict[str, float]:
    """One "max test noise" slider per modality, from 0 to ``top`` (the training noise's largest level)."""
    lo, hi = level_range("gaussian")[0], max(level_range("gaussian")[1], float(top))
    hi = math.ceil(round(hi * 10, 6)) / 10  # a whole number of 0.1 steps, so the slider can reach its maximum
    cols = st.columns(len(names))
    return {k: float(c.slider(f"max test noise on {k} (train sd)", lo, hi, step=0.1,
                              key=_init(f"lv-{k}", 1.5 if i == 0 else 0.0))) for i, (c, k) in enumerate(zip(cols, names))}


def current_run() -> Optional[UDMLRun]:
    return st.session_state.get(_k("run"))


def store_run(run: UDMLRun) -> None:
    st.session_state[_k("run")] = run
