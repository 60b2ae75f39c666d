"""The "Does the decision depend on this signal?" section (docs/methods.md, signal permutation test), shared by three pages.

The page passes a function that runs the library's test (``experiments.*.signal_test``, what the
CLI's ``--permute-signals`` runs) on its trained model, with the noise its sliders set, and the
label of that noise. The section keeps the last result per page beside the model it belongs to,
and says which noise it was computed with.
"""
from __future__ import annotations

from typing import Callable, Optional

import streamlit as st

from ..diagnostics.permutation import PermutationResult
from ..diagnostics.signals import ALL, SignalTestConfig, input_findings, signal_findings
from ..figures.permutation import null_histograms, signal_histograms
from .findings import show_findings
from .methods import methods_link

COLUMNS = ["signal", "modality", "metric_clean", "metric_broken_mean", "metric_permuted_mean", "delta", "p_value",
           "f1_delta", "f1_p_value"]
SHOWN = {"metric_clean": "BA clean", "metric_broken_mean": "BA, signal shuffled (mean)",
         "metric_permuted_mean": "BA, inputs shuffled (mean)", "delta": "Δ", "p_value": "p", "f1_delta": "Δ macro-F1",
         "f1_p_value": "p (macro-F1)"}  # the table's columns in words on the page (the CSV keeps its names)
PERMUTATIONS = (50, 100, 200, 500, 1000)

EXPLAIN = (
    "A figure shows what a signal *is*; this asks whether the model *uses* it. With the trained model frozen, "
    "each test sample's signal is swapped with another sample's (a random permutation of the test rows) and the "
    "rest of the model runs as before — K times. If the decision used the signal, balanced accuracy drops: "
    "**Δ** (clean minus the mean over permutations) is above 0 and **p** (the share of permutations that did at "
    "least as well as the real signals) is small. Δ ≈ 0 with p ≫ 0.05 means the signal is decorative: whatever "
    "it shows, no decision depends on it. Row **all** swaps every modality's signal at once. The noise set above "
    "applies first, so you can ask whether a gate or weight matters more when a modality is noisy. (The reliability paper asked this of "
    "decision-level quality scores; " + methods_link("signal-permutation-test", "this test") + " asks it of the "
    "signals inside a model.)")


EXPLAIN_INPUTS = (
    "Does the model's decision use a modality at all? With the trained model frozen, each test sample's input of "
    "one modality is swapped with another sample's (a random permutation of the test rows), K times. A modality "
    "the decision uses loses balanced accuracy when its inputs no longer belong to the sample: **Δ** > 0 with a "
    "small **p**; Δ ≈ 0 means the model ignores it. This is the *perceptual score* (Gat et al., NeurIPS 2021), "
    "the companion of the " + methods_link("reliability-permutation-test", "reliability permutation test")
    + "; row **all** swaps every modality's inputs.")


def signal_header(what: str = "signal") -> None:
    st.subheader(f"Does the decision depend on this {what}?")
    st.markdown(EXPLAIN)


def input_section(key: str, model, test: Callable[[SignalTestConfig], PermutationResult], condition: str,
                  n_test: int) -> Optional[PermutationResult]:
    """The perceptual score (each modality's inputs permuted) with the page's current noise."""
    st.subheader("Does the decision use each modality? (perceptual score)")
    st.markdown(EXPLAIN_INPUTS)
    result = _run_and_keep(f"{key}-inputs", model, test, condition, n_test, "the input test")
    if result is None:
        return None
    table = result.table
    show_findings(input_findings(table))
    st.dataframe(table[[c for c in COLUMNS if c in table]].round(4).rename(columns=SHOWN), hide_index=True,
                 key=f"{key}-inputs-table")
    st.plotly_chart(null_histograms(result.null, table, "modality",
                                    "each modality's inputs swapped between test samples: balanced accuracy "
                                    "(dashed line = the real inputs)", "input-permuted",
                                    cols=min(4, table["modality"].nunique())), key=f"{key}-inputs-fig")
    st.caption("What to look for: a modality whose histogram sits far left of its dashed line is one the decision "
               "needs; one whose dashed line falls inside its histogram is one the model ignores.")
    return result


def _run_and_keep(key: str, model, test, condition: str, n_test: int, label: str) -> Optional[PermutationResult]:
    """K, the button, and the last result for this model (with the noise it was computed with)."""
    left, right = st.columns([1, 3])
    k = left.select_slider("permutations K", PERMUTATIONS, value=200, key=f"{key}-k",
                           help="more permutations: a finer p-value (the smallest possible is 1/(K+1)), slower")
    right.markdown("The test uses the noise the sliders above set when you press the button; the result says which.")
    if right.button(f"Run {label}", key=f"{key}-run", help=f"{k} permutations of the {n_test} test rows"):
        try:
            with st.spinner(f"running {label}"):
                result = test(SignalTestConfig(permutations=int(k)))
        except ValueError as exc:
            st.error(f"{label[0].upper()}{label[1:]}: {exc}")
            return None
        st.session_state[f"{key}-test"] = (id(model), condition, result)
    stored = st.session_state.get(f"{key}-test")
    if not stored or stored[0] != id(model):
        st.caption("Not run yet for this model: press the button.")
        return None
    _, computed, result = stored
    st.markdown(f"Computed with noise: **{computed}**.")
    return result


def signal_section(key: str, model, test: Callable[[SignalTestConfig], PermutationResult], condition: str,
                   n_test: int, what: Optional[str] = "signal") -> Optional[PermutationResult]:
    """Button, table, verdicts and null histograms of the signal test for ``model`` (after
    :func:`signal_header`, unless ``what`` is None: the page drew it). ``test(cfg)`` runs it with the
    page's current noise (described by ``condition``)."""
    if what is not None:
        signal_header(what)
    result = _run_and_keep(f"{key}-signal", model, test, condition, n_test, "the signal test")
    if result is None:
        return None
    table = result.table
    show_findings(signal_findings(table))
    st.dataframe(table[[c for c in COLUMNS if c in table]].round(4).rename(columns=SHOWN), hide_index=True,
                 key=f"{key}-signal-table")
    names = list(dict.fromkeys(table["signal"]))
    shown = (st.selectbox("null distribution of", names, key=f"{key}-signal-hist",
                          help="the signal whose K permuted balanced accuracies the histograms show")
             if len(names) > 1 else names[0])
    st.plotly_chart(signal_histograms(result.null, table, shown), key=f"{key}-signal-fig")
    st.caption(f"What to look for: a dashed clean line to the right of the whole histogram — the decision needs "
               f"the real {shown}. A clean line inside the histogram — swapping {shown} between samples changes "
               f"nothing the model decides. Panel '{ALL}' swaps every modality's {shown} at once.")
    return result
