"""Links from a page to a section of the methods reference (docs/methods.md, served as the Methods page)."""
from __future__ import annotations

SECTIONS = {  # anchor -> the section's title in docs/methods.md
    "corruptions-and-robustness": "Corruptions and robustness",
    "fusion-operators": "Fusion operators",
    "fusion-complexity": "Fusion complexity",
    "vgmr-the-value-gated-refiner": "VGMR: the value-gated refiner",
    "udml-uncertainty-weighting": "UDML: uncertainty weighting",
    "reliability-permutation-test": "Reliability permutation test",
    "modality-attribution-and-interaction": "Modality attribution and interaction",
    "signal-permutation-test": "Signal permutation test",
    "findings": "Findings",
    "papers": "Papers",
}


def methods_link(anchor: str, words: str = "") -> str:
    """A markdown link to a section of the Methods page (a new tab: the trained model stays in this one)."""
    if anchor not in SECTIONS:
        raise ValueError(f"docs/methods.md has no section '{anchor}'")
    return f"[{words or SECTIONS[anchor]}](/methods#{anchor})"
