"""Controls, presets and the progress-reporting runner of the Fusion complexity page (seed 002)."""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import streamlit as st

from ..data import UCI_VIEWS, MultimodalDataset, load_dataset
from ..data.cliplike import CLIP_LABELS
from ..diagnostics.scaling import ScalingConfig, doubling_sizes
from ..fusion import FUSIONS
from ..noise import CORRUPTIONS
from .widgets import cached_uci

KEY = "fusion_complexity"
SIZE_OPTIONS = doubling_sizes(4096)  # 32 .. 4096
SEED002_FUSIONS = ["concat", "product", "tensor"]
DEFAULTS = {"dataset": "clip-like", "label": "dot", "samples": 1500, "fusions": SEED002_FUSIONS, "max_size": 512,
            "seeds": 5, "epochs": 20, "noise": "mix", "views": ["fou", "kar"]}
PAPER = {**DEFAULTS, "samples": 6000, "max_size": 4096, "seeds": 20, "epochs": 100}
PRESETS = {
    "quick look (default)": ({**DEFAULTS}, "about half a minute"),
    "paper: dot-product task": ({**PAPER, "label": "dot"}, "about 15–25 minutes on 2 cores"),
    "paper: real labels": ({**PAPER, "label": "real"}, "about 15–25 minutes on 2 cores"),
}
NOISE_CHOICES = [n for n in ("mix", "additive") if n in CORRUPTIONS]


def _apply(values: dict) -> None:
    for k, v in values.items():
        st.session_state[f"{KEY}-{k}"] = list(v) if isinstance(v, list) else v


def init_state() -> None:
    for k, v in DEFAULTS.items():
        st.session_state.setdefault(f"{KEY}-{k}", list(v) if isinstance(v, list) else v)


def preset_buttons() -> None:
    cols = st.columns(len(PRESETS))
    for col, (name, (values, cost)) in zip(cols, PRESETS.items()):
        col.button(name, key=f"{KEY}-preset-{name}", on_click=_apply, args=(values,), help=f"runs in {cost}")


@st.cache_data(show_spinner=False, max_entries=8)
def cached_clip_like(label: str, n_samples: int) -> MultimodalDataset:
    return load_dataset("clip-like", label=label, n_samples=n_samples)


def dataset_controls() -> Tuple[Optional[MultimodalDataset], str]:
    """The dataset (``None`` with a message when unusable) and the label name for the results."""
    c1, c2, c3 = st.columns(3)
    name = c1.selectbox("dataset", ["clip-like", "uci-digits"], key=f"{KEY}-dataset")
    if name == "clip-like":
        label = c2.radio("label", CLIP_LABELS, key=f"{KEY}-label", horizontal=True,
                         help="real: a non-trivial rule of the shared latent (like sentiment); "
                              "dot: sign of the two embeddings' dot product (seed 002 §3)")
        n = c3.number_input("samples", 200, 20000, step=500, key=f"{KEY}-samples",
                            help="10% validation, 15% test, the rest is the pool the training sizes draw from")
        return cached_clip_like(label, int(n)), label
    views = c2.multiselect("two views", list(UCI_VIEWS), key=f"{KEY}-views", max_selections=2,
                           format_func=lambda v: f"{v} ({UCI_VIEWS[v]})")
    if len(views) != 2:
        st.warning("Seed 002 fuses two modalities: pick exactly two views.")
        return None, "class"
    try:
        return cached_uci(tuple(views)), "class"
    except ValueError as exc:
        st.error(f"Cannot use this dataset: {exc}")
        return None, "class"


def study_controls() -> ScalingConfig:
    c1, c2 = st.columns([2, 1])
    fusions = c1.multiselect("fusions", FUSIONS.names(), key=f"{KEY}-fusions",  # short chips: long ones were clipped
                             help="  \n".join(f"**{f}**: {FUSIONS.doc(f)}" for f in FUSIONS.names()))
    noise = c2.selectbox("noise", NOISE_CHOICES, key=f"{KEY}-noise",
                         help="mix: (1 − α)x + αn; additive: x + αn; n ~ N(μ, s) of the modality's train split")
    c3, c4, c5 = st.columns(3)
    top = c3.select_slider("largest training size", SIZE_OPTIONS, key=f"{KEY}-max_size",
                           help="sizes double from 32 up to this (must fit the train split)")
    seeds = c4.slider("seeds per setting", 1, 20, key=f"{KEY}-seeds")
    epochs = c5.slider("epochs", 1, 100, key=f"{KEY}-epochs")
    sizes = tuple(doubling_sizes(int(top)))
    return ScalingConfig(fusions=tuple(fusions), sizes=sizes, n_seeds=int(seeds), epochs=int(epochs), noise=noise)


def run_with_progress(run: Callable[[Callable[[float, str], None]], object], label: str = "study"):
    """Call ``run(progress)`` with a progress bar; the Stop button interrupts it through a rerun."""
    bar = st.progress(0.0, text=f"{label}: starting")
    st.session_state[f"{KEY}-progress"] = None

    def progress(fraction: float, message: str) -> None:
        st.session_state[f"{KEY}-progress"] = message
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {message}")

    result = run(progress)
    bar.progress(1.0, text=f"{label}: done")
    return result
