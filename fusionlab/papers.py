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
                         "Decision-Level Dependence", "the authors of arXiv:2606.26473", "arXiv preprint, 2026",
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
