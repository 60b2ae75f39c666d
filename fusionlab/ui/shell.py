"""Every page runs inside ``app.py``'s navigation, even when a deep link is a fresh server's first request.

Streamlit (1.67) decides once per process, before any script has run, whether the app is an old-style
multipage app: ``PagesManager.uses_pages_directory`` is True when a ``pages/`` folder sits next to the
entry point, and stays True until some run calls ``st.navigation``. A first request for ``/gates_values``
therefore ran ``pages/3_gates_values.py`` alone, without ``app.py``: file names in the sidebar, no wide
layout, and every later visitor got the same until someone loaded ``/`` (issue 17). ``ensure_app``, the
first call of every page, turns that mode off and reruns, so the run goes through ``app.py`` (which
calls ``st.navigation`` and opens the page the URL names).
"""
from __future__ import annotations

import streamlit as st


def ensure_app() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # app.py's st.navigation would set this on its first run
        st.rerun()
