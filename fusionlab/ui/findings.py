"""Typed findings as badges: the same verdicts the CLI prints (``Finding.line``)."""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from ..findings import FAILS, HOLDS, PARTLY, Finding

BADGES = {HOLDS: ":green-badge[holds]", PARTLY: ":orange-badge[partly]", FAILS: ":red-badge[does not hold]"}


def badge(verdict: str) -> str:
    """Words, not emoji: they draw without an emoji font."""
    return BADGES.get(verdict, ":gray-badge[cannot tell]")


def show_findings(findings: Sequence[Finding]) -> None:
    for f in findings:
        st.markdown(f"{badge(f.verdict)} **{f.claim}** — {f.evidence}")
