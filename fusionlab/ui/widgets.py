"""Shared widgets: dataset pickers and small helpers. Widget keys carry the page's name."""
from __future__ import annotations

from typing import Optional, Sequence

import streamlit as st

from ..data import (DATASETS, RULES, UCI_DEFAULT_VIEWS, UCI_VIEWS, MultimodalDataset, SyntheticConfig,
                    load_dataset, load_file)
from ..text import signed


@st.cache_data(show_spinner=False, max_entries=16)
def cached_uci(views: tuple, pix_as_sequence: bool = False) -> MultimodalDataset:
    return load_dataset("uci-digits", views=list(views), pix_as_sequence=pix_as_sequence)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_synthetic(cfg: SyntheticConfig) -> MultimodalDataset:
    return load_dataset("synthetic", cfg=cfg)


@st.cache_data(show_spinner=False, max_entries=4)
def cached_file(data: bytes, filename: str) -> MultimodalDataset:
    return load_file(data, filename=filename)


def synthetic_controls(key: str, defaults: Optional[SyntheticConfig] = None) -> SyntheticConfig:
    d = defaults or SyntheticConfig()
    c1, c2, c3 = st.columns(3)
    rule = c1.selectbox("label rule", RULES, index=RULES.index(d.rule), key=f"{key}-rule",
                        help="linear: a latent rule every modality sees; dot: sign of <x1, x2> (seed 002); "
                             "conflict: each sample trusts one modality, the others contradict it")
    m = c2.number_input("modalities", 2, 6, d.n_modalities, key=f"{key}-m")
    t = c3.number_input("timesteps T", 1, 32, d.seq_len, key=f"{key}-t")
    c4, c5, c6 = st.columns(3)
    n = c4.number_input("samples", 32, 20000, d.n_samples, step=100, key=f"{key}-n")
    dim = c5.number_input("features per modality", 2, 256, d.dim, key=f"{key}-dim")
    classes = c6.number_input("classes", 2, 10, d.n_classes, key=f"{key}-classes", disabled=rule == "dot")
    frac = st.slider("fraction of samples corrupted (per-sample severity, returned as ground truth)", 0.0, 1.0,
                     d.corrupt_fraction, 0.05, key=f"{key}-corrupt")
    return SyntheticConfig(n_samples=int(n), n_modalities=int(m), dim=int(dim), seq_len=int(t), n_classes=int(classes),
                           rule=rule, corrupt_fraction=float(frac), seed=d.seed)


def dataset_controls(key: str, datasets: Sequence[str] = (), allow_sequence: bool = False,
                     default_views: Sequence[str] = UCI_DEFAULT_VIEWS) -> Optional[MultimodalDataset]:
    """Pick and load a dataset; on bad input show ``st.error`` and return ``None``."""
    names = list(datasets) or DATASETS.names()
    name = st.selectbox("dataset", names, key=f"{key}-dataset",
                        format_func=lambda n: f"{n} — {DATASETS.doc(n)}" if n in DATASETS else n)
    try:
        if name == "uci-digits":
            views = st.multiselect("views", list(UCI_VIEWS), default=list(default_views), key=f"{key}-views",
                                   format_func=lambda v: f"{v} ({UCI_VIEWS[v]})",
                                   help="pix is strong on its own, mor (6 morphological features) is weak")
            seq = allow_sequence and st.checkbox("pix as a sequence of 16 image rows", key=f"{key}-pixseq")
            if not views:
                st.warning("Pick at least one view.")
                return None
            return cached_uci(tuple(views), bool(seq))
        if name == "synthetic":
            return cached_synthetic(synthetic_controls(key))
        if name == "file":
            up = st.file_uploader("features file (.npz, .csv, .parquet)", type=["npz", "csv", "parquet"],
                                  key=f"{key}-upload",
                                  help="npz: one array per modality (N, D) or (N, T, D) plus 'labels'. "
                                       "csv/parquet: a 'labels' column and columns named <modality>__<feature>.")
            if up is None:
                st.info("Upload a file to use your own features.")
                return None
            return cached_file(up.getvalue(), up.name)
        return load_dataset(name)
    except ValueError as exc:
        st.error(f"Cannot use this dataset: {exc}")
        return None


def describe_dataset(ds: MultimodalDataset) -> str:
    shapes = ", ".join(f"{k} {t}×{d}" if t > 1 else f"{k} {d}" for k, (t, d) in ds.shapes().items())
    return f"**{ds.name}**: {ds.n_samples} samples, {ds.n_classes} classes; modalities {shapes}"


def init_state(key: str, default) -> str:
    """Return widget ``key`` after setting its default once in session_state.

    Widgets that presets set must take their default this way (not as a ``value=``
    argument), or Streamlit warns that the value came from two places.
    """
    st.session_state.setdefault(key, default)
    return key


def metric_change(value: float, reference: float, name: str) -> dict:
    """``st.metric`` keyword arguments for the change of ``value`` from ``reference``: signed,
    never ``-0.000``, and without a coloured arrow when it rounds to no change."""
    change = signed(value - reference)
    return dict(delta=f"{change} vs {name}", delta_color="off" if change == signed(0) else "normal")
