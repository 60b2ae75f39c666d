"""Lesson 1, on the Playground: which view does a fusion model lean on, and is a view it barely needs harmless?"""
from __future__ import annotations

import pandas as pd

from .. import figures
from .base import Lesson, Said, Step
from .reading import ALPHA, correct, mcnemar, paired_choice, said

NOISE_GRID = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)  # the page's mix slider positions


def _removal_figure(result):
    rem = result.tables["removal"]
    rem = rem[rem["removed"] != "none"]
    return [figures.contribution_bars(pd.DataFrame({"modality": rem["removed"], "contribution": rem["accuracy_drop"]}),
                                      "test accuracy lost with each view dropped", "accuracy lost")]


def _robustness_figure(result):
    return [figures.robustness_figure(result.tables["robustness"])]


def needs_more(result) -> Said:
    """Drop each view (its training mean in its place): which loss is larger, on the same test samples?"""
    pix, mor = correct(result, {"pix": 1.0}, "drop"), correct(result, {"mor": 1.0}, "drop")
    choice, text = paired_choice(mor, pix, 0, 1, 2)  # pix needed more <=> accuracy without pix is lower
    claim = {0: "the model needs pix more than mor", 1: "the model needs mor more than pix",
             2: "dropping either view costs as much"}[choice]
    return said(claim, choice, f"accuracy with mor dropped vs with pix dropped: {text}", decided=choice != 2)


def barely_needed_noise(result) -> Said:
    clean, noisy = correct(result), correct(result, {"mor": 1.0}, "mix")
    diff, p = mcnemar(clean, noisy)
    hurt = p <= ALPHA and diff > 0
    return said("filling mor with noise costs accuracy" if hurt else "filling mor with noise costs no accuracy we can show",
                1 if hurt else 0, f"clean {clean.mean():.3f}, mor at mix 1.0 {noisy.mean():.3f} on the same "
                                  f"{len(clean)} test samples (McNemar p = {p:.3g})", decided=hurt)


def first_hurt(result) -> Said:
    clean, first, text = correct(result), None, []
    for level in NOISE_GRID:
        noisy = correct(result, {"pix": level}, "mix")
        diff, p = mcnemar(clean, noisy)
        text.append(f"{level:g}: {noisy.mean():.3f} (p = {p:.2g})")
        if first is None and p <= ALPHA and diff > 0:
            first = level
    choice = None if first is None else 0 if first <= 0.25 else 1 if first <= 0.625 else 2
    claim = ("no level of pix's mix noise costs significant accuracy" if first is None else
             f"accuracy first falls significantly at pix mix {first:g}")
    return said(claim, choice, f"clean {clean.mean():.3f}; pix at mix " + ", ".join(text))


def keeps_without_mor(result) -> Said:
    """Without mor, does the model keep 80 % of its clean accuracy? (a binomial interval of the accuracy without mor)"""
    from scipy import stats
    clean, without = correct(result), correct(result, {"mor": 1.0}, "drop")
    target = 0.8 * clean.mean()
    ci = stats.binomtest(int(without.sum()), len(without)).proportion_ci(0.95)
    choice = 0 if ci.low > target else 1 if ci.high < target else None
    return said({0: "it keeps more than 80 % of its accuracy without mor",
                 1: "it keeps less than 80 % of its accuracy without mor", None: "80 % lies inside the interval"}[choice],
                choice, f"clean {clean.mean():.3f}, without mor {without.mean():.3f} [95 % interval "
                        f"{ci.low:.3f}, {ci.high:.3f}]; 80 % of clean is {target:.3f}")


PIX_MOR = ("pix (240 pixel averages)", "mor (6 morphological features)",
           "neither: dropping either costs as much")

LESSON = Lesson(
    id="which-view",
    title="Which view does the model lean on?",
    study="playground",
    intro=("A fusion model gets two views of the same handwritten digit: `pix`, 240 pixel averages, and `mor`, 6 "
           "morphological features. Accuracy alone does not say which view the model uses. Here you remove and "
           "corrupt one view at a time on the frozen model and read what changes."),
    steps=(
        Step("Which view does it need?",
             "Train the default model (concat fusion). Which view will it need more?", PIX_MOR,
             do="Press **Train**. Then set the noise type to **drop** and move one view's slider to 1, then the "
                "other's (drop puts the view's training mean in its place).",
             look="The test accuracy readout (and its change from clean) with each view dropped.",
             says=needs_more, expect=0, figures=_removal_figure,
             note="A view the model needs is one whose absence costs accuracy; 240 features carry more of the digit "
                  "than 6."),
        Step("Is a view it barely needs harmless?",
             "Dropping mor costs little. Now fill mor with noise instead (mix 1.0: noise in its place). Does "
             "accuracy fall?", ("no: a view the model barely needs cannot hurt it", "yes, significantly"),
             do="Noise type **mix**; move mor's slider to 1.0 and leave pix at 0.",
             look="The accuracy readout and the × on mor's robustness curve.",
             says=barely_needed_noise, expect=1, link={"level-mor": "1"}, figures=_robustness_figure,
             note="Removing a view and feeding it loud noise are different questions: the model still adds mor's "
                  "encoding to the fused vector, and noise far from anything it saw in training moves the decision."),
        Step("How much noise before it matters?",
             "Move pix's mix slider up from 0. Where does accuracy first fall significantly below clean?",
             ("already by 0.25", "between 0.375 and 0.625", "only at 0.75 or beyond"),
             do="Noise type **mix**; move pix's slider in steps, mor at 0.",
             look="The × moving along pix's robustness curve and the accuracy readout.",
             says=first_hurt, expect=1, link={"level-pix": "0.5"}, figures=_robustness_figure,
             note="Mixing in a little noise leaves most digits readable; the curve bends where the noise starts to "
                  "dominate the pixels."),
        Step("Another seed",
             "Train again with seed 1 (a different split, initialisation and batches). Does it still need pix more?",
             ("yes, pix again", "now mor more", "neither: dropping either costs as much"),
             do="Set **seed** to 1 and press **Train**; repeat the drop test of step 1.",
             look="The accuracy with each view dropped.",
             says=needs_more, expect=0, link={"seed": "1"}, args=("--seed", "1"), figures=_removal_figure,
             note="A finding about a model should survive another seed; one run can be a fluke."),
        Step("Multiplying the views",
             "Switch the fusion to **product** (the two views' embeddings multiplied). Without mor, does it still "
             "keep most (80 %) of its accuracy, as concat did?",
             ("yes, more than 80 %", "no, less than 80 %"),
             do="Set **fusion** to product, press **Train**, then drop mor (noise type drop, mor's slider at 1).",
             look="The accuracy with mor dropped, against the clean accuracy in the caption.",
             says=keeps_without_mor, expect=1, link={"fusion": "product"}, args=("--fusion", "product"),
             figures=_removal_figure,
             note="In a product every view scales every other: replacing mor by its mean changes the whole fused "
                  "vector, so a multiplicative model depends on a weak view far more than an additive one."),
    ),
)
