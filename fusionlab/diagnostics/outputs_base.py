"""The records both readers of your own outputs build (:mod:`.outputs`), and the checks they share: an
:class:`Outputs` of one or more :class:`OutputRun` train/test assignments, and :func:`check_runs`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np


@dataclass
class OutputRun:
    """One train/test assignment with its posteriors ``(N, M, C)`` (NaN where missing) and ``Q`` ``(N, M)``."""

    seed: int
    fold: int
    train: np.ndarray  # row indices
    test: np.ndarray
    probs: np.ndarray
    q: Optional[np.ndarray] = None


@dataclass
class Outputs:
    """A user's outputs: modality and class names, labels, availability and one or more runs."""

    names: List[str]
    class_names: List[str]
    y: np.ndarray  # (N,) class codes
    present: np.ndarray  # (N, M) bool
    runs: List[OutputRun]
    source: str = "your outputs"
    notes: List[str] = field(default_factory=list)

    @property
    def has_q(self) -> bool:
        return all(r.q is not None for r in self.runs)

    def describe(self) -> str:
        miss = ", ".join(f"{k} {1 - p:.0%}" for k, p in zip(self.names, self.present.mean(0)) if p < 1) or "none"
        return (f"**{self.source}**: {len(self.y)} rows, modalities {', '.join(self.names)}, "
                f"{len(self.class_names)} classes, {len(self.runs)} run(s) (train/test assignments); "
                f"user Q: {'yes' if self.has_q else 'no'}; missing: {miss}.")


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    """The first rows of a mask, for an error message: ``row(s) [3, 7] and 12 more``."""
    idx = np.nonzero(mask)[0]
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"row(s) {idx[:limit].tolist()}{more}"


def check_runs(out: Outputs) -> None:
    """Every run needs train and test rows, no test label unseen in train, and each modality present on
    some train and some test row."""
    for r in out.runs:
        where = f"fold {r.fold}" + (f" of seed {r.seed}" if r.seed else "") if len(out.runs) > 1 else "the split"
        if not len(r.train) or not len(r.test):
            raise ValueError(f"{where} has {len(r.train)} train and {len(r.test)} test rows; both are needed")
        unseen = np.zeros(len(out.y), bool)
        unseen[r.test] = ~np.isin(out.y[r.test], out.y[r.train])
        if unseen.any():
            names = sorted({out.class_names[c] for c in out.y[unseen]})
            raise ValueError(f"in {where} test {_rows(unseen)} have label(s) {names} never seen in train")
        for j, m in enumerate(out.names):
            for part, rows in (("test", r.test), ("train", r.train)):
                if not out.present[rows, j].any():
                    raise ValueError(f"modality '{m}' has no present {part} row in {where}")
