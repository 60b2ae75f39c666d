"""Give freed memory back to the system once sessions close.

Streamlit frees a closed tab's session (its models, data and figures) ``disconnectedSessionTTL``
seconds after it disconnects, but glibc keeps the freed pages in its per-thread arenas, so the
server's resident memory stays at its peak (measured: +206 MB over idle a minute after 8 sessions
closed). One daemon thread per server collects garbage and calls ``malloc_trim(0)`` every
``EVERY`` seconds; ``mallopt(M_ARENA_MAX, 2)`` caps the number of arenas session threads spread
their allocations over. Both are no-ops where glibc is absent.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time

import streamlit as st

EVERY = 10.0
M_ARENA_MAX = -8


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - not glibc
        return None


def trim() -> bool:
    """One collection and ``malloc_trim(0)``; True if glibc returned memory."""
    gc.collect()
    libc = _libc()
    return bool(libc and hasattr(libc, "malloc_trim") and libc.malloc_trim(0))


@st.cache_resource(show_spinner=False)
def start_trimmer() -> threading.Thread:
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, 2)

    def loop() -> None:
        while True:
            time.sleep(EVERY)
            trim()

    thread = threading.Thread(target=loop, name="fusionlab-malloc-trim", daemon=True)
    thread.start()
    return thread
