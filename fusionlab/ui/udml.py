"""Controls, presets and session state of the Uncertainty-weighting page (seed 001, UDML)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import pandas as pd
import streamlit as st

from ..data import MultimodalDataset, SyntheticConfig
from ..noise import level_range
from ..refiners.udml import ALPHA_MODES, METHODS, UDMLConfig
from ..refiners.udml_train import INTENSITY_MAPS, UDMLStudy, UDMLTrainConfig, default_level_scale
from .widgets import cached_synthetic, cached_uci, init_state

KEY = "udml"
DATASETS = ("synthetic", "uci-digits")
HARD_CHOICES = ("none", "m1", "m2")

# Each preset sets the widgets' session_state keys in one click.
PRESETS: Dict[str, Dict[str, object]] = {
    "dual suppression": {
        "dataset": "synthetic", "n": 1200, "info1": 0.45, "info2": 0.9, "hard": "m2", "epochs": 25, "e1": 2,
        "delay": 10, "seeds": 3, "gamma": 3.0, "beta": 1e-3, "alpha-mode": "logit", "imap": "variance",
    },
    "paper-like (two real views)": {
        "dataset": "uci-digits", "views": ["pix", "fou"], "epochs": 30, "e1": 3, "delay": 10, "seeds": 3,
        "gamma": 3.0, "beta": 1e-4, "alpha-mode": "logit", "imap": "variance",
    },
}

FORMULAS = [
    r"z_m = \mu_m + \epsilon\,\sigma_m,\quad \hat s_m = \exp\!\big(\tfrac12 f_m(\overline{\sigma_m}^{\,\mathrm{detach}})\big)",
    r"\mathcal{L} = \mathrm{CE}(\text{fused}) + \gamma \sum_m \mathrm{CE}(\text{unimodal}_m)"
    r" + \beta\,\mathrm{KL}\big(\mathcal N(\mu_m,\sigma_m^2)\,\|\,\mathcal N(0, t_m)\big) + 0.1\,(\hat s_m - t_m)^2",
    r"\alpha_m = \textstyle\sum_c \mathrm{mean}_{\text{batch}} |\mathrm{logit}_c(h_{k\ne m} = 0)|"
    r"\quad\text{(running mean over training steps)}",
    r"w_m = M\,\frac{1/(\hat s_m^2\,\alpha_m)}{\sum_k 1/(\hat s_k^2\,\alpha_k)},\qquad h_m \leftarrow h_m + w_m h_m",
]


@dataclass
class UDMLSettings:
    """Everything the page's controls decide."""

    dataset: str
    synthetic: Optional[SyntheticConfig]
    views: tuple
    model_cfg: UDMLConfig
    train_cfg: UDMLTrainConfig
    seeds: tuple
    methods: tuple
    hard: Optional[str]  # the modality the preset made hard to learn


@dataclass
class UDMLRun:
    """A trained study and the curves computed once from it (one user's, in session_state)."""

    study: UDMLStudy
    robustness: pd.DataFrame
    hard: Optional[str]


def _k(name: str) -> str:
    return f"{KEY}-{name}"


def _init(name: str, default) -> str:
    """The widget key of ``name``, with its default set once in session_state (presets overwrite it)."""
    return init_state(_k(name), default)


def apply_preset(name: str) -> None:
    for k, v in PRESETS[name].items():
        st.session_state[_k(k)] = v


def preset_buttons() -> None:
    cols = st.columns(len(PRESETS) + 1)
    cols[0].markdown("**Presets**")
    for c, name in zip(cols[1:], PRESETS):
        c.button(name, key=_k(f"preset-{name}"), on_click=apply_preset, args=(name,), use_container_width=True)


def _data_controls() -> tuple:
    c1, c2 = st.columns([1, 3])
    dataset = c1.selectbox("dataset", DATASETS, key=_init("dataset", "synthetic"))
    if dataset == "uci-digits":
        views = c2.multiselect("two views", ["fou", "fac", "kar", "pix", "zer", "mor"],
                               key=_init("views", ["pix", "fou"]), max_selections=2)
        return dataset, None, tuple(views), None
    a, b, c, d = c2.columns(4)
    n = a.number_input("samples", 200, 5000, step=100, key=_init("n", 1200))
    i1 = b.slider("informativeness m1", 0.1, 1.0, step=0.05, key=_init("info1", 0.45))
    i2 = c.slider("informativeness m2", 0.1, 1.0, step=0.05, key=_init("info2", 0.9))
    hard = d.selectbox("hard (XOR-coded) modality", HARD_CHOICES, key=_init("hard", "m2"),
                       help="its signal hides behind a random per-sample sign: informative, but harder to learn")
    xor = () if hard == "none" else (HARD_CHOICES.index(hard) - 1,)
    cfg = SyntheticConfig(n_samples=int(n), n_modalities=2, dim=16, informativeness=(float(i1), float(i2)),
                          rule="linear", xor_modalities=xor)
    return dataset, cfg, (), None if hard == "none" else hard


def _train_controls() -> tuple[UDMLConfig, UDMLTrainConfig, tuple, tuple]:
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.slider("epochs", 2, 80, key=_init("epochs", 25))
    e1 = c2.slider("clean epochs E₁", 0, 10, key=_init("e1", 2))
    delay = c3.slider("weights fixed to 1 for … more epochs", 0, 20, key=_init("delay", 10))
    seeds = c4.slider("seeds", 1, 3, key=_init("seeds", 3))
    c5, c6, c7, c8 = st.columns(4)
    gamma = c5.slider("γ (unimodal CE weight)", 0.0, 5.0, step=0.5, key=_init("gamma", 3.0))
    beta = c6.select_slider("β (KL weight)", [1e-5, 1e-4, 1e-3, 1e-2], key=_init("beta", 1e-3))
    mode = c7.selectbox("dependency α", ALPHA_MODES, key=_init("alpha-mode", "logit"),
                        help="logit: logit size with the other modalities zeroed (authors' code); "
                             "accuracy: accuracy drop when the modality is zeroed")
    imap = c8.selectbox("training noise of intensity t", INTENSITY_MAPS, key=_init("imap", "variance"),
                        format_func=lambda m: {"variance": "variance t: sd √t (t ≥ 2)", "sd": "sd t (t ≥ 2)",
                                               "linear": "sd 0.3·(t − 1)"}[m],
                        help="METHODS.md §4: noise N(0, t) in train sd, t = 1 clean. 'variance' reads t as the "
                             "variance (as in the KL prior N(0, t)); 'sd' as the standard deviation (up to 11 sd); "
                             "'linear' is a gentler ramp")
    methods = st.multiselect("methods", METHODS.names(), key=_init("methods", METHODS.names()),
                             format_func=lambda n: f"{n} — {METHODS.doc(n)}")
    mcfg = UDMLConfig(gamma=float(gamma), beta=float(beta), alpha_mode=mode)
    tcfg = UDMLTrainConfig(epochs=int(epochs), clean_epochs=int(e1), weight_delay=int(delay), intensity_map=imap,
                            level_scale=default_level_scale(imap))
    return mcfg, tcfg, tuple(range(int(seeds))), tuple(methods)


def controls() -> UDMLSettings:
    dataset, syn, views, hard = _data_controls()
    mcfg, tcfg, seeds, methods = _train_controls()
    return UDMLSettings(dataset, syn, views, mcfg, tcfg, seeds, methods, hard)


def load(settings: UDMLSettings) -> MultimodalDataset:
    if settings.dataset == "uci-digits":
        if len(settings.views) != 2:
            raise ValueError(f"pick exactly two views, got {list(settings.views)}")
        return cached_uci(settings.views)
    return cached_synthetic(settings.synthetic)


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
