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

import ast
import functools
import threading
from pathlib import Path

import streamlit as st


@functools.lru_cache(maxsize=64)
def _title_of(path: str, mtime_ns: int) -> str:
    doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or Path(path).stem
    return doc.strip().splitlines()[0].rstrip(".")


def page_title(path: Path) -> str:
    """A page's title: the first line of its module docstring. Parsed once per file version, not at every run
    of every session (``app.py`` builds the navigation at each run: parsing the nine pages each time was 1.5 s
    of a 40 s sample of a server with 24 sessions starting, py-spy)."""
    return _title_of(str(path), path.stat().st_mtime_ns)


def machine_settings_from_secrets() -> None:
    """What a dataset needs of the machine (``data.spec.MachineSetting``: the FSDD folder), from the server's
    ``.streamlit/secrets.toml`` into the process environment the library reads; an environment variable already set
    wins."""
    import os

    from ..data import DATASETS, spec
    for name in DATASETS.names():
        for m in spec(name).settings:
            if os.environ.get(m.env):
                continue
            try:
                value = st.secrets.get(m.secret)
            except Exception:  # noqa: BLE001 - no secrets file: Streamlit raises its own not-found error
                return
            if value:
                os.environ[m.env] = str(value)


def ensure_app() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    machine_settings_from_secrets()
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # app.py's st.navigation would set this on its first run
        st.rerun()


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Once per server, in a thread of its own: build the optimizer every training builds. torch imports its
    compiler stack (``torch._dynamo``) the first time an optimizer is made, about 1 s that otherwise fell inside the
    first training of a fresh server, whichever page ran it (Fusion complexity's study: 4.5-5.2 s cold, 3.3-4.0 s
    after; cProfile put the difference in that import)."""
    def build() -> None:
        import torch

        from ..train import TrainConfig, make_optimizer
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], TrainConfig())
    thread = threading.Thread(target=build, name="fusionlab-warm-up", daemon=True)
    thread.start()
    return thread
