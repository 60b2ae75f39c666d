"""Controls, presets and session state of the Gates & values page (VGMR, the VGMR paper)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Dict, List, Optional, Tuple

import pandas as pd
import streamlit as st
import torch

from ..data import DataConfig, PreparedData
from ..experiments import gates as study
from ..experiments.gates import BACKBONES, GatesConfig
from ..options import controls
from ..refiners.vgmr import VGMRConfig
from .forms import data_controls as generated_data_controls
from .forms import data_state, init_state, option_widget, state_shapes
from .bundle_box import PageSaving
from .links import Param, data_params, field_param
from .attribution import shapley_bars
from .live import LiveSlider
from .operators import option_controls, option_params, option_state
from .glossary import term
from .methods import methods_link

KEY = "gates_values"
PAPER = "Before Fusion, Ask What to Keep: Contextual Calibration of Multimodal Signals (the VGMR paper, VGMR)"
FORMULAS = [
    r"P_m = \phi_m(X_m),\qquad s_m = \psi_m\big([\operatorname{mean}_t P_m;\ \max_t P_m]\big)",
    r"a_{mn} = s_m \odot s_n,\quad \delta_{mn} = |s_m - s_n|,\quad c_m = \tfrac{1}{M-1}\textstyle\sum_{n\ne m} s_n,"
    r"\quad z_m = [s_m; \{s_n\}; \{a_{mn}\}; \{\delta_{mn}\}; c_m]",
    r"u_m = E_m(z_m),\qquad v_g = \sigma(w_m^\top u_m + b_m),\qquad v_c = \sigma(W_m u_m + b'_m)",
    r"G = \sigma\big(A_m(X_m) + B_m(P_m) + C_m(v_g - \tfrac12) + D_m(v_c - \tfrac12)\big)",
    r"G_{amp} = 1 + \lambda(2G - 1),\qquad G_{eff} = \rho + (1-\rho)\,G_{amp},"
    r"\qquad \tilde X_m = \mathrm{Dropout}(\mathrm{LN}(G_{eff} \odot X_m))",
    r"L = L_{task} + \beta\,\tfrac1B\textstyle\sum_i \sum_m \big[(v_{g,m,i} - \hat\Delta_{m,i})^2"
    r" + (\bar v_{c,m,i} - \hat\Delta_{m,i})^2\big] + \gamma\, L_{reg},\quad"
    r" \hat\Delta_{m,i} = \sigma(\Delta_{m,i}/\tau)",
    r"L_{reg} = \textstyle\sum_m \big[\mathrm{relu}(\kappa - \mathrm{sd}(v_{g,m}))"
    r" + \operatorname{mean}_c \mathrm{relu}(\kappa - \mathrm{sd}(v_{c,m,c}))\big]",
]
PLAIN = (
    f"In plain words: **{term('v_g', '`v_g`')}** (global value, one number in (0, 1) per modality and sample) is how "
    "much the model expects this modality to matter for this sample, judged from how it agrees with and differs "
    f"from the others; **{term('v_c', '`v_c`')}** (channel values) is the same per latent channel. "
    f"**{term('G', '`G`')}** is the raw gate, a number in (0, 1) for every timestep and feature, computed from the "
    f"features themselves and the values; **{term('G_eff', '`G_eff`')}** is what actually multiplies the input after "
    f"amplification ({term('lambda', 'λ')}) and residual retention ({term('rho_vgmr', 'ρ')}): below 1 suppresses, "
    f"above 1 amplifies. `X̃` is the refined input the backbone sees. Every symbol: the {term('vgmr', 'glossary')}.")


@dataclass
class GatesRun:
    """A trained VGMR model and what the page computed from it (one user's, in session_state)."""

    config: GatesConfig
    model: torch.nn.Module
    data: PreparedData
    history: pd.DataFrame
    best_epoch: int
    samples: Optional[pd.DataFrame] = None
    tables: Dict[str, pd.DataFrame] = field(default_factory=dict)
    models: Dict = field(default_factory=dict)  # (method, seed) -> trained model, for the study's later stages

    @property
    def vgmr(self):
        return self.config.vgmr

    def result(self, **extra: pd.DataFrame):
        """What the page has computed so far as the study's ``Result`` (a bundle saves it, a lesson step reads it)."""
        return study.page_result(self.config, self.data, self.models, self.history, self.best_epoch,
                                 {**self.tables, **extra})

    @property
    def backbone(self) -> str:
        return self.config.backbone


def current_run() -> Optional[GatesRun]:
    return st.session_state.get(f"{KEY}-run")


def formula_expander() -> None:
    with st.expander("VGMR — formulas and source"):
        for f in FORMULAS:
            st.latex(f)
        st.markdown(
            f"Source: *{PAPER}*; the paper's equations were lost in extraction, so this follows the "
            f"reconstruction in {methods_link('vgmr-the-value-gated-refiner', 'Methods')}. Choices: `G_eff = ρ + (1−ρ)·G_amp`; the value target is "
            "`σ(Δ/τ)` with `Δ_{m,i}` sample *i*'s loss increase when modality *m* is dropped (zeros, no gradient, "
            "eval mode; the option *batch* uses the batch mean instead, which only ranks the modalities); the "
            "anti-collapse term covers `v_g` and `v_c` (the option *global* keeps the `v_g` term only). "
            "`LN` after the gate is the paper's (*post-gate*); *pre-gate* is `G_eff ⊙ LN(X)`, *none* drops it. "
            "`G_eff` lies in "
            "(ρ+(1−ρ)(1−λ), ρ+(1−ρ)(1+λ)): with the paper's λ = 0.5, ρ = 0.2 that is (0.6, 1.4).")


def _defaults(values: Dict[str, object]) -> None:
    """Initial widget values, set once through session_state (so presets can change them without warnings)."""
    for k, v in values.items():
        init_state(k, v)


def _set(values: Dict[str, object]) -> None:
    for k, v in values.items():
        st.session_state[k] = v


def noise_units(shape: Tuple[int, ...]) -> Tuple[int, str]:
    """How many units ``timestep`` noise picks from, and what they are: the timesteps of a sequence,
    the entries of a vector (``T = 1``) — as ``fusionlab.noise.timestep`` counts them."""
    t, d = (1, shape[0]) if len(shape) == 1 else shape
    return (int(t), "timesteps") if t > 1 else (int(d), "entries")


def _noise_values(shapes: Dict[str, Tuple[int, int]], ratios: Dict[str, float], weight: float = 1.0) -> Dict[str, object]:
    """Slider values: per modality the number of noised units (``round(ratio * units)``, as the
    corruption rounds) and the weight."""
    out: Dict[str, object] = {}
    for k, shape in shapes.items():
        out[f"{KEY}-noised-{k}"] = int(round(float(ratios.get(k, 0.0)) * noise_units(shape)[0]))
        out[f"{KEY}-weight-{k}"] = float(weight)
    return out


def presets(*shape_maps: Dict[str, Tuple[int, int]], trained: bool = True) -> None:
    """Buttons that set the controls to a paper setting in one click.

    The noise sliders are set for every ``{modality: (T, D)}`` given: the trained model's and
    the selected dataset's, so a preset clicked before retraining on another dataset still
    holds once the new model is there. Before any model (``trained`` False) the noise sliders do not exist yet, so
    the presets that only move them are disabled and say why (they changed nothing but the address)."""
    wait = "" if trained else " — the noise sliders appear with a trained model: train first"
    row = st.container(horizontal=True)  # buttons as wide as their labels (four columns cut them at 1024 px)
    lists = [dict(m) for m in shape_maps if m]
    first = next(iter(lists[0])) if lists else ""

    def noise(per_list) -> dict:
        out = {}
        for shapes in lists:
            out.update(_noise_values(shapes, per_list(list(shapes))))
        return out

    row.button("Paper §4.4 setting", key=f"{KEY}-p-paper",
              help=f"λ 0.5, ρ 0.2 (the VGMR paper's §4.1) and 30% of {first or 'the first modality'}'s timesteps noised "
                   f"(§4.4){wait and ' once a model is trained'}",
              on_click=_set, args=({f"{KEY}-lambda": 0.5, f"{KEY}-rho": 0.2, **noise(lambda n: {n[0]: 0.3})},))
    row.button("Neutral gate (λ = 0)", key=f"{KEY}-p-neutral",
              help="λ = 0 makes G_amp = 1, so G_eff = 1: the refiner only applies LayerNorm (retrain to see it)",
              on_click=_set, args=({f"{KEY}-lambda": 0.0, f"{KEY}-rho": 0.2},))
    row.button("Heavy noise everywhere", key=f"{KEY}-p-heavy", help="noise ratio 0.8, weight 1 on every modality" + wait,
              on_click=_set, args=(noise(lambda n: {k: 0.8 for k in n}),), disabled=not trained)
    row.button("Clean inputs", key=f"{KEY}-p-clean", help="every noise slider at 0" + wait, on_click=_set,
               args=(noise(lambda n: {}),), disabled=not trained)
    row.button("Structured synthetic", key=f"{KEY}-p-structured",
               help="the synthetic data with noise that persists over each sample's timesteps, so a noised "
                    "timestep stands out from the others (retrain to see it)",
               on_click=_set, args=(data_state(KEY, study.STRUCTURED_DATA),))


URL_PATH = "gates_values"


def link_params(dataset: str) -> Dict[str, Param]:
    """The page's model controls as URL parameters (``ui.links``)."""
    return {**data_params(KEY, dataset, study.DATASET_NAMES),
            "backbone": Param(f"{KEY}-backbone", "str", BACKBONES),
            **refiner_params(),
            "epochs": Param(f"{KEY}-epochs", "int", lo=1, hi=60), "seed": Param(f"{KEY}-seed", "int", lo=0, hi=10_000),
            **option_params(KEY, BACKBONES),
            "sample": Param(f"{KEY}-sample", "int", lo=0, hi=100_000, late=True, default=0), **noise_params()}


def noise_params() -> Dict[str, Param]:
    """``noised-<modality>`` (how many timesteps or entries) and ``weight-<modality>``: the noise sliders, for
    the trained model's modalities, or before training those the dataset controls pick."""
    run = current_run()
    shapes = run.data.shapes() if run is not None else state_shapes(KEY, study.DATA_DEFAULTS, study.DEFAULT.data.name)
    out: Dict[str, Param] = {}
    for k, shape in shapes.items():
        out[f"noised-{k}"] = Param(f"{KEY}-noised-{k}", "int", lo=0, hi=noise_units(shape)[0], late=True, default=0)
        out[f"weight-{k}"] = Param(f"{KEY}-weight-{k}", "float", lo=0.0, hi=1.0, step=0.05, late=True, default=1.0)
    return out


def data_controls() -> tuple[Optional[DataConfig], object]:
    return generated_data_controls(KEY, study.DATASET_NAMES, study.DATA_DEFAULTS, study.DEFAULT.data.name)


REFINER_KEYS = {"lambda_amp": "lambda", "rho": "rho", "value_target": "value-target", "regulariser": "regulariser",
                "norm": "norm", "value_rows": "value-rows"}  # option -> its widget's key (links and saved runs use them)


def refiner_widget(name: str, defaults: VGMRConfig):
    """The widget of one of VGMR's declared options, generated from its declaration (label, help, range,
    choices and their words), starting at ``defaults``' value."""
    f = next(f for f in fields(VGMRConfig) if f.name == name)
    return option_widget(f, f"{KEY}-{REFINER_KEYS[name]}", getattr(defaults, name))


def refiner_params() -> Dict[str, Param]:
    """VGMR's declared options as link parameters (named as before: ``lambda``, ``value_rows`` ...)."""
    return {{"lambda_amp": "lambda"}.get(f.name, f.name): field_param(f, f"{KEY}-{REFINER_KEYS[f.name]}")
            for f in controls(VGMRConfig)}


def model_controls(data: Optional[DataConfig]) -> Optional[GatesConfig]:
    d = study.DEFAULT
    c1, c2, c3 = st.columns(3)  # at 1024 px five columns cut the select's text ("transfor")
    backbone = c1.selectbox("backbone", BACKBONES, key=init_state(f"{KEY}-backbone", d.backbone),
                            help="concat: pool over time, concatenate, MLP head; transformer: tokens of all "
                                 "modalities with a modality embedding, one encoder layer, mean-pool")
    v = {}  # VGMR's declared options (refiners.vgmr.VGMRConfig), widgets generated from the declaration
    with c2:
        v["lambda_amp"] = refiner_widget("lambda_amp", d.vgmr)
    with c3:
        v["rho"] = refiner_widget("rho", d.vgmr)
    c4, c5 = st.columns(2)
    epochs = c4.slider("epochs", 1, 60, key=init_state(f"{KEY}-epochs", d.train.epochs))
    seed = c5.number_input("seed", 0, 10_000, key=init_state(f"{KEY}-seed", d.train.seed))
    for row in (("value_target", "regulariser"), ("norm", "value_rows")):  # two to a row: readable at 1024 px
        for col, name in zip(st.columns(2), row):
            with col:
                v[name] = refiner_widget(name, d.vgmr)
    backbone_options = option_controls(KEY, backbone)
    if data is None:
        return None
    cfg = replace(d, data=data, backbone=backbone, backbone_options=backbone_options,
                  vgmr=replace(d.vgmr, **v),
                  train=replace(d.train, epochs=int(epochs), seed=int(seed)))
    st.session_state[f"{KEY}-config"] = cfg  # what the widgets describe (tests compare it with the CLI's)
    return cfg


def noise_sliders(shapes: Dict[str, Tuple[int, int]]) -> List[LiveSlider]:
    """Per modality: how many of its timesteps (entries, for a vector) are noised — the noise ratio in
    steps of ``1 / units``, so every step changes the input — and the noise weight (a live view's sliders)."""
    _defaults(_noise_values(shapes, {}))
    out = []
    for k, shape in shapes.items():  # a preset written for another dataset's T may exceed this one's
        units, what = noise_units(shape)
        key = f"{KEY}-noised-{k}"
        st.session_state[key] = min(int(st.session_state[key]), units)
        out.append(LiveSlider(f"{k}: noised {what} (of {units})", key, tuple(float(i) for i in range(units + 1)),
                              tuple(str(i) for i in range(units + 1)),
                              help=f"how many of this sample's {units} {what} are mixed toward noise (the noise "
                                   f"ratio is this over {units}); which ones is drawn at random, per sample"))
        out.append(LiveSlider(f"{k}: noise weight", f"{KEY}-weight-{k}", tuple(round(j * 0.05, 10) for j in range(21)),
                              help=f"x ← (1 − w)·x + w·n on the noised {what}; 1 replaces them with noise; with "
                                   "nothing noised the weight changes nothing", inert_unless=len(out) - 1,
                              inert_note=f"no effect: no {what} noised"))
    return out


def same_noise(values: Tuple[float, ...]) -> Tuple[Optional[float], ...]:
    """Settings that draw alike: a modality's noise weight changes nothing while none of it is noised."""
    return tuple(v if j % 2 == 0 or values[j - 1] > 0 else None for j, v in enumerate(values))


def slider_noise(shapes: Dict[str, Tuple[int, int]], values: Tuple[float, ...]) -> Dict[str, Tuple[float, float]]:
    """The live sliders' values (noised units, weight per modality) as ``{modality: (ratio, weight)}``."""
    return {k: (values[2 * j] / noise_units(shape)[0], float(values[2 * j + 1]))
            for j, (k, shape) in enumerate(shapes.items())}


SAMPLE_LAYOUT_TIPS = {
    "vg": "compare the noised modality's value with the clean ones'; 'Compute gate statistics' further down says "
          "which way values moved over the whole test set here, next to the paper's finding.",
    "vc": "channels stuck at 0 or 1 on every sample are saturated and carry no per-sample information.",
    "shapley": "exact Shapley values over every coalition of modalities (the others at their train mean): which "
               "modality this prediction used, under the current noise; 'Which modality did it use?' further down "
               "answers it for the whole test set.",
}


def sample_layout(names: List[str]) -> List[List[Tuple[str, str]]]:
    """The sample view's rows: the first modality's heatmaps right under the sliders (what they move, on one screen
    at 1024 px), then the values, then the other modalities' heatmaps."""
    heat = [[(f"heat-{k}", "outlined cells are the noised ones; G_eff below 1 (suppression) on them is the "
                           "gate doing what the paper says." if i == 0 else "")] for i, k in enumerate(names)]
    return [[("text", "")], *heat[:1], [("vg", SAMPLE_LAYOUT_TIPS["vg"]), ("shapley", SAMPLE_LAYOUT_TIPS["shapley"])],
            [("vc", SAMPLE_LAYOUT_TIPS["vc"])], *heat[1:]]


def sample_frame(run: "GatesRun", idx: int, noise: Dict[str, Tuple[float, float]]) -> Dict[str, object]:
    """Everything the sample view draws for one setting of the noise sliders."""
    from ..diagnostics.gates import gate_range, sample_view
    from ..figures import vgmr as vfig
    try:
        view = sample_view(run.model, run.data, idx, noise, seed=run.config.train.seed)
    except ValueError as exc:
        return {"text": f"Cannot show this sample: {exc}"}
    cls = run.data.class_names
    lo, hi = gate_range(run.vgmr)
    scale = (f"the full range of `G_eff` ({lo:.2f}–{hi:.2f})" if hi - lo > 1e-9 else
             f"λ = 0 makes `G_eff` exactly {lo:.2f} (neutral) everywhere, so the gate heatmap is flat")
    frame: Dict[str, object] = {
        "text": f"Sample **{idx}**: true label **{cls[view.label]}**, predicted **{cls[view.pred]}** "
                f"(p = {view.probs[view.pred]:.2f}, {'correct' if view.pred == view.label else 'wrong'}) "
                f"under the current noise. Gate colour scale: {scale}.",
        "vg": vfig.value_bars(view.v_g), "vc": vfig.channel_value_strip(view.v_c),
        "shapley": shapley_bars(run.model, {k: torch.from_numpy(x)[None] for k, x in view.x.items()}, run.data,
                                run.data.test.y[idx:idx + 1])}
    for k, shape in run.data.shapes().items():
        ratio, weight = noise[k]
        units, what = noise_units(shape)
        noised = (f"{round(ratio * units)} of {units} {what} noised (outlined), weight {weight:g}" if ratio > 0
                  else "clean")
        frame[f"heat-{k}"] = vfig.sample_heatmaps(view.x[k], view.g_eff[k], view.diff[k], k, (lo, hi),
                                                  f"{k} — {noised}; mean G_eff {view.g_eff[k].mean():.3f}",
                                                  view.noised[k])
    return frame


def attribution_section(run: "GatesRun") -> None:
    """Which modality the first VGMR used over the test set, at the sliders' noise (``ui.attribution``)."""
    from ..diagnostics.gates import corrupt_test, noise_label
    from .attribution import which_modality
    noise = {k: v for k, v in current_noise(run.data.shapes()).items() if v[0] > 0 and v[1] > 0}
    which_modality(KEY, run.model, run.data, lambda: corrupt_test(run.data, noise, run.config.train.seed),
                   noise_label(noise), "the first VGMR")


def current_noise(shapes: Dict[str, Tuple[int, int]]) -> Dict[str, Tuple[float, float]]:
    """What :func:`noise_sliders` last returned, read back from the widgets' state (outside their fragment)."""
    out = {}
    for k, shape in shapes.items():
        n = int(st.session_state.get(f"{KEY}-noised-{k}", 0))
        out[k] = (n / noise_units(shape)[0], float(st.session_state.get(f"{KEY}-weight-{k}", 1.0)))
    return out


def pick_from_chart() -> None:
    """``on_select`` callback of the sample scatter: the clicked point becomes the sample index."""
    event = st.session_state.get(f"{KEY}-scatter")
    points = (event or {}).get("selection", {}).get("points", [])
    if points:
        idx = points[0].get("customdata")
        idx = idx[0] if isinstance(idx, (list, tuple)) else idx
        if idx is not None:
            st.session_state[f"{KEY}-sample"] = int(idx)


def sample_picker(n: int) -> int:
    if st.session_state.get(f"{KEY}-sample", 0) >= n:
        st.session_state[f"{KEY}-sample"] = 0
    return int(st.number_input("test sample index (or click a point in the scatter)", 0, n - 1, step=1,
                               key=f"{KEY}-sample"))


def widget_state(cfg: GatesConfig) -> Dict[str, object]:
    """The widget values that show ``cfg`` on this page."""
    v = cfg.vgmr
    return {**data_state(KEY, cfg.data), f"{KEY}-backbone": cfg.backbone, f"{KEY}-lambda": v.lambda_amp,
            f"{KEY}-rho": v.rho, f"{KEY}-epochs": cfg.train.epochs, f"{KEY}-seed": cfg.train.seed,
            f"{KEY}-value-target": v.value_target, f"{KEY}-regulariser": v.regulariser, f"{KEY}-norm": v.norm,
            f"{KEY}-value-rows": v.value_rows, **option_state(KEY, cfg.backbone, cfg.backbone_options)}


def _restore(done) -> None:
    cfg, tables = done.config, dict(done.result.tables)
    samples, history, best = tables.pop("samples"), tables.pop("history"), tables.pop("best")
    models = done.result.artifacts.models
    st.session_state[f"{KEY}-run"] = GatesRun(cfg, models[("vgmr", cfg.train.seed)], done.result.artifacts.data,
                                              history, int(best["best_epoch"].iloc[0]), samples=samples,
                                              tables=tables, models=models)


SAVING = PageSaving(KEY, URL_PATH, study.SAVING, link_params, widget_state, _restore)


def bundle_controls(run: Optional[GatesRun]) -> None:
    """'Download run' (every model the page trained, its tables, figures and sliders) and 'Reopen' of such a zip."""
    from ..diagnostics.gates import sample_table
    from ..figures import training_curves
    from ..figures import vgmr as vfig

    def figs() -> Dict[str, object]:
        out = {"training_curves": training_curves(run.history)}
        if "gate_stats" in run.tables:
            out["gate_stats"] = vfig.gate_stats_figure(run.tables["gate_stats"])
        if "robustness" in run.tables:
            out["robustness"] = vfig.robustness_bands(run.tables["robustness"])
        return out
    result = None
    if run is not None:
        if run.samples is None:
            run.samples = sample_table(run.model, run.data)
        result = run.result(samples=run.samples)
    SAVING.box(run, run.config if run else None, result, figs,
               f"fusionlab-gates-{run.backbone}-seed{run.config.train.seed}.zip" if run else "",
               version=(tuple(sorted(run.models)), tuple(sorted(run.tables))) if run else None)
