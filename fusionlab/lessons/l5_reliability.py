"""Lesson 5, on Reliability permutation: does a per-sample quality score change any fused decision?"""
from __future__ import annotations

from ..figures import permutation as fig
from ..findings import FAILS, HOLDS, PARTLY
from ..papers import said as paper_said
from .base import Lesson, Said, Step
from .reading import finding, from_verdict, said

CLEAN = "the reliability paper's clean-data finding"
CORRUPT = ("--corrupt", "mor", "--fraction", "0.5", "--corrupt-noise", "mix", "--max-level", "1.0")


def _summary(result):
    return [fig.rho_delta_summary(result.tables["permutation"])]


def real_scores(result) -> Said:
    return from_verdict(finding(result, CLEAN), {HOLDS: 0, PARTLY: 1, FAILS: 2},
                        "the run tested no real quality score")


def tracks(result) -> Said:
    t = result.tables["permutation"]
    real = t[~t["control"].astype(bool)]
    rho = real.groupby("score", sort=False)["rho"].first().dropna()
    if rho.empty:
        return said("the scores' ρ", None, "no real score has a ρ")
    top = float(rho.abs().max())
    choice = 0 if top < 0.1 else 1
    return said(f"the largest |ρ| of a real score is {top:.2f}", choice,
                "Spearman ρ between a score and its expert being right, per score: "
                + ", ".join(f"{k} {v:.2f}" for k, v in rho.items()))


def control(name: str):
    def says(result) -> Said:
        return from_verdict(finding(result, f"POSITIVE CONTROL control-{name}"), {HOLDS: 0, PARTLY: 1, FAILS: 2},
                            f"the run has no control-{name} score")
    return says


EVERY = ("every rule that uses it loses accuracy", "some rules do", "none does")

LESSON = Lesson(
    id="reliability",
    title="Does a reliability score change any decision?",
    study="permutation",
    paper="reliability",
    intro=("Quality-aware fusion weights each modality's expert by a per-sample quality score Q. If Q matters, "
           "shuffling it across test samples (keeping its distribution) must cost accuracy; the test repeats the "
           "shuffle K times and reports a p-value per score and fusion rule, with the experts fitted on other "
           "folds so nothing leaks. " + paper_said("reliability-clean") + ". Here the experts are fitted on three "
           "views of the handwritten digits."),
    steps=(
        Step("Real scores on clean data",
             "Shuffle the real quality scores across test samples. The paper found no fused decision changes. "
             "Here, how many score × rule pairs lose accuracy significantly?",
             ("none", "some, fewer than half", "half or more"),
             do="The step opens with the preset *paper: clean data*; press **Fit experts** (the test runs at once).",
             look="The findings, then the table's Δ and p columns.",
             says=real_scores, expect=2, link={"preset": "paper: clean data"}, figures=_summary,
             note="Our data do not behave like the paper's; the next step shows why."),
        Step("Why it differs",
             "Do our scores track which expert is right? (Spearman ρ between a score and its expert's correctness; "
             "the paper's were ≈ 0)",
             ("no, |ρ| under 0.1 for every score", "yes, at least one clearly does"),
             do="Same run.", look="The ρ column, and the score-vs-correctness figure.",
             says=tracks, expect=1, link={"preset": "paper: clean data"}, figures=_summary,
             note="A score that predicts which expert is right carries information a fusion rule can use, so "
                  "shuffling it moves decisions. The paper's scores barely did, so its test found nothing: the test "
                  "answers for the scores and data it is given, not for quality-aware fusion in general."),
        Step("A positive control",
             "Add a control score built to mark corrupted rows (rate 0.3). Shuffled, does it cost accuracy?", EVERY,
             do="The step opens with the preset *positive control: corruption*; press **Fit experts**.",
             look="The POSITIVE CONTROL finding.",
             says=control("corruption"), expect=0, link={"preset": "positive control: corruption"},
             args=("--control", "corruption", "--rate", "0.3"), figures=_summary,
             note="A control shows the test can find an effect where one exists by construction; without it, a null "
                  "result could just mean a test without power."),
        Step("A score aligned with correctness",
             "A control score equal to whether the expert is right (fidelity 1). Shuffled, does it cost accuracy?",
             EVERY,
             do="The step opens with the preset *positive control: correctness-aligned*; press **Fit experts**.",
             look="The POSITIVE CONTROL finding.",
             says=control("aligned"), expect=0, link={"preset": "positive control: correctness-aligned"},
             args=("--control", "aligned", "--fidelity", "1.0"), figures=_summary,
             note="The strongest score possible: it tells the fusion exactly which expert to trust."),
        Step("Making quality matter",
             "Corrupt half of mor's rows with noise of random strength. Do the real scores now change decisions?",
             ("none of the pairs loses accuracy", "some, fewer than half", "half or more"),
             do="The step opens with the preset *making quality matter*; press **Fit experts**.",
             look="The findings and the Δ column.",
             says=real_scores, expect=2, link={"preset": "making quality matter"}, args=CORRUPT, figures=_summary,
             note="When quality varies between samples, a score that sees it becomes worth using."),
    ),
)
