"""A fusion operator as a page shows it, from what its registry entry declares (``fusion.base.Fusion``): its
formula and source in an expander, its options as widgets (generated like a dataset's, from the same ``option``
declarations) and as link parameters. No page names an operator or an option."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence

import streamlit as st

from ..fusion import FUSIONS, fusion_options
from ..options import controls
from .forms import option_widget
from .links import Param, field_param
from .methods import methods_link


def option_key(page: str, fusion: str, name: str) -> str:
    return f"{page}-{fusion}-opt-{name}"


def formula_expander(fusion: str) -> None:
    cls = FUSIONS.get(fusion)
    with st.expander(f"How '{fusion}' fuses — formula and source"):
        if cls.formula:
            st.latex(cls.formula)
        st.markdown(f"`h_m` is modality *m*'s encoded feature vector (mean over time for sequences). "
                    f"{FUSIONS.doc(fusion)}.  \nSource: {cls.source}. More in "
                    f"{methods_link('fusion-operators', 'Methods')}.")


def option_controls(page: str, fusion: str, defaults: Mapping[str, Any] = {}) -> Dict[str, Any]:
    """The widgets of ``fusion``'s declared options, starting at ``defaults`` (a study's own, e.g. the
    fusion-complexity paper's tensor without the appended 1) or the operator's; returns those set away from them
    (what a config's operator options hold, so a default model's stays ``{}``)."""
    cls = fusion_options(fusion)
    if cls is None:
        return {}
    shown = controls(cls)
    cols = st.columns(min(3, len(shown))) if shown else []
    out = {}
    for i, f in enumerate(shown):
        with cols[i % len(cols)]:
            start = defaults.get(f.name, f.default)
            value = option_widget(f, option_key(page, fusion, f.name), start)
        if value != start:
            out[f.name] = value
    return out


def option_state(page: str, fusion: str, options: Mapping[str, Any], defaults: Mapping[str, Any] = {}
                 ) -> Dict[str, Any]:
    """The session-state values that make ``option_controls`` show ``options`` (over ``defaults``)."""
    cls = fusion_options(fusion)
    return {option_key(page, fusion, f.name): options.get(f.name, defaults.get(f.name, f.default))
            for f in controls(cls)} if cls else {}


def option_params(page: str, fusions: Sequence[str]) -> Dict[str, Param]:
    """``<operator>_<option>`` link parameters for the declared options of ``fusions``."""
    out = {}
    for fusion in fusions:
        cls = fusion_options(fusion)
        for f in controls(cls) if cls else ():
            out[f"{fusion}_{f.name}"] = field_param(f, option_key(page, fusion, f.name), default=f.default)
    return out

