"""Lesson 6, on Uncertainty weighting: does noise-aware weighting protect a hard modality? (three seeds)"""
from __future__ import annotations

from ..figures import udml as fig
from ..findings import FAILS, HOLDS, UNKNOWN, describe, direction
from ..papers import said as paper_said
from .base import Lesson, Said, Step
from .reading import finding, from_verdict, per_seed, said

SIGN = {-1: 0, 0: 1, 1: 2}  # direction -> (below, no difference we can show, above)


def _estimator(result):
    return [fig.estimator_figure(result.tables["estimator"], result.tables["spearman"])]


def _alpha(result):
    return [fig.alpha_figure(result.tables["alpha"])]


def _robustness(result):
    return [fig.robustness_methods_figure(result.tables["robustness"])]


def estimate(result) -> Said:
    return from_verdict(finding(result, "UDML's noise estimate"), {HOLDS: 1, FAILS: None},
                        "the run needs both udml and pe")


def premise(result) -> Said:
    f = finding(result, "the hard modality")
    return from_verdict(f, {HOLDS: 0, UNKNOWN: 1, FAILS: 2}, "the run needs udml and a hard modality")


def hard_weight(result) -> Said:
    acc, hard = result.tables["accuracy"], result.artifacts.hard
    col = f"weight/{hard}"
    if hard is None or col not in acc or "pe" not in set(acc["method"]):
        return said("PE's weight of the hard modality", None, "the run needs pe and a hard modality")
    d = acc.loc[acc["method"] == "pe", col].to_numpy() - 1.0
    choice = SIGN[direction(d)]
    word = ("below", "not measurably different from", "above")[choice]
    return said(f"PE gives the hard modality '{hard}' a weight {word} an equal share", choice,
                f"PE's mean weight of '{hard}' − 1 per seed {describe(d)}", decided=choice != 1)


def versus_static(method: str, column: str):
    def says(result) -> Said:
        acc = result.tables["accuracy"]
        if not {method, "static"} <= set(acc["method"]):
            return said(f"{method} against static fusion", None, f"the run needs {method} and static")
        d = per_seed(acc, "method", column, method, "static")
        choice = SIGN[direction(d)]
        word = ("falls below", "cannot be told from", "rises above")[choice]
        name = fig.METHOD_NAMES.get(method, method)
        return said(f"{name} {word} static fusion ({column} test)", choice,
                    f"{name} − static accuracy per seed {describe(d)} over {len(d)} seeds", decided=choice != 1)
    return says


LESSON = Lesson(
    id="uncertainty",
    title="Does noise-aware weighting protect a hard modality?",
    study="udml",
    paper="udml",
    intro=("Dynamic fusion weights each modality per sample, often by its predicted uncertainty. "
           + paper_said("udml-dual") + ". The default synthetic task codes one modality (m2) as an XOR, which is "
           "hard to learn. The page trains three seeds, so that differences between methods can be decided (the "
           "first seed's figures come at once, the findings when the other two land). It teaches honestly what our "
           "reconstruction shows: "
           "the dual suppression the paper describes does not appear here."),
    steps=(
        Step("Does the estimate track noise?",
             "Noise of known strength is injected in training. Does UDML's noise estimate rise with it at every "
             "step, and PE's (the mean predictive variance)?",
             ("both rise", "only UDML's rises", "neither rises"),
             do="Press **Train**.", look="Figure (a): estimate against injected noise.",
             says=estimate, expect=1, figures=_estimator,
             note="A learned noise estimate is trained to predict the injected level; a variance is not."),
        Step("The premise",
             "The story needs the model to depend less on the hard modality m2 (UDML's α smaller). Which modality "
             "gets the smaller α?",
             ("the hard one, m2", "no difference we can show", "the other one, m1"),
             do="Same run.", look="The α bars per seed.",
             says=premise, expect=1, figures=_alpha,
             note="Over these seeds the direction cannot be decided: the seeds disagree about which modality gets the "
                  "larger α. Where the "
                  "premise fails, dividing by α cannot protect m2."),
        Step("Suppression by PE",
             "On clean inputs, does PE give the hard modality m2 less than an equal share of the weight?",
             ("yes, below an equal share", "no difference we can show", "no, above it"),
             do="Same run.", look="The weights table: mean weight of m2 per method.",
             says=hard_weight, expect=1,
             note="The first half of dual suppression is not visible here."),
        Step("Below static fusion?",
             "On test data with training-like noise, does PE's dynamic fusion fall below static fusion?",
             ("yes, it falls below", "no difference we can show", "no, it rises above"),
             do="Same run.", look="The robustness curves per method, and the findings.",
             says=versus_static("pe", "noisy"), expect=1, figures=_robustness,
             note="The paper's motivating failure needs a task where uncertainty and difficulty line up; on this "
                  "one they do not."),
        Step("And UDML?",
             "Does UDML fall below static fusion on the same noisy test data?",
             ("yes, it falls below", "no difference we can show", "no, it rises above"),
             do="Same run.", look="The robustness curves per method.",
             says=versus_static("udml", "noisy"), expect=1, figures=_robustness,
             note="Nothing to protect against here, so nothing to gain: UDML and static fusion end level."),
    ),
)
