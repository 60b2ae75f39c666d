"""Controls and presets of the Fusion complexity page (the fusion-complexity paper)."""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, Optional, Tuple

import streamlit as st

from ..experiments import scaling as study
from ..experiments.scaling import ScalingConfig, doubling_sizes
from ..fusion import FUSIONS, fusion_options
from ..noise import CORRUPTIONS
from .forms import data_controls, data_state, init_state
from .bundle_box import PageSaving
from .links import Param, data_params
from .operators import option_controls, option_params, option_state

KEY = "fusion_complexity"
SIZE_OPTIONS = doubling_sizes(4096)  # 32 .. 4096
NOISE_CHOICES = [n for n in ("mix", "additive") if n in CORRUPTIONS]


def _k(name: str) -> str:
    return f"{KEY}-{name}"


def state_of(cfg: ScalingConfig) -> Dict[str, object]:
    """Every widget's session-state value for ``cfg`` (what a preset button writes)."""
    return {**data_state(KEY, cfg.data), _k("fusions"): list(cfg.fusions), _k("noise"): cfg.noise,
            _k("max_size"): max(cfg.sizes) if cfg.sizes else SIZE_OPTIONS[-1], _k("seeds"): cfg.n_seeds,
            _k("epochs"): cfg.train.epochs, _k("attribution"): cfg.attribution,
            **{k: v for f in cfg.fusions for k, v in option_state(KEY, f, cfg.fusion_options.get(f, {}),
                                                                   study.operator_defaults(cfg).get(f, {})).items()}}


def _apply(name: str) -> None:
    for k, v in state_of(study.PRESETS[name][0]).items():
        st.session_state[k] = v


def preset_buttons() -> None:
    cols = st.columns(len(study.PRESETS))
    for col, (name, (_, cost)) in zip(cols, study.PRESETS.items()):
        col.button(name, key=_k(f"preset-{name}"), on_click=_apply, args=(name,), help=f"runs in {cost}")


URL_PATH = "fusion_complexity"
MAX_SELECT = {"views": 2}  # the study fuses two modalities


def link_params(dataset: str) -> Dict[str, Param]:
    """The page's controls as URL parameters (``ui.links``), and ``preset``."""
    return {**data_params(KEY, dataset, study.DATASET_NAMES, MAX_SELECT),
            "preset": Param("", "str", list(study.PRESETS), apply=_apply),
            "fusions": Param(_k("fusions"), "strs", FUSIONS.names()), "noise": Param(_k("noise"), "str", NOISE_CHOICES),
            "max_size": Param(_k("max_size"), "int", SIZE_OPTIONS), "seeds": Param(_k("seeds"), "int", lo=1, hi=20),
            "epochs": Param(_k("epochs"), "int", lo=1, hi=100), "attribution": Param(_k("attribution"), "bool"),
            **option_params(KEY, FUSIONS.names())}


def controls() -> Tuple[Optional[ScalingConfig], object]:
    """The study's config from the widgets (None while the dataset settings are unusable) and the upload."""
    d = study.DEFAULT
    data, source = data_controls(KEY, study.DATASET_NAMES, study.DATA_DEFAULTS, d.data.name, MAX_SELECT)
    c1, c2 = st.columns([2, 1])
    fusions = c1.multiselect("fusions", FUSIONS.names(), key=init_state(_k("fusions"), d.fusions),
                             help="  \n".join(f"**{f}**: {FUSIONS.doc(f)}" for f in FUSIONS.names()))
    noise = c2.selectbox("noise", NOISE_CHOICES, key=init_state(_k("noise"), d.noise),
                         help="mix: (1 − α)x + αn; additive: x + αn; n ~ N(μ, s) of the modality's train split")
    c3, c4, c5 = st.columns(3)
    top = c3.select_slider("largest training size", SIZE_OPTIONS, key=init_state(_k("max_size"), max(d.sizes)),
                           help="sizes double from 32 up to this (must fit the train split)")
    seeds = c4.slider("seeds per setting", 1, 20, key=init_state(_k("seeds"), d.n_seeds),
                      help="each setting is trained from this many initialisations and shuffles, in one batched pass")
    epochs = c5.slider("epochs", 1, 100, key=init_state(_k("epochs"), d.train.epochs))
    attribution = st.checkbox(
        "which modality did each model use? (EMAP and the interaction share per fusion, size and seed)",
        key=init_state(_k("attribution"), d.attribution),
        help="Each trained model beside EMAP, its best additive copy, on the test set: a model that needs what the "
             "two modalities do together loses accuracy in its additive copy. About 0.3–0.5 s more per fusion, "
             "size and seed (EMAP evaluates every pair of test rows).")
    options = {}
    with_options = [f for f in fusions if fusion_options(f)]
    if with_options:
        with st.expander("Options of the chosen fusions"):
            for f in with_options:
                st.caption(f"**{f}**")
                chosen = option_controls(KEY, f, study.operator_defaults(d).get(f, {}))
                if chosen:
                    options[f] = chosen
    if data is None:
        return None, None
    if not fusions:
        st.warning("Pick at least one fusion.")
        return None, None
    cfg = replace(d, data=data, fusions=tuple(fusions), noise=noise, sizes=tuple(doubling_sizes(int(top))),
                  n_seeds=int(seeds), train=replace(d.train, epochs=int(epochs)), fusion_options=options,
                  attribution=bool(attribution))
    st.session_state[_k("config")] = cfg  # what the widgets describe (tests compare it with the CLI's)
    return cfg, source


def _restore(done) -> None:
    cfg = done.config
    if cfg.sizes != tuple(doubling_sizes(max(cfg.sizes))) or cfg != replace(
            study.DEFAULT, data=cfg.data, fusions=cfg.fusions, noise=cfg.noise, sizes=cfg.sizes, n_seeds=cfg.n_seeds,
            train=replace(study.DEFAULT.train, epochs=cfg.train.epochs), fusion_options=cfg.fusion_options,
            attribution=cfg.attribution):
        raise ValueError("it was run with settings this page has no control for (the CLI's sizes, levels or "
                         "split); replay it with `python -m fusionlab replay`")
    st.session_state[_k("run")] = (done.result, cfg)


SAVING = PageSaving(KEY, URL_PATH, study.SAVING, link_params, state_of, _restore)


def bundle_controls(run) -> None:
    """'Download run' (every fusion's and size's seeds, the tables and figures) and 'Reopen' of such a zip."""
    from ..figures import scaling as fig
    result, cfg = run if run is not None else (None, None)

    def figs() -> Dict[str, object]:
        res = result.artifacts.result
        return {"accuracy_vs_size": fig.accuracy_vs_size(res.scores, chance=res.chance, fusions=cfg.fusions),
                "params": fig.params_bars(res.params, cfg.fusions),
                "robustness": fig.robustness_grid(res.robustness, res.robust_size, cfg.fusions),
                **({"emap": fig.emap_figure(res.emap, cfg.fusions)} if not res.emap.empty else {})}
    SAVING.box(result, cfg, result, figs, f"fusionlab-fusion-complexity-seed{cfg.first_seed}.zip" if cfg else "")
