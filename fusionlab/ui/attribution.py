""""Which modality did it use?" on every page with a trained model (docs/methods.md, "Modality attribution and
interaction"): the selected sample's exact Shapley values, drawn inside a page's live view, and a section over the test
set at the page's current noise: mean |φ| per modality, the subset table and EMAP beside the model, with the finding
their difference decides (McNemar's exact test on the same rows)."""
from __future__ import annotations

from typing import Callable, Dict, Mapping

import streamlit as st
import torch

SECTION_ANCHOR = "which-modality-did-it-use"


def baselines(data) -> Dict[str, torch.Tensor]:
    """Each modality's baseline: its train mean (the lab's ``drop``)."""
    return {k: s.mean for k, s in data.stats.items()}


def shapley_bars(model: torch.nn.Module, one: Mapping[str, torch.Tensor], data, y) -> object:
    """One sample's exact Shapley values (every coalition of modalities, the others at their train mean) of its
    predicted class's logit margin, on the inputs ``one`` (a batch of one row, as the page corrupted it)."""
    import pandas as pd

    from .. import figures
    from ..diagnostics.attribution import attribute
    att = attribute(model, one, baselines(data), torch.as_tensor(y), with_emap=False)
    return figures.contribution_bars(pd.DataFrame({"modality": att.shapley["modality"], "contribution":
                                                   att.shapley["phi"]}),
                                     "Shapley value φ<br><sup>each modality's share of the predicted class's logit "
                                     "margin</sup>", "φ (logit margin)")


def section_header() -> None:
    st.subheader("Which modality did it use?", anchor=SECTION_ANCHOR)


def which_modality(key: str, model: torch.nn.Module, data, test_inputs: Callable[[], Mapping[str, torch.Tensor]],
                   setting: str, what: str = "the model", header: bool = True) -> None:
    """The section over the test set. ``test_inputs()`` gives the test inputs as the page's noise setting corrupts
    them (called only once the user asks); ``setting`` says that setting in words (it keys the memo); ``header``
    False: the page drew the section's heading (``header()``) itself, above its own controls."""
    from .. import figures
    from ..diagnostics.attribution import attribute
    from ..lessons.reading import ALPHA, mcnemar
    from .methods import methods_link
    if header:
        section_header()
    st.caption(f"Every coalition of modalities (the others set to their train mean) on every test sample of {what}: "
               "exact Shapley values, the accuracy of each coalition, and EMAP, the best additive copy of the model "
               f"({methods_link('modality-attribution-and-interaction', 'Methods')}). At the page's setting: "
               f"{setting}.")
    memo = st.session_state.setdefault(f"{key}-attribution", {})
    memo_key = (id(model), setting)
    if memo_key not in memo and not st.button("Compute for the current setting (about a second)",
                                              key=f"{key}-attr-go"):
        return
    if memo_key not in memo:
        memo.clear()
        try:
            memo[memo_key] = attribute(model, test_inputs(), baselines(data), data.test.y)
        except ValueError as exc:
            st.error(f"Cannot attribute this model: {exc}")
            return
    att = memo[memo_key]
    left, right = st.columns(2)
    mean = att.shapley.assign(contribution=att.shapley["phi"].abs()).groupby("modality", sort=False)[
        "contribution"].mean().reset_index()
    left.plotly_chart(figures.contribution_bars(mean, "mean |φ| per modality<br><sup>over the test set</sup>",
                                                "mean |φ| (logit margin)"), key=f"{key}-attr-mean")
    right.markdown("Accuracy with each coalition kept (the others at their train mean):")
    right.dataframe(att.subsets.round(3), hide_index=True, key=f"{key}-attr-subsets")
    e = att.emap
    if "emap_accuracy" in e:
        diff, p = mcnemar(att.correct, att.emap_correct)
        verdict = ("the model relies on what the modalities do together: its additive copy loses "
                   f"{diff:.3f} of accuracy" if p <= ALPHA and diff > 0 else
                   "its additive copy does better" if p <= ALPHA else
                   "the model cannot be told from its additive copy: it is, in effect, additive here")
        right.markdown(f"**EMAP** (the best additive copy) {e['emap_accuracy']:.3f} vs the model {e['accuracy']:.3f} "
                       f"on the same {len(att.correct)} test samples (McNemar p = {p:.3g}): {verdict}. Interaction "
                       f"share {e['interaction_share']:.2f} (0: additive).")
