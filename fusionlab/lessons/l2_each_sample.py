"""Lesson 2, on the Playground: which view did each sample use? (occlusion: a view dropped, per sample)"""
from __future__ import annotations

import pandas as pd
from scipy import stats

from .. import figures
from .base import Lesson, Said, Step
from .reading import ALPHA, contributions, correct, fisher, mcnemar, said

MATTERS = 0.05  # a view "matters" to a sample when dropping it costs the predicted class this much probability


def _sample_figure(row: int):
    def draw(result):
        con = contributions(result)
        return [figures.contribution_bars(pd.DataFrame({"modality": list(con), "contribution": [float(v[row]) for v in
                                                                                               con.values()]}),
                                          f"sample {row}: probability lost with each view dropped")]
    return draw


def _sample(row: int):
    def says(result) -> Said:
        con = contributions(result)
        pix, mor = float(con["pix"][row]), float(con["mor"][row])
        if max(pix, mor) < MATTERS:
            return said(f"sample {row} keeps its prediction with either view dropped", 2,
                        f"probability lost: pix {pix:.3f}, mor {mor:.3f} (both under {MATTERS})")
        choice = 0 if pix >= mor else 1
        return said(f"sample {row} leans on {'pix' if choice == 0 else 'mor'}", choice,
                    f"probability of its predicted class lost with pix dropped {pix:.3f}, with mor dropped {mor:.3f}")
    return says


def lean_on_mor(result, levels=None):
    con = contributions(result, levels or {})
    return con["mor"] > con["pix"]


def share(result) -> Said:
    lean = lean_on_mor(result)
    ci = stats.binomtest(int(lean.sum()), len(lean)).proportion_ci(0.95)
    choice = 0 if ci.high < 0.10 else 1 if ci.low > 0.10 and ci.high < 0.5 else 2 if ci.low > 0.5 else None
    return said(f"{lean.mean():.0%} of the test samples lean on mor", choice,
                f"{int(lean.sum())} of {len(lean)} samples lose more probability with mor dropped than with pix "
                f"dropped [95 % interval {ci.low:.0%}–{ci.high:.0%}]")


def wrong_more(result) -> Said:
    lean, right = lean_on_mor(result), correct(result)
    inside, outside, p = fisher(lean, ~right)
    choice = 1 if p > ALPHA else (0 if inside > outside else 2)
    claim = {0: "samples leaning on mor are wrong more often", 1: "no difference in errors this test set can show",
             2: "samples leaning on mor are wrong less often"}[choice]
    return said(claim, choice, f"wrong: {inside:.1%} of the {int(lean.sum())} samples leaning on mor, {outside:.1%} "
                               f"of the other {int((~lean).sum())} (Fisher's exact test p = {p:.3g})", decided=choice != 1)


def noise_shifts(result) -> Said:
    clean, noisy = lean_on_mor(result), lean_on_mor(result, {"pix": 0.5})
    diff, p = mcnemar(noisy, clean)
    choice = 1 if p > ALPHA else (0 if diff > 0 else 2)
    claim = {0: "with pix noised, more samples lean on mor", 1: "the share leaning on mor does not change",
             2: "with pix noised, fewer samples lean on mor"}[choice]
    return said(claim, choice, f"leaning on mor: {clean.mean():.1%} clean, {noisy.mean():.1%} with pix at mix 0.5, "
                               f"the same samples (McNemar p = {p:.3g})", decided=choice != 1)


def shapley_agrees(result) -> Said:
    """On how many samples do exact Shapley values (which count what the views do together) name another view than
    occlusion (each view dropped alone)?"""
    from ..diagnostics.attribution import attribute_data
    a = result.artifacts
    att = attribute_data(a.model, a.data, seed=int(result.config["train"]["seed"]), with_emap=False)
    phi = att.shapley.pivot(index="row", columns="modality", values="phi")
    differ = (phi["mor"] > phi["pix"]).to_numpy() != lean_on_mor(result)
    ci = stats.binomtest(int(differ.sum()), len(differ)).proportion_ci(0.95)
    choice = 0 if ci.high < 0.05 else 2 if ci.low > 0.25 else 1 if ci.low > 0.05 and ci.high < 0.25 else None
    return said(f"Shapley values and the contribution bars name different views on {differ.mean():.1%} of the "
                "samples", choice, f"{int(differ.sum())} of {len(differ)} samples [95 % interval {ci.low:.1%}–"
                                   f"{ci.high:.1%}]")


LESSON = Lesson(
    id="each-sample",
    title="Which view did each sample use?",
    study="playground",
    intro=("A model that needs `pix` overall can still decide some digits from `mor`. The Playground's contribution "
           "bars drop one view at a time for the selected sample and show how much probability its predicted "
           "class loses. Here you read them sample by sample, then over the whole test set."),
    steps=(
        Step("One sample",
             "Train the default model and look at test sample 0. Which view does its prediction depend on?",
             ("pix", "mor", "neither: it survives either view dropped"),
             do="Press **Train**; the sample slider is at 0.",
             look="The contribution bars: probability of the predicted class lost with each view dropped.",
             says=_sample(0), expect=0, figures=_sample_figure(0),
             note="Most digits are read from their pixels, as the model's overall dependence on pix suggests."),
        Step("Another sample",
             "Now sample 1. Which view does its prediction depend on?",
             ("pix", "mor", "neither: it survives either view dropped"),
             do="Move the **sample** slider to 1.", look="The contribution bars again.",
             says=_sample(1), expect=1, link={"sample": "1"}, figures=_sample_figure(1),
             note="A model that leans on one view overall can decide an individual sample from the other: the "
                  "overall picture is an average over samples."),
        Step("How many lean on mor?",
             "Over the whole test set, how many samples lose more probability when mor is dropped than when pix is?",
             ("almost none (under 10 %)", "a minority (10–50 %)", "most (over half)"),
             do="Move the sample slider through a dozen samples and count.",
             look="Which bar is taller, sample by sample.",
             says=share, expect=1,
             note="Occlusion is one way to attribute a decision; it asks what is lost when a view is replaced by its "
                  "mean, which is not the same as what the view adds on top of the other."),
        Step("Are they the hard ones?",
             "Are the samples that lean on mor wrong more often than those leaning on pix?",
             ("yes, more often", "no difference this test set can show", "no, less often"),
             do="Look at samples whose mor bar is taller and at the predicted class.",
             look="The predicted probabilities (the true class is green).",
             says=wrong_more, expect=1,
             note="A few hundred test samples cannot separate small differences in error rate: the test says so "
                  "instead of guessing."),
        Step("When pix is noisy",
             "Mix noise into pix (0.5). Do more samples lean on mor?",
             ("yes, more", "no change", "fewer"),
             do="Noise type **mix**, pix's slider at 0.5; look at the same samples again.",
             look="The contribution bars of the samples you looked at before.",
             says=noise_shifts, expect=0, link={"level-pix": "0.5"},
             note="When one view gets noisy the decision of many samples moves to the other: the model has no gate, "
                  "but its fused vector is dominated by whichever view still carries a clear signal."),
        Step("Counting what the views do together",
             "The Shapley bars share a decision out over the views counting every combination of them, where the "
             "contribution bars drop one view at a time. On how many samples do the two name a different view?",
             ("none or almost none (under 5 %)", "some (5–25 %)", "many (over 25 %)"),
             do="Noise back to 0; compare the contribution and Shapley bars of a dozen samples, then press "
                "**Compute for the current sliders** under *Which modality did it use?*.",
             look="Which bar is taller in each pair, and the interaction share under the subset table.",
             says=shapley_agrees, expect=0,
             note="With two views, a Shapley value is the average of a view's effect added to nothing and added to "
                  "the other view; the contribution bar is the second alone (on probabilities, not the margin). They "
                  "part where the views act together; try product fusion, whose interaction share is far higher "
                  "(the methods reference, attribution)."),
    ),
)
