"""Home

What fusionlab is and how to start.
"""
import streamlit as st
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("fusionlab — a laboratory for multimodal fusion")
st.markdown(
    """
Multimodal models combine several inputs — text, audio, video, sensors, feature views — and it
is rarely obvious **which input a model leans on**, what a gate suppresses when one input is
corrupted, or whether a "reliability score" changes any decision at all. fusionlab trains small
fusion models live, lets you corrupt each modality with a slider, and shows per sample what the
fusion does.

**How to start.** Open **Lessons** in the sidebar and start with Lesson 1: each step asks a question, you
predict the answer, the step opens a page with its setting, and after you run it the page shows what *your run*
says, computed from its numbers. Or explore freely: open **Playground**. The built-in dataset is the UCI handwritten
digits with six feature views; the default pair is `pix` (240 pixel averages, strong) and `mor`
(6 morphological features, weak). Press *Train*, watch the live curves, then drag a noise slider:
accuracy, the confusion matrix and the robustness curve answer at once.

Each page reproduces, in kind, a paper, and has a command-line twin (`python -m fusionlab --help`)
that writes the same tables as CSV/JSON:
"""
)
st.table(
    {
        "page": ["Playground", "Fusion complexity", "Gates & values", "Reliability permutation", "Uncertainty weighting"],
        "question": [
            "Which modality does a fusion operator lean on, and how does accuracy answer noise?",
            "Does product/tensor fusion learn a multiplicative task from less data, and is it more fragile? (the fusion-complexity paper)",
            "What does a value-gated refiner suppress when one input is corrupted? (the VGMR paper, VGMR)",
            "Do per-sample reliability scores change any fused decision? (the reliability paper)",
            "Does noise-aware weighting avoid suppressing the harder modality? (the UDML paper, UDML)",
        ],
    }
)
st.caption("Every page has a command-line twin that writes the same tables; all computation lives in the `fusionlab` package.")
