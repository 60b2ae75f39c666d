"""The papers the lab reproduces, cited as users know them: by title, authors (where the paper names them) and
venue. Pages, the CLI's help and the docs cite them through ``cite``; nothing shows an internal number."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    venue: str
    arxiv: str = ""

    def cite(self) -> str:
        where = f"{self.venue}, arXiv:{self.arxiv}" if self.arxiv else self.venue
        return f"{self.authors}, *{self.title}* ({where})"


PAPERS: Dict[str, Paper] = {
    "reliability": Paper("When Does Quality-Aware Multimodal Fusion Matter? A Leakage-Safe Diagnostic for "
                         "Decision-Level Dependence", "authors not named in the lab's copy", "INTERSPEECH 2026",
                         "2606.26473"),
    "udml": Paper("Unbiased Dynamic Multimodal Fusion", "the UDML authors (code: shicaiwei123/UDML)", "CVPR 2026",
                  "2603.19681"),
    "fusion-complexity": Paper("Encoding Domain Insights into Multi-modal Fusion: Improved Performance at the Cost "
                               "of Robustness", "anonymous authors", "under review at ICML"),
    "vgmr": Paper("Before Fusion, Ask What to Keep: Contextual Calibration of Multimodal Signals",
                  "anonymous authors", "preprint"),
    "tfn": Paper("Tensor Fusion Network for Multimodal Sentiment Analysis", "Zadeh, Chen, Poria, Cambria and "
                 "Morency", "EMNLP 2017", "1707.07250"),
    "gmu": Paper("Gated Multimodal Units for Information Fusion", "Arevalo, Solorio, Montes-y-Gómez and González",
                 "ICLR 2017 workshop", "1702.01992"),
}


def cite(key: str) -> str:
    return PAPERS[key].cite()


@dataclass(frozen=True)
class PaperClaim:
    """A finding a paper reports, stated once: a page that compares with a paper shows this text (``said``), then
    our run's computed finding; no page states a paper's result in words of its own (``tests/test_claims.py``)."""

    paper: str  # key of PAPERS
    where: str  # the paper's section or table
    text: str  # the finding in plain words, with its number where the paper gives one


CLAIMS: Dict[str, PaperClaim] = {
    "vgmr-gates": PaperClaim("vgmr", "§4.4, Table 4.4", "on a corrupted modality the global value, the channel "
                             "values and their spread rise, and the average gate falls"),
    "vgmr-robustness": PaperClaim("vgmr", "§4.8", "VGMR keeps more accuracy than the plain backbone as noise grows"),
    "reliability-clean": PaperClaim("reliability", "its clean-data experiments", "permuting a real quality score "
                                    "across test rows changes no fused decision (Δ ≈ 0); its scores barely track "
                                    "which expert is right (ρ ≈ 0)"),
    "udml-dual": PaperClaim("udml", "its motivation and method", "uncertainty weighting alone suppresses a "
                            "hard-to-learn modality twice (the model depends on it less, and its higher uncertainty "
                            "gives it a smaller weight), so dynamic fusion can fall below static fusion; dividing by "
                            "the dependency α protects that modality"),
    "fusion-complexity": PaperClaim("fusion-complexity", "Figures 1-3", "a fusion that encodes the task's prior "
                                    "(product fusion on the dot-product task) is more accurate from less data, and "
                                    "loses more accuracy than concatenation under noise"),
}


def said(key: str) -> str:
    """A paper's finding as a page shows it: who found it, where, and what."""
    c = CLAIMS[key]
    p = PAPERS[c.paper]
    return f"*{p.title}* ({p.venue}, {c.where}) found that {c.text}"
