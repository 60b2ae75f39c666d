"""Controls, presets and session state of the Uncertainty-weighting page (the UDML paper, UDML)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional

import streamlit as st

from ..experiments import udml as study
from ..experiments.base import Result
from ..experiments.udml import UDMLStudyConfig
from ..models.udml import ALPHA_MODES, FUSIONS_ALLOWED, VARIANTS
from ..models.udml_schedule import CLEAN_DRAWS, INTENSITY_MAPS, LABELS, max_level, units_of, with_units
from ..train import OPTIMIZERS
from ..noise import SAME_AS, distinct_corruptions, level_range
from .forms import data_controls, data_state, init_state, state_shapes
from .bundle_box import PageSaving
from .links import Param, data_params, literal
from .live import LiveSlider, Metric
from ..figures.udml import METHOD_NAMES
from .methods import methods_link
from .operators import option_controls, option_params, option_state

KEY = "udml"

FORMULAS = [
    r"z_m = \mu_m + \epsilon\,\sigma_m,\quad \hat s_m = \exp\!\big(\tfrac12 f_m(\overline{\sigma_m}^{\,\mathrm{detach}})\big)",
    r"\mathcal{L} = \mathrm{CE}(\text{fused}) + \gamma \sum_m \mathrm{CE}(\text{unimodal}_m)"
    r" + \beta\,\mathrm{KL}\big(\mathcal N(\mu_m,\sigma_m^2)\,\|\,\mathcal N(0, t_m)\big) + 0.1\,(\hat s_m - t_m)^2",
    r"\alpha_m = \textstyle\sum_c \mathrm{mean}_{\text{batch}} |\mathrm{logit}_c(h_{k\ne m} = 0)|"
    r"\quad\text{(the last training step's, or a running mean)}",
    r"w_m = M\,\frac{1/(\hat s_m^2\,\alpha_m)}{\sum_k 1/(\hat s_k^2\,\alpha_k)},\qquad h_m \leftarrow h_m + w_m h_m",
]


@dataclass
class UDMLRun:
    """A trained study and its tables (one user's, in session_state)."""

    result: Result
    config: UDMLStudyConfig

    @property
    def study(self):
        return self.result.artifacts.study

    @property
    def hard(self) -> Optional[str]:
        return self.result.artifacts.hard

    @property
    def robustness(self):
        return self.result.tables["robustness"]


MAX_EPOCHS, MAX_E1 = 120, 60  # the authors' code trains 100 epochs, the first 50 clean


def numbers(values) -> str:
    """``(32.0, 10.0)`` as the text field shows it: ``32, 10``."""
    return ", ".join(f"{v:g}" for v in values)


def _k(name: str) -> str:
    return f"{KEY}-{name}"


def state_of(cfg: UDMLStudyConfig) -> Dict[str, object]:
    """Every widget's session-state value for ``cfg`` (what a preset button writes)."""
    return {**data_state(KEY, cfg.data), _k("epochs"): cfg.train.epochs, _k("e1"): cfg.schedule.clean_epochs,
            _k("delay"): cfg.schedule.weight_delay, _k("seeds"): cfg.seeds, _k("gamma"): cfg.model.gamma,
            _k("beta"): cfg.model.beta, _k("alpha-mode"): cfg.model.alpha_mode,
            _k("imap"): cfg.schedule.intensity_map, _k("methods"): list(cfg.methods), _k("fusion"): cfg.model.fusion,
            _k("labels"): cfg.schedule.labels, _k("clean-draw"): cfg.schedule.clean_draw,
            _k("test-noise"): SAME_AS.get(cfg.test_noise, cfg.test_noise),  # additive is gaussian on the page
            **{_k(f"opt-{name}"): getattr(cfg.model, name) for name in AUTHOR_OPTIONS},
            _k("opt-alpha_in_warmup"): cfg.model.alpha_in_warmup, _k("opt-alpha_init"): numbers(cfg.model.alpha_init),
            _k("opt-patience"): cfg.train.patience is not None,
            _k("opt-optimizer"): cfg.train.optimizer, _k("opt-lr"): cfg.train.lr,
            _k("opt-lr_step"): cfg.train.lr_steps[0] if cfg.train.lr_steps else 0,
            _k("opt-clip_norm"): cfg.train.clip_norm or 0.0, _k("opt-noise_units"): units_of(cfg.schedule) == "authors",
            **option_state(KEY, cfg.model.fusion, cfg.model.fusion_options)}


AUTHOR_OPTIONS = {  # UDMLConfig field -> (label, {choice: plain words}, one-line help)
    "alpha_update": ("α is updated", {"step": "every step (authors)", "running": "as a running mean"},
                     "the dependency α is re-measured at every training step; keep only the latest (the authors) or average them"),
    "alpha_features": ("α measured on", {"weighted": "the weighted features (authors)",
                                         "unweighted": "the unweighted features"},
                       "whether α is measured after or before the weights rescale each modality"),
    "aux_heads": ("unimodal logits from", {"shared": "the shared head (authors)",
                                           "separate": "a separate head per modality"},
                  "each modality's own classifier: the shared fusion head with the other modalities zeroed (the authors), or "
                  "its own head"),
    "intensity_grad": ("the weights", {"keep": "also train the estimate (authors)",
                                       "detach": "do not train the estimate"},
                       "whether the classification loss may also train the noise estimate through the weights (the authors: it does)"),
    "estimator_input": ("the noise estimate reads", {"sigma": "σ of the embedding (paper)", "mu": "μ of the embedding",
                                                     "x": "the raw input (its ceiling)"},
                        "what the noise predictor looks at; the raw input shows what an estimator could learn"),
    "mse_reduction": ("the noise MSE over modalities", {"mean": "averaged (ours)", "sum": "summed (authors)"},
                      "the authors' code sums the intensity MSE over modalities: twice the weight at two modalities"),
    "head": ("the fusion head", {"mlp": "two layers (ours)", "linear": "one Linear (authors)"},
             "ours: Linear–ReLU–Dropout–Linear; the authors' head is one linear layer: a modality's logits with the others zeroed keep the bias, and α "
             "passes through no ReLU or dropout"),
}


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


URL_PATH = "uncertainty_weighting"
MAX_SELECT = {"views": 2}  # the study fuses two modalities
BETAS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def link_params(dataset: str) -> Dict[str, Param]:
    """The page's controls as URL parameters (``ui.links``), and ``preset``."""
    out = {**data_params(KEY, dataset, study.DATASET_NAMES, MAX_SELECT),
           "preset": Param("", "str", list(study.PRESETS), apply=apply_preset),
           "epochs": Param(_k("epochs"), "int", lo=2, hi=MAX_EPOCHS), "e1": Param(_k("e1"), "int", lo=0, hi=MAX_E1),
           "delay": Param(_k("delay"), "int", lo=0, hi=20), "seeds": Param(_k("seeds"), "int", lo=1, hi=3),
           "gamma": Param(_k("gamma"), "float", lo=0.0, hi=5.0, step=0.5),
           "beta": Param(_k("beta"), "float", BETAS),
           "alpha": Param(_k("alpha-mode"), "str", ALPHA_MODES), "imap": Param(_k("imap"), "str", INTENSITY_MAPS),
           "fusion": Param(_k("fusion"), "str", FUSIONS_ALLOWED), "labels": Param(_k("labels"), "str", LABELS),
           "clean_draw": Param(_k("clean-draw"), "str", CLEAN_DRAWS),
           "test_noise": Param(_k("test-noise"), "str", [n for n in study.TEST_NOISES if n in distinct_corruptions()]),
           "methods": Param(_k("methods"), "strs", VARIANTS.names()),
           "alpha_in_warmup": Param(_k("opt-alpha_in_warmup"), "bool"),
           "alpha_init": Param(_k("opt-alpha_init"), "str"),
           "patience": Param(_k("opt-patience"), "bool"),
           "optimizer": Param(_k("opt-optimizer"), "str", OPTIMIZERS),
           "lr": Param(_k("opt-lr"), "float", lo=1e-5, hi=1.0),
           "lr_step": Param(_k("opt-lr_step"), "int", lo=0, hi=MAX_EPOCHS),
           "clip_norm": Param(_k("opt-clip_norm"), "float", lo=0.0, hi=1000.0),
           "noise_units": Param(_k("opt-noise_units"), "bool"), **option_params(KEY, FUSIONS_ALLOWED)}
    out.update({name: Param(_k(f"opt-{name}"), "str", [str(w) for w in words])
                for name, (_, words, _) in AUTHOR_OPTIONS.items()})
    out.update(level_params())
    return out


def level_params() -> Dict[str, Param]:
    """``level-<modality>``: a "max test noise" slider (the nearest of its positions is taken), for the
    trained study's modalities, or before training those the dataset controls pick."""
    run = current_run()
    names = (list(run.study.data.modality_names) if run is not None
             else list(state_shapes(KEY, study.DATA_DEFAULTS, study.DEFAULT.data.name)))
    schedule = (run.config if run is not None else study.DEFAULT).schedule
    values = [slider_levels(schedule, i if len(schedule.maps or schedule.scales) == len(names) else None)
              for i in range(len(names))]
    return {f"level-{k}": Param(_k(f"lv-{k}"), "float", lo=0.0, hi=values[i][-1], late=True,
                                default=default_level(i, values[i])) for i, k in enumerate(names)}


def author_options(d: UDMLStudyConfig) -> Dict[str, object]:
    """The expander of the authors' training details: each option's widget, starting at ``d``'s value."""
    with st.expander("The authors' training details (each marked 'authors' is their public code)"):
        cols = st.columns(2)  # two to a row: six columns cut every choice's words at 1024 px
        opts = {}
        for i, (name, (label, words, helptext)) in enumerate(AUTHOR_OPTIONS.items()):
            opts[name] = cols[i % 2].selectbox(label, list(words), key=_init(f"opt-{name}", getattr(d.model, name)),
                                               format_func=words.get, help=helptext)
        opts["alpha_in_warmup"] = cols[len(AUTHOR_OPTIONS) % 2].toggle("1/α in warm-up (authors)",
                                                  key=_init("opt-alpha_in_warmup", d.model.alpha_in_warmup),
                                                  help="before the estimate joins the weights, UDML already "
                                                       "weighs by 1/α")
        text = cols[(len(AUTHOR_OPTIONS) + 1) % 2].text_input(
            "α before its first measurement", key=_init("opt-alpha_init", numbers(d.model.alpha_init)),
            help="one value for every modality, or one per modality, comma-separated (ours 1; the authors' code "
                 "starts audio at 32, video at 10)")
        try:
            opts["alpha_init"] = tuple(float(v) for v in text.split(",") if v.strip()) or (1.0,)
        except ValueError:
            st.error(f"α before its first measurement: {literal(text, 40)} is not a list of numbers; using 1.")
            opts["alpha_init"] = (1.0,)
        c1, c2 = st.columns(2)
        train = {"optimizer": c1.selectbox("optimiser", OPTIMIZERS, key=_init("opt-optimizer", d.train.optimizer),
                                           format_func={"adamw": "AdamW (ours)",
                                                        "sgd": "SGD, momentum 0.9 (authors)"}.get,
                                           help="the authors' code trains with SGD (momentum 0.9, weight decay 1e-4)"),
                 "lr": float(c2.number_input("learning rate", 1e-5, 1.0, key=_init("opt-lr", d.train.lr),
                                             format="%.4f", help="1e-3 in both"))}
        step = int(c1.number_input("learning rate ÷ 10 after epoch (0: never)", 0, MAX_EPOCHS,
                                   key=_init("opt-lr_step", d.train.lr_steps[0] if d.train.lr_steps else 0),
                                   help="the authors' code: after epoch 70 of 100"))
        clip = float(c2.number_input("clip the gradient's norm at (0: never)", 0.0, 1000.0,
                                     key=_init("opt-clip_norm", d.train.clip_norm or 0.0),
                                     help="the authors' code: 40"))
        early = c1.toggle("early stop (ours)",
                          key=_init("opt-patience", d.train.patience is not None),
                          help="ours: stop after 10 epochs without a validation gain; the authors' code trains every "
                               "epoch")
        units = c2.toggle("noise in the authors' units", key=_init("opt-noise_units", units_of(d.schedule) == "authors"),
                          help="their code: the first modality read as audio gets sd t in its spectrogram's units "
                               "(0.55 train sd each), the second as video sd t² in pixel units (1/57.6 train sd "
                               "each), and from t = 11 both are replaced by noise; off: 'training noise of intensity "
                               "t' for both, always added")
        train.update(lr_steps=(step,) if step else (), clip_norm=clip or None, patience=10 if early else None)
        opts["train"] = train
        opts["units"] = "authors" if units else "ours"
    return opts


def controls() -> Optional[UDMLStudyConfig]:
    """The study's config from the widgets (None while the dataset settings are unusable)."""
    d = study.DEFAULT
    data, source = data_controls(KEY, study.DATASET_NAMES, study.DATA_DEFAULTS, d.data.name, MAX_SELECT)
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.slider("epochs", 2, MAX_EPOCHS, key=_init("epochs", d.train.epochs),
                       help="passes over the training data, for every method and seed")
    e1 = c2.slider("clean epochs E₁", 0, MAX_E1, key=_init("e1", d.schedule.clean_epochs),
                   help="the first epochs see clean data only; the training noise starts after them")
    delay = c3.slider("weight delay (epochs)", 0, 20, key=_init("delay", d.schedule.weight_delay),
                      help="after E₁, the noise estimate stays out of the training weights for this many epochs "
                           "(10 in the authors' code), so it learns before it is used")
    seeds = c4.slider("seeds", 1, 3, key=_init("seeds", d.seeds),
                      help="each method is trained once per seed; findings compare methods seed by seed")
    c5, c6 = st.columns(2)  # selects with long option texts: two to a row, readable at 1024 px
    gamma = c5.slider("γ (unimodal loss weight)", 0.0, 5.0, step=0.5, key=_init("gamma", d.model.gamma),
                      help="how much each modality's own classifier counts in the loss: it keeps every modality "
                           "learning even when fusion could ignore it")
    beta = c6.select_slider("β (KL weight)", BETAS, key=_init("beta", d.model.beta),
                            help="how strongly each embedding's spread σ is pulled toward the injected noise: "
                                 "larger β makes σ carry the noise")
    c7, c8 = st.columns(2)
    mode = c7.selectbox("dependency α", ALPHA_MODES, key=_init("alpha-mode", d.model.alpha_mode),
                        help="α says how much the model relies on a modality: logit = the size of the fusion head's "
                             "logits with the other modalities zeroed (authors' code); accuracy = the accuracy lost "
                             "when this modality is zeroed")
    imap = c8.selectbox("training noise of intensity t", INTENSITY_MAPS, key=_init("imap", d.schedule.intensity_map),
                        format_func=lambda m: {"variance": "variance t: sd √t (t ≥ 2)", "sd": "sd t (t ≥ 2)",
                                               "squared": "sd t² (t ≥ 2)", "linear": "sd 0.3·(t − 1)"}[m],
                        help="how an intensity label t (1 = clean … 11) becomes noise: the lab's N(0, t) in "
                             "train sd, read as a variance (default), as a sd (up to 11 sd), its square, or a gentle "
                             "ramp; the authors' units (in their training details) replace it")
    c9, c10 = st.columns(2)
    fusion = c9.selectbox("fusion", FUSIONS_ALLOWED, key=_init("fusion", d.model.fusion),
                          help="how the weighted modalities are combined; UDML claims to work with any")
    labels = c10.selectbox("intensity labels", LABELS, key=_init("labels", d.schedule.labels),
                           format_func=lambda v: {"fixed": "drawn once per sample (authors)",
                                                  "redrawn": "redrawn every batch"}[v],
                           help="whether a training sample keeps its noise intensity for all epochs (the authors' "
                                "loader) or gets a new one each time")
    c11, c12 = st.columns(2)
    clean_draw = c12.selectbox("clean training samples", CLEAN_DRAWS, key=_init("clean-draw", d.schedule.clean_draw),
                               format_func=lambda v: {"bernoulli": "each with probability ½",
                                                      "exact": "exactly half (authors)"}[v],
                               help="which training samples keep intensity 1 (clean) in every modality: each "
                                    "independently with probability ½, or exactly half of them as the authors' code")
    test_noise = c11.selectbox("test noise of the estimator sweep",
                               [n for n in study.TEST_NOISES if n in distinct_corruptions()],
                               key=_init("test-noise", d.test_noise),
                               help="the corruption (a) injects; gaussian is the training noise, the others were "
                                    "never seen in training: does the estimate still rise?")
    opts = author_options(d)
    fusion_opts = option_controls(KEY, fusion)
    methods = st.multiselect("methods", VARIANTS.names(), key=_init("methods", list(d.methods)),
                             format_func=lambda n: f"{n} — {VARIANTS.doc(n)}",
                             help="which weightings to train: static (all 1), PE (from the embedding's variance), "
                                  "UDML without and with the dependency α")
    if data is None:
        return None
    train_opts, units = opts.pop("train"), opts.pop("units")
    cfg = replace(d, data=data, model=replace(d.model, gamma=float(gamma), beta=float(beta), alpha_mode=mode,
                                              fusion=fusion, fusion_options=fusion_opts, **opts),
                  train=replace(d.train, epochs=int(epochs), **train_opts),
                  schedule=with_units(replace(d.schedule, clean_epochs=int(e1), weight_delay=int(delay),
                                              intensity_map=imap, labels=labels, clean_draw=clean_draw), units),
                  seeds=int(seeds), methods=tuple(methods), test_noise=test_noise)
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
            f"authors' public code as recorded in {methods_link('udml-uncertainty-weighting', 'Methods')}.")


def slider_levels(schedule, m: Optional[int] = None) -> List[float]:
    """Modality ``m``'s "max test noise" slider positions: the noise levels of the training schedule's intensities
    t = 1 (clean), 2, ..., its maximum, and on to the top of the gaussian range if that is higher — the paper's
    own scale, and few enough positions to evaluate them all beforehand."""
    from ..models.udml_schedule import intensity_to_level
    top = max(level_range("gaussian")[1], max_level(schedule, m))
    values, t = [0.0], 2
    while values[-1] < top - 1e-9 and t <= 100:
        values.append(round(intensity_to_level(float(t), schedule, m), 6))
        t += 1
    return values


def default_level(i: int, values: List[float]) -> float:
    """The first modality starts noisy (1.5 train sd, at the nearest position), the others clean."""
    return min(values, key=lambda v: abs(v - 1.5)) if i == 0 else 0.0


def noise_sliders(names: list[str], schedule) -> List[LiveSlider]:
    """One "max test noise" slider per modality (a live view's), at :func:`slider_levels`."""
    sliders, own = [], len(schedule.maps or schedule.scales) == len(names)  # a map per modality, or one for all
    for i, k in enumerate(names):
        values = slider_levels(schedule, i if own else None)
        _init(f"lv-{k}", default_level(i, values))
        sliders.append(LiveSlider(f"max test noise on {k} (train sd)", _k(f"lv-{k}"), tuple(values),
                                  tuple(f"{v:.2f} (t = {j + 1})" for j, v in enumerate(values)),
                                  help="each test sample gets gaussian noise of a random level between 0 and this; "
                                       "the positions are the training schedule's intensities t"))
    return sliders


NOISE_LAYOUT = [
    [("metrics", "")],
    [("estimator", "the closer a method's ρ is to the oracle's, the better its weights read the noise it was given.")],
    [("weights", "noisier samples should get smaller weights; a flat cloud is a weighting that ignores the noise.")],
    [("rob", "dynamic weighting helps where its curve stays above static fusion's as the test noise rises.")],
]


def noise_frame(run: "UDMLRun", method: str, max_levels: Dict[str, float]) -> Dict[str, object]:
    """Everything the noise view draws for one setting of the max-noise sliders (``method``: whose weights)."""
    import pandas as pd
    from ..diagnostics.udml import (current_accuracy, per_sample_levels, sample_weights, spearman_table,
                                    study_oracle, study_response)
    from ..figures import udml as fig
    from ..figures.common import with_shapes
    from ..models.udml_schedule import level_to_intensity
    from .widgets import metric_change
    st_ = run.study
    levels = per_sample_levels(len(st_.data.test), max_levels, st_.eval_seed)
    try:
        acc = current_accuracy(st_, levels)
        sweeps: dict = {}  # the swept inputs, built once per seed for every model and the oracle
        resp = pd.concat([study_response(st_, levels, sweeps), study_oracle(st_, st_.seeds, levels, sweeps)],
                         ignore_index=True)
    except ValueError as exc:
        return {"metrics": f"Cannot evaluate: {exc}"}
    means = acc.groupby("method", sort=False)["current"].agg(["mean", "std"])
    static = means["mean"].get("static")
    metrics = []
    for m, r in means.iterrows():
        change = {} if static is None or m == "static" else metric_change(r["mean"], static, "static")
        metrics.append(Metric(f"{METHOD_NAMES.get(m, m)} accuracy", f"{r['mean']:.3f}", change.get("delta", ""),
                              change.get("delta_color", "normal")))
    names = st_.data.modality_names
    marks = {k: level_to_intensity(v, st_.schedule, names.index(k)) for k, v in max_levels.items()}
    w = sample_weights(st_, method, st_.seeds[0], levels)
    return {"metrics": metrics,
            "estimator": fig.estimator_figure(resp, spearman_table(resp), marks=marks),
            "weights": fig.weights_figure(w, f"(b) {method}: per-sample weights vs injected noise"),
            "rob": with_shapes(robustness_base(run), fig.robustness_marks(run.robustness, max_levels))}


def robustness_base(run: "UDMLRun") -> dict:
    """The robustness figure without the sliders' marks, built once per run (it took 70 ms a slider position)."""
    from ..figures import udml as fig
    memo = run.result.artifacts.memo
    if "robustness-figure" not in memo:
        memo["robustness-figure"] = fig.robustness_methods_figure(run.robustness).to_plotly_json()
    return memo["robustness-figure"]


def attribution_section(run: "UDMLRun", method: str) -> None:
    """Which modality the first seed's ``method`` model used over the test set, at the sliders' noise (each test
    sample at a random level up to the slider's, as the noise view draws it; ``ui.attribution``)."""
    from ..diagnostics.udml import NOISE, noise_label, per_sample_levels
    from ..noise import corrupt_modalities
    from .attribution import which_modality
    st_ = run.study
    seed = st_.seeds[0]
    max_levels = current_levels(st_.data.modality_names)

    def inputs():
        levels = per_sample_levels(len(st_.data.test), max_levels, st_.eval_seed)
        return corrupt_modalities(st_.data.test.xs, levels, NOISE, seed, st_.data.stats)
    which_modality(f"{KEY}-{method}", st_.models[(method, seed)], st_.data, inputs, noise_label(max_levels),
                   f"the seed-{seed} {METHOD_NAMES.get(method, method)} model", header=False)


def current_levels(names: list[str]) -> Dict[str, float]:
    """What :func:`noise_sliders` last returned, read back from the widgets' state (outside their fragment)."""
    return {k: float(st.session_state.get(_k(f"lv-{k}"), 0.0)) for k in names}


def current_run() -> Optional[UDMLRun]:
    return st.session_state.get(_k("run"))


def store_run(run: UDMLRun) -> None:
    st.session_state[_k("run")] = run


def _restore(done) -> None:
    store_run(UDMLRun(done.result, done.config))


SAVING = PageSaving(KEY, URL_PATH, study.SAVING, link_params, state_of, _restore)


def bundle_controls(run: Optional[UDMLRun]) -> None:
    """'Download run' (every method's and seed's model, the tables, figures and sliders) and 'Reopen'."""
    from ..diagnostics.udml import alpha_table
    from ..figures import udml as fig

    def figs() -> Dict[str, object]:
        out = {"alpha": fig.alpha_figure(alpha_table(run.study))}
        if len(run.result.tables.get("unimodal", ())):
            out["unimodal"] = fig.unimodal_figure(run.result.tables["unimodal"])
        return out
    SAVING.box(run, run.config if run else None, run.result if run else None, figs,
               f"fusionlab-udml-seed{run.config.train.seed}.zip" if run else "",
               savable=run is not None and not run.result.stopped)
