"""What a lesson is, and how its steps are run and read (the Lessons page, the study pages' lesson panel and
``python -m fusionlab lessons`` share this).

A :class:`Lesson` walks a class through one study page in 4-8 :class:`Step` s. A step asks a question and
offers predictions to choose from *before* the run is seen; its ``link`` opens the study page with the step's
setting (the page's own link parameters) and ``args`` are the same setting for the page's command-line twin
(``tests/test_lessons.py`` opens every link and checks both build the same config). ``do`` and ``look`` are
reading guides that claim nothing about the result; ``says`` reads the student's run and returns a
:class:`Said`: the computed finding, with its numbers, and which prediction it supports (None: it cannot tell).
``expect`` is the prediction our reference run supports; ``lessons --check`` runs every step's setting and
fails when a step's finding no longer supports it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..findings import Finding

Figures = Callable[[object], list]  # result -> plotly figures (the export's reference-run figures)


@dataclass(frozen=True)
class Study:
    """A study page: its page file, its address, the session-state key of its config, its CLI command and the
    ``fusionlab.commands`` module whose ``config(args)`` builds the config from that command's arguments."""

    page: str
    url_path: str
    key: str
    command: str
    module: str
    study: str  # fusionlab.experiments.<study>
    button: str  # what the student presses to run the step's setting


STUDIES: Dict[str, Study] = {
    "playground": Study("1_playground.py", "playground", "playground", "train", "train", "playground", "Train"),
    "scaling": Study("2_fusion_complexity.py", "fusion_complexity", "fusion_complexity", "scaling", "scaling",
                     "scaling", "Run study"),
    "gates": Study("3_gates_values.py", "gates_values", "gates_values", "vgmr", "vgmr", "gates",
                   "Train VGMR, then Compute gate statistics and Compute robustness"),
    "permutation": Study("4_reliability_permutation.py", "reliability_permutation", "permutation", "permutation",
                         "permutation", "permutation", "Fit experts"),
    "udml": Study("5_uncertainty_weighting.py", "uncertainty_weighting", "udml", "udml", "udml", "udml",
                  "Train"),
}


@dataclass(frozen=True)
class Said:
    """What a student's run says: the finding (claim, verdict, numbers) and the prediction it supports."""

    finding: Finding
    choice: Optional[int]  # index into the step's ``predict``; None: the run cannot tell

    def answer(self, predict: Sequence[str]) -> str:
        return predict[self.choice] if self.choice is not None else "cannot tell from this run"


@dataclass(frozen=True)
class Step:
    title: str
    question: str
    predict: Tuple[str, ...]  # the choices a student picks from before seeing the result
    do: str  # what to press or move (a guide, no claim)
    look: str  # where to look and how to read it (a guide, no claim)
    says: Callable[[object], Said]  # the study's Result -> what this run says
    expect: int  # the prediction our reference run supports (checked by ``lessons --check``)
    link: Mapping[str, str] = field(default_factory=dict)  # the study page's link parameters for this step
    args: Tuple[str, ...] = ()  # the same setting as the CLI twin's arguments
    check_args: Optional[Tuple[str, ...]] = None  # a CI-sized twin of ``args`` (None: ``args`` themselves)
    check_why: str = ""  # why the check runs a smaller setting, shown with the step
    figures: Optional[Figures] = None  # what the export draws from the reference run
    note: str = ""  # after the answer: what it teaches, including where our reconstruction differs from a paper
    needs: str = ""  # the table the answer reads, where a page computes it with a button of its own (Gates & values)

    def __post_init__(self) -> None:
        if len(self.predict) < 2:
            raise ValueError(f"step '{self.title}': a prediction needs at least two choices")
        if not 0 <= self.expect < len(self.predict):
            raise ValueError(f"step '{self.title}': expect {self.expect} is not one of its {len(self.predict)} choices")


@dataclass(frozen=True)
class Lesson:
    id: str  # its name in links and on the command line
    title: str
    study: str  # key of STUDIES
    intro: str
    steps: Tuple[Step, ...]
    paper: str = ""  # key of papers.PAPERS, when the lesson follows a paper

    def __post_init__(self) -> None:
        if self.study not in STUDIES:
            raise ValueError(f"lesson '{self.id}': unknown study '{self.study}'")
        if not 4 <= len(self.steps) <= 8:
            raise ValueError(f"lesson '{self.id}' has {len(self.steps)} steps; a lesson has 4 to 8")

    @property
    def where(self) -> Study:
        return STUDIES[self.study]


def step_config(lesson: Lesson, step: Step, check: bool = False):
    """The study config a step's setting builds through its CLI twin (``check``: the CI-sized twin's)."""
    import importlib

    from ..cli import build_parser
    s = lesson.where
    args = step.check_args if check and step.check_args is not None else step.args
    parsed = build_parser(s.command).parse_args([s.command, *args, "--out", "unused"])
    return importlib.import_module(f"fusionlab.commands.{s.module}").config(parsed)


class Runs:
    """Each distinct setting run once (steps of a lesson often share one run)."""

    def __init__(self) -> None:
        self._done: Dict[Tuple[str, str], object] = {}

    def result(self, lesson: Lesson, step: Step, check: bool = False):
        import importlib
        import json

        from ..bundles import record
        cfg = step_config(lesson, step, check)
        key = (lesson.study, json.dumps(record(cfg), sort_keys=True, default=str))  # configs hold dicts: unhashable
        if key not in self._done:
            study = importlib.import_module(f"fusionlab.experiments.{lesson.where.study}")
            self._done[key] = study.run(cfg)
        return self._done[key]


@dataclass(frozen=True)
class Checked:
    lesson: Lesson
    number: int  # 1-based
    step: Step
    said: Said
    ok: bool
    smaller: bool  # ran the CI-sized twin


def check(lessons: Sequence[Lesson], runs: Optional[Runs] = None, full: bool = False) -> List[Checked]:
    """Run every step's setting (its CI-sized twin unless ``full``) and read it; ``ok`` when the finding supports
    the prediction the lesson expects."""
    runs = runs or Runs()
    out = []
    for lesson in lessons:
        for i, step in enumerate(lesson.steps, 1):
            smaller = not full and step.check_args is not None
            said = step.says(runs.result(lesson, step, check=not full))
            out.append(Checked(lesson, i, step, said, said.choice == step.expect, smaller))
    return out
