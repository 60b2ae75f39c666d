"""Lesson 4, on Gates & values: what does a value-gated refiner do with a corrupted input?"""
from __future__ import annotations

from ..diagnostics.gates import STATS, robustness_findings
from ..figures import vgmr as fig
from ..findings import FAILS, HOLDS, PARTLY, UNKNOWN, describe, direction
from ..papers import said as paper_said
from .base import Lesson, Said, Step
from .reading import from_verdict, said

MOVES = {1: 0, 0: 1, -1: 2}  # direction -> (rises, no change we can show, falls)
WORDS = {"gate": "average gate", "global_value": "global value v_g", "channel_value": "channel value v_c",
         "channel_sd": "spread of the channel values"}


def _stats(result):
    return [fig.gate_stats_figure(result.tables["gate_stats"])]


def _robustness(result):
    return [fig.robustness_bands(result.tables["robustness"])]


def paired(result, modality: str, stat: str):
    """Corrupted minus clean, per test sample (and seed), of one §4.4 statistic on ``modality``."""
    s = result.tables.get("gate_samples")
    if s is None or modality not in set(s["modality"]):
        return None
    g = s[s["modality"] == modality]
    unit = ["seed", "row"] if "seed" in g else ["row"]
    clean = g[g["condition"] == "clean"].set_index(unit)
    bad = g[g["condition"] == "corrupted"].set_index(unit).loc[clean.index]
    return (bad[stat] - clean[stat]).to_numpy()


def moves(modality: str, stat: str):
    def says(result) -> Said:
        d = paired(result, modality, stat)
        if d is None:
            return said(f"{WORDS[stat]} of {modality}", None, "press **Compute gate statistics** first: the run has no "
                                                                 "per-sample gate statistics yet")
        choice = MOVES[direction(d)]
        word = ("rises", "does not move measurably", "falls")[choice]
        return said(f"with {modality} corrupted, its {WORDS[stat]} {word}", choice,
                    f"corrupted − clean, mean over test samples and seeds {describe(d)}", decided=choice != 1)
    return says


def anything_moves(modality: str):
    def says(result) -> Said:
        parts, moved = [], 0
        for stat in STATS:
            if stat not in WORDS:
                continue
            d = paired(result, modality, stat)
            if d is None:
                return said(f"the gate on {modality}", None, "press **Compute gate statistics** first")
            moved += direction(d) != 0
            parts.append(f"{WORDS[stat]} {describe(d)}")
        choice = 1 if moved == 0 else 0
        return said(f"with {modality} corrupted, {moved} of {len(parts)} statistics move", choice,
                    "corrupted − clean: " + "; ".join(parts), decided=choice == 0)
    return says


def robust(result) -> Said:
    """The whole-curve finding over the noise-ratio sweep, from the run's robustness table (the page's Robustness
    button and the full study both write it)."""
    rob = result.tables.get("robustness")
    found = robustness_findings(rob, "vgmr", result.config["backbone"]) if rob is not None else []
    return from_verdict(found[0] if found else None, {HOLDS: 0, PARTLY: 0, UNKNOWN: 1, FAILS: 2},
                        "press **Compute robustness** first: the run has no robustness sweep yet")


LESSON = Lesson(
    id="gates",
    title="What does a gate do with a corrupted input?",
    study="gates",
    paper="vgmr",
    intro=("VGMR rescales each modality's features before fusion with a gate built from learned *values*: a global "
           "value v_g per modality and channel values v_c. " + paper_said("vgmr-gates") + ". Here the default "
           "synthetic data has three modalities, m1 the most informative and m3 the least; the study replaces 30 % of "
           "one modality's timesteps by noise and compares the statistics on the same test samples, clean and "
           "corrupted, over three seeds."),
    steps=(
        Step("The gate on a corrupted modality",
             "Corrupt m1. The paper found the average gate on a corrupted modality falls. Does m1's gate fall here?",
             ("it falls", "no change we can show", "it rises"),
             do="Press **Train VGMR**, then **Compute gate statistics**.",
             look="The gate statistics, clean against corrupted, and the finding for m1 under them.",
             says=moves("m1", "gate"), expect=1, figures=_stats, needs="gate_samples",
             note="Where the gate does not move measurably, the paper's finding does not reproduce with our "
                  "reconstruction. The next two steps look at the values the gate is built from."),
        Step("The global value",
             "The paper found the global value v_g of a corrupted modality rises. Does m1's v_g rise here?",
             ("it rises", "no change we can show", "it falls"),
             do="Same run.", look="The global value, clean against corrupted.",
             says=moves("m1", "global_value"), expect=2, figures=_stats, needs="gate_samples",
             note="This is where our reconstruction differs from the paper. Our values learn σ(Δ/τ), Δ being how much "
                  "the loss grows when the modality is dropped (the methods reference, VGMR, value target). A "
                  "corrupted modality carries less, so dropping it costs less and its value falls. The paper does "
                  "not give its target in enough detail to tell whether it differs."),
        Step("The channel values",
             "And the channel values v_c of m1 (the paper: they rise)?",
             ("they rise", "no change we can show", "they fall"),
             do="Same run.", look="The channel value, clean against corrupted.",
             says=moves("m1", "channel_value"), expect=0, figures=_stats, needs="gate_samples",
             note="Values and gate are separate signals: the channel values can move while the average gate "
                  "does not."),
        Step("The least informative modality",
             "Corrupt m3, which carries least about the label. Does any of its statistics move?",
             ("yes, some move", "none moves measurably"),
             do="Same run.", look="The m3 rows of the gate statistics.",
             says=anything_moves("m3"), expect=1, figures=_stats, needs="gate_samples",
             note="A modality the model barely uses has little for a gate to react to: its corruption changes "
                  "nothing the values were trained on."),
        Step("Is it more robust?",
             "Over the whole noise sweep, does VGMR keep more accuracy than the plain concat backbone?",
             ("yes, more robust", "no difference we can show", "no, less robust"),
             do="Press **Compute robustness**.", look="The two bands of accuracy against noise ratio, and the findings.",
             says=robust, expect=1, figures=_robustness, needs="robustness",
             note="On this small synthetic task three seeds cannot separate the two; the paper's gain came on real "
                  "benchmarks."),
    ),
)
