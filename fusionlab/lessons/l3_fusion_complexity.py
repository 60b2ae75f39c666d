"""Lesson 3, on Fusion complexity: does a fusion that encodes the task learn from less data, and at what cost?"""
from __future__ import annotations

from ..figures import scaling as fig
from ..findings import FAILS, HOLDS, UNKNOWN, describe, direction
from ..papers import said as paper_said
from .base import Lesson, Said, Step
from .reading import finding, from_verdict, per_seed, said

PAIRED = {1: 0, 0: 1, -1: 2}  # direction of a − b -> (a ahead, cannot tell apart, b ahead)


def _curves(result):
    r = result.artifacts.result
    return [fig.accuracy_vs_size(r.scores, chance=r.chance)]


def _robustness(result):
    r = result.artifacts.result
    return [fig.robustness_grid(r.robustness, r.robust_size)]


def _params(result):
    return [fig.params_bars(result.artifacts.result.params)]


def efficiency(result) -> Said:
    return from_verdict(finding(result, "product learns"), {FAILS: 0, HOLDS: 1, UNKNOWN: 2},
                        "the run needs both concat and product")


def fragility(result) -> Said:
    return from_verdict(finding(result, "product degrades"), {FAILS: 0, HOLDS: 1, UNKNOWN: 2},
                        "the run needs both concat and product and a noise level above 0")


def parameters(result) -> Said:
    p = result.artifacts.result.params.set_index("fusion")["params"]
    if not {"tensor", "concat"} <= set(p.index):
        return said("tensor against concat", None, "the run needs both tensor and concat")
    ratio = float(p["tensor"] / p["concat"])
    choice = 0 if ratio < 1 else 1 if ratio <= 2 else 2
    return said(f"tensor fusion has {ratio:.1f}× concat's parameters", choice,
                f"tensor {int(p['tensor']):,}, concat {int(p['concat']):,}, product {int(p.get('product', 0)):,}")


def at_largest(a: str, b: str):
    def says(result) -> Said:
        s = result.artifacts.result.scores
        if not {a, b} <= set(s["fusion"]):
            return said(f"{a} against {b}", None, f"the run needs both {a} and {b}")
        top = int(s["size"].max())
        diff = per_seed(s[s["size"] == top], "fusion", "test_accuracy", a, b)
        choice = PAIRED[direction(diff)]
        claim = {0: f"{a} is ahead of {b}", 1: f"{a} and {b} cannot be told apart", 2: f"{b} is ahead of {a}"}[choice]
        return said(f"at n = {top}, {claim}", choice,
                    f"test accuracy {a} − {b} per seed {describe(diff)} over {len(diff)} seeds", decided=choice != 1)
    return says


LESSON = Lesson(
    id="fusion-complexity",
    title="Does encoding the task in the fusion pay off?",
    study="scaling",
    paper="fusion-complexity",
    intro=("The default task is a dot product of two views' latent vectors: its label is multiplicative. Concat "
           "fusion must learn the product from data; product fusion multiplies the views by construction; tensor "
           "fusion holds every pairwise product and much more. The study trains each at doubling training sizes, "
           "with several seeds, then adds noise. " + paper_said("fusion-complexity") + ". The default is a quick "
           "look (about 5 s); the paper's own setting is the preset *paper: dot-product task* (15-25 minutes)."),
    steps=(
        Step("From less data?",
             "Which fusion reaches a middling accuracy (half-way from chance to the best) with less training data?",
             ("concat", "product", "both at the same size"),
             do="Press **Run study**.", look="The accuracy-vs-training-size curves and the findings above them.",
             says=efficiency, expect=1, figures=_curves,
             note="A fusion that matches the label's form needs fewer examples: it does not have to learn the "
                  "multiplication."),
        Step("At the largest size",
             "At the largest training size, is product still more accurate than concat?",
             ("product ahead", "cannot tell them apart", "concat ahead"),
             do="Read the right end of the curves.", look="The two curves' gap at the largest size, and its band.",
             says=at_largest("product", "concat"), expect=0, figures=_curves,
             note="With enough data concat would catch up; in this quick look it has not yet."),
        Step("The price: noise",
             "Now noise. Which fusion loses a larger share of its clean accuracy as noise grows?",
             ("concat", "product", "no difference we can show"),
             do="Scroll to the robustness grid.", look="How far each curve falls from its clean value.",
             says=fragility, expect=1, figures=_robustness,
             note="A product passes noise in one view straight into every fused feature; a sum dilutes it."),
        Step("Parameters",
             "How many parameters does tensor fusion have, against concat's?",
             ("fewer", "about as many (up to 2×)", "many more (over 2×)"),
             do="Open the parameter bars.", look="The bar heights.",
             says=parameters, expect=2, figures=_params,
             note="The outer product of two embeddings grows with the product of their sizes."),
        Step("More capacity, more data",
             "Tensor fusion contains product's terms and more. At the largest size, is it at least as accurate as "
             "product?",
             ("tensor ahead", "cannot tell them apart", "product ahead"),
             do="Compare the tensor and product curves.", look="Their gap at the largest size.",
             says=at_largest("tensor", "product"), expect=2, figures=_curves,
             note="Capacity the task does not need still has to be fitted from the same few examples."),
    ),
)
