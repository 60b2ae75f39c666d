"""Methods

What each method computes, the choices made where a paper is silent, and the papers: docs/methods.md, served.
"""
from pathlib import Path

import streamlit as st

from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

DOC = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
st.title("Methods")
text = DOC.read_text(encoding="utf-8")
st.markdown(text.split("\n", 1)[1] if text.startswith("# ") else text)  # its ## headings: the anchors pages link to
