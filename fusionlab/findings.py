"""Typed findings and the one rule that decides them (docs/methods.md, corruptions and robustness, "Comparisons over seeds").

A ``Finding`` is a claim of a paper, a verdict (*holds / partly / does not hold / cannot tell*)
and the numbers behind it. Where two methods are compared over the same seeds (or the same test
samples), the unit is the paired difference; "cannot tell apart" means its 95 % t interval
contains 0 — with one pair, or a tie with no spread, nothing can be told. Pages and the CLI print
the same findings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import stats

HOLDS, PARTLY, FAILS, UNKNOWN = "holds", "partly", "does not hold", "cannot tell"
VERDICTS = (HOLDS, PARTLY, FAILS, UNKNOWN)
LEVEL = 0.95


@dataclass(frozen=True)
class Finding:
    claim: str
    verdict: str  # one of VERDICTS
    evidence: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got '{self.verdict}'")

    @property
    def holds(self) -> Optional[bool]:
        """True / False for a decided claim (``partly`` counts as not holding), None for ``cannot tell``."""
        return None if self.verdict == UNKNOWN else self.verdict == HOLDS

    def line(self) -> str:
        """The finding as one line of text (the CLI prints these)."""
        return f"[{self.verdict}] {self.claim}: {self.evidence}"


def records(findings: Sequence[Finding]) -> list:
    """Findings as JSON-ready data (a result file's)."""
    return [{"claim": f.claim, "verdict": f.verdict, "holds": f.holds, "evidence": f.evidence} for f in findings]


def paired_interval(diffs: Sequence[float], level: float = LEVEL) -> Tuple[float, float, float]:
    """Mean and ``level`` t interval of paired differences; the interval is NaN with fewer than 2.

    A set of identical differences has the degenerate interval ``[d, d]``.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(d.mean())
    if len(d) < 2:
        return mean, float("nan"), float("nan")
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * sd / np.sqrt(len(d)))
    return mean, mean - half, mean + half


def direction(diffs: Sequence[float], level: float = LEVEL) -> int:
    """+1 if the paired differences are above 0 (their interval excludes 0), -1 if below, 0 if they
    cannot be told from 0 (the interval contains 0, or is undefined)."""
    mean, lo, hi = paired_interval(diffs, level)
    if not np.isfinite(lo):
        return 0
    if lo > 0:
        return 1
    if hi < 0:
        return -1
    return 0


def _num(v: float, digits: int) -> str:
    """Three decimals, or three significant digits for a number that would print as ±0.000 (so that a
    tiny difference the interval calls non-zero never reads as zero beside its verdict)."""
    if v == 0:
        return "+0"
    return f"{v:+.{digits}f}" if abs(v) >= 0.5 * 10 ** -digits else f"{v:+.{digits}g}"


def describe(diffs: Sequence[float], level: float = LEVEL, digits: int = 3) -> str:
    """``"+0.012 [+0.004, +0.020]"``: mean paired difference and its interval (or ``n = 1``)."""
    mean, lo, hi = paired_interval(diffs, level)
    if not np.isfinite(mean):
        return "no pairs"
    if not np.isfinite(lo):
        return f"{_num(mean, digits)} (one pair: no interval)"
    return f"{_num(mean, digits)} [{_num(lo, digits)}, {_num(hi, digits)}]"


def from_directions(wanted: Sequence[int], seen: Sequence[int]) -> str:
    """A verdict over several sub-claims: each wanted direction (+1/-1) against the one seen."""
    hits = sum(int(w == s) for w, s in zip(wanted, seen))
    against = sum(int(s != 0 and s != w) for w, s in zip(wanted, seen))
    if hits == len(wanted):
        return HOLDS
    if hits == 0 and against == 0:
        return UNKNOWN
    return PARTLY if hits > 0 else FAILS
