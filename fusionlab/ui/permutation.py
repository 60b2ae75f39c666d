"""Controls, presets and per-user caches of the Reliability permutation page (seed 000).

Experts are fitted once per (dataset, seed, expert, point-5 corruption) and kept in
``st.session_state`` with their real quality scores and broken-Q results, so moving a
control slider (fidelity, rate k) only builds the control's ``Q`` and re-fuses cached
expert outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional

import pandas as pd
import streamlit as st

from ..data import MultimodalDataset, PreparedData
from ..diagnostics.experts import EXPERTS, ExpertBank, ExpertConfig, RowCorruption
from ..diagnostics.permutation import PermutationConfig, PermutationResult, q_vs_correct, run_scores
from ..diagnostics.permutation_runs import DiagnosticConfig, build_bank, score_bank
from ..diagnostics.quality import CONTROLS, QualityConfig, real_scores, score
from .widgets import init_state

KEY = "permutation"
NONE = "none"
MAX_BANKS = 6

PRESETS = {
    "paper: clean data": {"control": NONE, "corrupt-mod": NONE},
    "positive control: corruption": {"control": "control-corruption", "rate": 0.3, "corrupt-mod": NONE},
    "positive control: correctness-aligned": {"control": "control-aligned", "fidelity": 1.0, "corrupt-mod": NONE},
    "making quality matter": {"control": NONE, "corrupt-mod": "__last__", "corrupt-frac": 0.5, "corrupt-max": 1.0},
}


@dataclass
class Base:
    """What "Fit experts" fixed: the prepared split and the expert settings (one user's)."""

    dataset: MultimodalDataset
    data: PreparedData
    expert: ExpertConfig
    seed: int


def apply_preset(name: str, modalities: List[str]) -> None:
    for k, v in PRESETS[name].items():
        st.session_state[f"{KEY}-{k}"] = modalities[-1] if v == "__last__" and modalities else v


def preset_buttons(modalities: List[str]) -> None:
    cols = st.columns(2) + st.columns(2)
    for c, name in zip(cols, PRESETS):
        c.button(name, key=f"{KEY}-preset-{name}", on_click=apply_preset, args=(name, modalities),
                 width="stretch")


def expert_controls() -> tuple[ExpertConfig, int]:
    c1, c2 = st.columns(2)
    kind = c1.selectbox("expert per modality", EXPERTS.names(), key=f"{KEY}-expert",
                        format_func=lambda n: f"{n} — {EXPERTS.doc(n)}")
    seed = int(c2.number_input("seed (split, experts, permutations)", 0, 10_000, 0, key=f"{KEY}-seed"))
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
    """Point 5: corrupt a fraction of one modality's rows (train and test alike)."""
    c1, c2, c3 = st.columns(3)
    mod = c1.selectbox("corrupt modality (train and test rows)", [NONE, *modalities],
                       key=init_state(f"{KEY}-corrupt-mod", NONE))
    frac = c2.slider("fraction of its rows corrupted", 0.0, 1.0, step=0.05, key=init_state(f"{KEY}-corrupt-frac", 0.5),
                     disabled=mod == NONE)
    top = c3.slider("max severity (mix α, per row ~ U(0.3·max, max))", 0.1, 1.0, step=0.05,
                    key=init_state(f"{KEY}-corrupt-max", 1.0),
                    disabled=mod == NONE)
    if mod == NONE:
        return RowCorruption(seed=seed)
    return RowCorruption(modality=mod, fraction=float(frac), max_level=float(top), min_level=0.3 * float(top),
                         seed=seed)


def permutation_controls(seed: int) -> PermutationConfig:
    c1, c2 = st.columns(2)
    k = c1.select_slider("K permutations", [50, 100, 200, 500, 1000], 200, key=f"{KEY}-k")
    joint = c2.checkbox("one joint permutation for all modalities", key=f"{KEY}-joint")
    return PermutationConfig(permutations=int(k), joint=bool(joint), seed=seed)


def _entry(base: Base, corruption: RowCorruption) -> Dict:
    """The cached bank, real scores and results for this corruption (fitted on first use)."""
    cache: Dict = st.session_state.setdefault(f"{KEY}-cache", {})
    key = corruption  # the cache is emptied whenever "Fit experts" sets a new base
    if key not in cache:
        cfg = DiagnosticConfig(expert=base.expert, corruption=corruption, seed=base.seed)
        with st.spinner("fitting the frozen experts and quality scores ..."):
            bank: ExpertBank = build_bank(base.data, cfg)
            scored = score_bank(bank, real_scores(), QualityConfig(seed=base.seed))
        while len(cache) >= MAX_BANKS:
            cache.pop(next(iter(cache)))
        cache[key] = {"bank": bank, "scored": scored, "results": {}}
    return cache[key]


def diagnose(base: Base, corruption: RowCorruption, control: str, qcfg: QualityConfig,
             pcfg: PermutationConfig) -> tuple[ExpertBank, PermutationResult, pd.DataFrame]:
    """Broken-Q results for the real scores (cached) plus the selected control (rebuilt)."""
    entry = _entry(base, corruption)
    bank: ExpertBank = entry["bank"]
    if pcfg not in entry["results"]:
        entry["results"][pcfg] = run_scores(bank, entry["scored"], pcfg)
    parts = [entry["results"][pcfg]]
    scored = list(entry["scored"])
    if control != NONE:
        ctl = score(control, bank, replace(qcfg, seed=base.seed))
        parts.append(run_scores(bank, [ctl], pcfg))
        scored.append(ctl)
    result = PermutationResult(pd.concat([p.table for p in parts], ignore_index=True),
                               pd.concat([p.null for p in parts], ignore_index=True))
    qc = pd.concat([q_vs_correct(s, bank.y["test"], bank.names) for s in scored], ignore_index=True)
    return bank, result, qc


def current_base() -> Optional[Base]:
    return st.session_state.get(f"{KEY}-base")


def set_base(base: Base) -> None:
    st.session_state[f"{KEY}-base"] = base
    st.session_state[f"{KEY}-cache"] = {}
    st.session_state.pop(f"{KEY}-repeated", None)
