"""Controls, presets and per-user caches of the Reliability permutation page (the reliability paper).

The page calls ``experiments.permutation.run`` with a memo dict kept in ``st.session_state``:
experts are fitted once per (seed, expert, point-5 corruption) and scores once per quality setting
(the memo keys a score by the whole ``QualityConfig``, so moving the fidelity or rate slider also
re-scores the real scores: correct, slower than it needs to be).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional

import streamlit as st

from ..data import DataConfig, MultimodalDataset
from ..experts import EXPERTS, ExpertConfig
from ..noise import RowCorruption
from ..diagnostics.outputs import Outputs, outputs_scores
from ..diagnostics.permutation import ADAM_STEPS, ROUTE_TIES, ROUTER_FITS, ROUTER_L2, PermutationConfig
from ..experiments.permutation_runs import DiagnosticConfig
from ..diagnostics.quality import CONTROLS, QualityConfig, real_scores
from ..experiments import permutation as study
from ..experiments.base import Result
from ..experiments.permutation import OutputsConfig, PermutationStudyConfig
from ..noise import CORRUPTIONS
from .forms import data_controls, init_state
from .bundle_box import PageSaving
from .links import Param, data_params

ROUTER_PENALTIES = ("fit", "0", "1e-05", "0.0001", "0.001", "0.01")  # the moe router penalties the page offers
# one label whatever the fit (a label that changed with the fit made Streamlit return the old label as the value)
FIT_OWN = f"the fit's own (L-BFGS {ROUTER_L2['lbfgs']:g}, Adam {ROUTER_L2['adam']:g})"

KEY = "permutation"
NONE = "none"
CORRUPTION_CHOICES = [n for n in ("mix", "missing", "gaussian", "additive", "drop") if n in CORRUPTIONS]

PRESETS = {
    "paper: clean data": {"control": NONE, "corrupt-mod": NONE},
    "positive control: corruption": {"control": "control-corruption", "rate": 0.3, "corrupt-mod": NONE},
    "positive control: correctness-aligned": {"control": "control-aligned", "fidelity": 1.0, "corrupt-mod": NONE},
    "making quality matter": {"control": NONE, "corrupt-mod": "__last__", "corrupt-noise": "mix", "corrupt-frac": 0.5,
                              "corrupt-max": 1.0},
    "a modality missing on 30 % of rows": {"control": NONE, "corrupt-mod": "__last__", "corrupt-noise": "missing",
                                           "corrupt-frac": 0.3},
}
FEATURE_PRESETS = ("making quality matter", "a modality missing on 30 % of rows")  # they corrupt features


SOURCES = {"features": "our experts, fitted on features", "outputs": "your own model's outputs (a file)"}
OUTPUTS_HELP = ("One row per sample: `label`; `split` (train/test) or `fold` (integer); per modality m and class c "
                "the posterior `p__m__c` (two classes: `p__m` = P(the larger label)); optional `q__m` in [0, 1] "
                "(your quality score, shown as `user`) and `present__m` (0/1). Or a .zip of the reliability paper's authors' "
                "artifacts (UNION .npz, splits/, unimodal_preds/<model>/, quality/). docs/data.md has a 6-row example.")


@dataclass
class Base:
    """What "Fit experts" (or "Load outputs") fixed: the dataset and expert settings, or your outputs, and the
    seed (one user's)."""

    dataset: Optional[MultimodalDataset]
    data_cfg: Optional[DataConfig]
    expert: ExpertConfig
    seed: int
    outputs: Optional[Outputs] = None
    outputs_cfg: OutputsConfig = OutputsConfig()

    @property
    def names(self) -> List[str]:
        return self.outputs.names if self.outputs is not None else self.dataset.modality_names


def source_control() -> str:
    return st.radio("what to test", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                    key=init_state(f"{KEY}-source", "features"))


def outputs_controls():
    """The upload, the authors' model name and the seed; returns ``(upload or None, OutputsConfig, seed)``."""
    up = st.file_uploader("your outputs (.csv, .parquet, .npz) or the authors' artifacts (.zip)",
                          type=["csv", "parquet", "npz", "zip"], key=f"{KEY}-outputs-file", help=OUTPUTS_HELP)
    c1, c2 = st.columns(2)
    model = c1.text_input("authors' layout: model (unimodal_preds/<model>; empty = the only one)",
                          key=init_state(f"{KEY}-outputs-model", ""))
    seed = int(c2.number_input("seed (permutations, controls)", 0, 10_000, key=init_state(f"{KEY}-seed", study.DEFAULT.seed)))
    return up, OutputsConfig(path=up.name if up is not None else "", model=model.strip()), seed


def read_outputs(cfg: OutputsConfig, data: bytes) -> Optional[Outputs]:
    """Your outputs, or None after an error message naming the problem."""
    try:
        return study.load_outputs_of(cfg, data)
    except ValueError as exc:
        st.error(f"Cannot use these outputs: {exc}")
        return None


def apply_preset(name: str, modalities: List[str]) -> None:
    """Set the preset's controls; its "last modality" stays a placeholder until the modalities are known (a link
    opens before any experts are fitted), and ``corruption_controls`` resolves it."""
    for k, v in PRESETS[name].items():
        st.session_state[f"{KEY}-{k}"] = modalities[-1] if v == "__last__" and modalities else v


def preset_buttons(modalities: List[str], features: bool = True) -> None:
    """The presets as buttons as wide as their labels, wrapping to a new line when the page is narrow (fixed
    columns cut the labels at 1024 px); with your outputs, none that corrupts features."""
    row = st.container(horizontal=True)
    for name in (n for n in PRESETS if features or n not in FEATURE_PRESETS):
        row.button(name, key=f"{KEY}-preset-{name}", on_click=apply_preset, args=(name, modalities))


URL_PATH = "reliability_permutation"
KS = [50, 100, 200, 500, 1000]


def link_params(dataset: str) -> Dict[str, Param]:
    """The page's controls as URL parameters (``ui.links``), and ``preset``. Its modality choice (``corrupt``)
    is checked when the page draws it, against the fitted dataset's modalities."""
    return {**data_params(KEY, dataset, study.DATASET_NAMES),
            "preset": Param("", "str", list(PRESETS), apply=lambda name: apply_preset(name, [])),
            "source": Param(f"{KEY}-source", "str", list(SOURCES)),
            "expert": Param(f"{KEY}-expert", "str", EXPERTS.names()),
            "seed": Param(f"{KEY}-seed", "int", lo=0, hi=10_000),
            "control": Param(f"{KEY}-control", "str", [NONE, *CONTROLS]),
            "fidelity": Param(f"{KEY}-fidelity", "float", lo=0.0, hi=1.0, step=0.05),
            "rate": Param(f"{KEY}-rate", "float", lo=0.0, hi=1.0, step=0.05),
            "corrupt": Param(f"{KEY}-corrupt-mod", "str"),
            "corrupt_noise": Param(f"{KEY}-corrupt-noise", "str", CORRUPTION_CHOICES),
            "corrupt_fraction": Param(f"{KEY}-corrupt-frac", "float", lo=0.0, hi=1.0, step=0.05),
            "corrupt_max": Param(f"{KEY}-corrupt-max", "float", lo=0.1, hi=1.0, step=0.05),
            "k": Param(f"{KEY}-k", "int", KS), "joint": Param(f"{KEY}-joint", "bool"),
            "observed_only": Param(f"{KEY}-observed", "bool"),
            "route_ties": Param(f"{KEY}-route-ties", "str", list(ROUTE_TIES)),
            "router_fit": Param(f"{KEY}-router-fit", "str", list(ROUTER_FITS)),
            "router_l2": Param(f"{KEY}-router-l2", "str", list(ROUTER_PENALTIES))}


def dataset_controls():
    return data_controls(KEY, study.DATASET_NAMES, study.DATA_DEFAULTS, study.DEFAULT.data.name)


def expert_controls() -> tuple[ExpertConfig, int]:
    d = study.DEFAULT
    c1, c2 = st.columns(2)
    kind = c1.selectbox("expert per modality", EXPERTS.names(), key=init_state(f"{KEY}-expert", d.diagnostic.expert.kind),
                        format_func=lambda n: f"{n} — {EXPERTS.doc(n)}")
    seed = int(c2.number_input("seed (split, experts, permutations)", 0, 10_000, key=init_state(f"{KEY}-seed", d.seed)))
    return ExpertConfig(kind=kind, seed=seed), seed


def control_controls() -> tuple[str, QualityConfig]:
    """Positive-control picker and its knobs; returns the control name (or NONE) and its config."""
    c1, c2, c3 = st.columns(3)
    control = c1.radio("positive control (uses test labels on purpose)", [NONE, *CONTROLS],
                       key=init_state(f"{KEY}-control", NONE))
    fidelity = c2.slider("control-aligned: fidelity", 0.0, 1.0, step=0.05, key=init_state(f"{KEY}-fidelity", 1.0),
                         help="0: Q is random; 1: Q = 1[expert correct]", disabled=control != "control-aligned")
    rate = c3.slider("control-corruption: rate k", 0.0, 1.0, step=0.05, key=init_state(f"{KEY}-rate", 0.3),
                     help="share of test rows where one expert is made confidently wrong and gets Q = 0; at 0 "
                          "and 1 every row has the same Q, so permuting it can change nothing (the control is void)",
                     disabled=control != "control-corruption")
    return control, QualityConfig(fidelity=float(fidelity), rate=float(rate))


def corruption_controls(modalities: List[str], seed: int) -> RowCorruption:
    """Point 5: corrupt a fraction of one modality's rows (train and test alike); ``missing`` removes the
    modality from those rows (its availability flag 0, docs/methods.md, corruptions and robustness)."""
    key = f"{KEY}-corrupt-mod"
    if st.session_state.get(key) == "__last__":
        st.session_state[key] = modalities[-1] if modalities else NONE
    elif st.session_state.get(key, NONE) not in (NONE, *modalities):  # from a link, for another dataset
        st.warning(f"Modality '{st.session_state[key]}' is not one of {', '.join(modalities)}: nothing is corrupted.")
        st.session_state[key] = NONE
    c1, c2, c3, c4 = st.columns(4)
    mod = c1.selectbox("corrupt modality (train and test rows)", [NONE, *modalities],
                       key=init_state(f"{KEY}-corrupt-mod", NONE))
    noise = c2.selectbox("corruption", CORRUPTION_CHOICES, key=init_state(f"{KEY}-corrupt-noise", "mix"),
                         disabled=mod == NONE, help="mix: (1-α)x + α·noise per row; missing: the rows lose the "
                                                    "modality (present = 0), which every rule and score masks")
    frac = c3.slider("fraction of its rows", 0.0, 1.0, step=0.05, key=init_state(f"{KEY}-corrupt-frac", 0.5),
                     disabled=mod == NONE)
    top = c4.slider("max severity (α per row ~ U(0.3·max, max))", 0.1, 1.0, step=0.05,
                    key=init_state(f"{KEY}-corrupt-max", 1.0), disabled=mod == NONE or noise == "missing",
                    help="not used by 'missing' (a row is there or not)")
    if mod == NONE:
        return RowCorruption()
    return RowCorruption(modality=mod, fraction=float(frac), noise=noise, max_level=float(top),
                         min_level=0.3 * float(top))


def permutation_controls() -> PermutationConfig:
    d = study.DEFAULT.diagnostic.permutation
    c1, c2 = st.columns(2)
    k = c1.select_slider("K permutations", KS, key=init_state(f"{KEY}-k", d.permutations))
    c3 = c2
    joint = c2.checkbox("joint permutation", key=init_state(f"{KEY}-joint", d.joint),
                        help="one permutation of the rows for all modalities' Q at once; off: each modality's Q is "
                             "permuted on its own")
    observed = c3.checkbox("fully observed rows only", key=init_state(f"{KEY}-observed", d.observed_only),
                           help="metrics on the test rows where every modality is present (the authors' FULL-only "
                                "evaluation); off: every test row counts, a missing modality simply has no say in "
                                "that row's decision")
    ties = c1.selectbox("route: experts tied at the top Q", list(ROUTE_TIES),
                        key=init_state(f"{KEY}-route-ties", d.route_ties),
                        format_func=lambda v: {"split": "share the weight", "first": "the first takes it (the authors')"}[v],
                        help="Quality scores clipped to 1 often tie. Sharing the weight is the default; the authors' "
                             "code takes the first expert in the modality order (argmax)")
    fit = c2.selectbox("moe: how the router is fitted", list(ROUTER_FITS),
                       key=init_state(f"{KEY}-router-fit", d.router_fit),
                       format_func=lambda v: {"lbfgs": "L-BFGS, two starts (ours)",
                                              "adam": f"Adam, {ADAM_STEPS} steps (the authors')"}[v],
                       help="Ours: L-BFGS from a start near zero and from one that follows Q, the better fit kept, on "
                            "every train row. The authors' script: Adam at rate 0.01 from one start, on the train "
                            "rows where every modality is present")
    current = str(st.session_state.get(f"{KEY}-router-l2", penalty_key(d.router_l2)))
    pen = c1.selectbox("moe: router penalty on W", penalty_options(current),
                       key=init_state(f"{KEY}-router-l2", penalty_key(d.router_l2)),
                       format_func=lambda v: FIT_OWN if v == "fit" else v,
                       help="l2 × ||W||²: ours 1e-3, the authors' 1e-4")
    return replace(d, permutations=int(k), joint=bool(joint), observed_only=bool(observed), route_ties=ties,
                   router_fit=fit, router_l2=None if pen == "fit" else float(pen))


def penalty_key(l2) -> str:
    """The penalty menu's entry for ``l2`` (None: the fit's own)."""
    if l2 is None or l2 == "fit":
        return "fit"
    return f"{float(l2):g}"


def penalty_options(current: str) -> List[str]:
    """The menu's penalties, and the current one where a run from the command line (any value in [0, 10]) set
    another."""
    return list(ROUTER_PENALTIES) + ([] if current in ROUTER_PENALTIES else [current])


def study_config(base: Base, control: str, qcfg: QualityConfig, corruption: RowCorruption,
                 pcfg: PermutationConfig, repeats: int = 1, folds: int = 0) -> PermutationStudyConfig:
    """The study's config the controls describe (the CLI builds the same from its flags)."""
    real = outputs_scores(base.outputs) if base.outputs is not None else real_scores()
    scores = tuple(real) + ((control,) if control != NONE else ())
    diagnostic = DiagnosticConfig(scores=scores, expert=replace(base.expert, seed=0), quality=qcfg,
                                  permutation=pcfg, corruption=corruption)
    if base.outputs is not None:
        return replace(study.DEFAULT, diagnostic=diagnostic, seed=base.seed, outputs=base.outputs_cfg)
    return replace(study.DEFAULT, data=base.data_cfg, diagnostic=diagnostic, seed=base.seed, repeats=repeats,
                   folds=folds)


def diagnose(base: Base, cfg: PermutationStudyConfig) -> Result:
    """``experiments.permutation.run`` on the fitted dataset (or your outputs), with this user's cache."""
    cache: Dict = st.session_state.setdefault(f"{KEY}-cache", {})  # emptied whenever "Fit experts" sets a new base
    with st.spinner("fitting the frozen experts and quality scores ..."):
        return study.run(cfg, dataset=base.dataset, memo=cache, outputs=base.outputs)


def current_base() -> Optional[Base]:
    return st.session_state.get(f"{KEY}-base")


def set_base(base: Optional[Base]) -> None:
    st.session_state[f"{KEY}-base"] = base
    st.session_state[f"{KEY}-cache"] = {}
    st.session_state.pop(f"{KEY}-repeated", None)


def widget_state(cfg: PermutationStudyConfig) -> Dict[str, object]:
    """The widget values that show ``cfg`` (features, one split) on this page."""
    from .forms import data_state
    d = cfg.diagnostic
    control = next((s for s in d.scores if s in CONTROLS), NONE)
    c = d.corruption
    return {**data_state(KEY, cfg.data), f"{KEY}-source": "features", f"{KEY}-expert": d.expert.kind,
            f"{KEY}-seed": cfg.seed, f"{KEY}-control": control, f"{KEY}-fidelity": d.quality.fidelity,
            f"{KEY}-rate": d.quality.rate, f"{KEY}-corrupt-mod": c.modality or NONE,
            f"{KEY}-corrupt-noise": c.noise if c.modality else "mix",
            f"{KEY}-corrupt-frac": c.fraction if c.modality else 0.5,
            f"{KEY}-corrupt-max": c.max_level if c.modality else 1.0, f"{KEY}-k": d.permutation.permutations,
            f"{KEY}-joint": d.permutation.joint, f"{KEY}-observed": d.permutation.observed_only,
            f"{KEY}-route-ties": d.permutation.route_ties, f"{KEY}-router-fit": d.permutation.router_fit,
            f"{KEY}-router-l2": penalty_key(d.permutation.router_l2)}


def _restore(done) -> None:
    cfg, d = done.config, done.config.diagnostic
    base = Base(study._dataset(cfg.data), cfg.data, ExpertConfig(kind=d.expert.kind, seed=cfg.seed), cfg.seed)
    control = next((s for s in d.scores if s in CONTROLS), NONE)
    c = d.corruption
    corruption = RowCorruption() if not c.modality else RowCorruption(
        modality=c.modality, fraction=c.fraction, noise=c.noise, max_level=c.max_level, min_level=0.3 * c.max_level)
    if study_config(base, control, d.quality, corruption, d.permutation) != cfg:
        raise ValueError("it was run with settings this page has no control for (the CLI's expert, quality or "
                         "corruption options); replay it with `python -m fusionlab replay`")
    set_base(base)
    st.session_state[f"{KEY}-cache"] = done.result.artifacts.memo  # the reopened experts: the run fits nothing
    st.session_state[f"{KEY}-reopened"] = True  # a full rerun redraws the controls outside the diagnostic view


SAVING = PageSaving(KEY, URL_PATH, study.SAVING, link_params, widget_state, _restore)


def bundle_controls(out: Optional[Result], cfg: Optional[PermutationStudyConfig], base: Optional[Base]) -> None:
    """'Download run' (the frozen experts, every table and figure) and 'Reopen' of such a zip."""
    from ..figures import permutation as figs

    def figures() -> Dict[str, object]:
        table, qc = out.tables["permutation"], out.tables["q_correct"]
        pick = list(table["score"])[-1]
        return {"histograms": figs.permutation_histograms(out.tables["null"], table, pick),
                "q_vs_correct": figs.q_vs_correct(qc[qc["score"] == pick]), "rho_delta": figs.rho_delta_summary(table)}
    SAVING.box(out, cfg, out, figures, f"fusionlab-permutation-seed{cfg.seed}.zip" if cfg else "",
               savable=base is not None and base.outputs is None, version=cfg,
               why="these are your own model's outputs; the file you loaded is the run")
