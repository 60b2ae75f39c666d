"""Glossary

Every symbol and abbreviation the pages use, in plain words.
"""
import streamlit as st

from fusionlab.ui.glossary import TERMS
from fusionlab.ui.methods import methods_link
from fusionlab.ui.shell import ensure_app

ensure_app()  # a deep link as a fresh server's first request still runs inside app.py

st.title("Glossary")
st.markdown(f"Every symbol and abbreviation the pages use, in plain words. A symbol can mean different things on "
            "different pages (β weighs VGMR's value loss and UDML's KL term), so the entries are grouped by page. "
            "The formulas themselves are in each page's *Formulas and source* expander and on the "
            f"{methods_link('fusion-operators', 'Methods')} page.")
for section, entries in TERMS.items():
    st.header(section, anchor=f"section-{section.lower().replace(' ', '-').replace('&', 'and')}")
    for anchor, symbol, words in entries:
        st.subheader(symbol, anchor=anchor)
        st.markdown(words)
