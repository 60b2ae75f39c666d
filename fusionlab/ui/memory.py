"""Free a closed tab's session and give its memory back to the system.

Streamlit keeps a disconnected session (its models, data and figures) in a TTL cache for
``server.disconnectedSessionTTL`` seconds so that a reconnecting tab can resume it. That cache
expires entries lazily: an expired session is hidden from ``list_sessions()`` but stays referenced
until the cache is next written, which on an idle server is never (traced with ``gc``: 8 sessions
listed as gone still held their 8 models through their fragment storage). Then glibc keeps freed
pages in its per-thread arenas, so resident memory stays at its peak.

One daemon thread per server, every ``EVERY`` seconds: drops the expired sessions on the
runtime's event loop (the cache is not thread-safe) and the shared results no session has asked for
lately (``sharing.expire_idle``); when the runtime holds fewer sessions than at the last look, a shared
result went, or a minute has passed, it collects garbage and calls ``malloc_trim(0)``.
``mallopt(M_ARENA_MAX, 2)`` caps the number of arenas session threads spread their allocations over. The glibc calls are no-ops where glibc is absent.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time
from typing import Optional

import streamlit as st

from .sharing import expire_idle

EVERY = 10.0
QUIET_EVERY = 60.0
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


def expire_sessions() -> None:
    """Ask the runtime's event loop to drop disconnected sessions whose TTL has passed."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return
    runtime = Runtime.instance()
    storage = getattr(getattr(runtime, "_session_mgr", None), "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    objs = getattr(runtime, "_async_objs", None)
    if cache is None or not hasattr(cache, "expire") or objs is None:  # another Streamlit: nothing to do
        return
    try:
        objs.eventloop.call_soon_threadsafe(cache.expire)
    except RuntimeError:  # the loop closed: the server is stopping
        pass


def sessions_held() -> Optional[int]:
    """The sessions the runtime holds (connected, and disconnected but kept for their TTL), or None if unknown. Read
    from another thread: two ``len`` calls, each atomic."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    mgr = getattr(Runtime.instance(), "_session_mgr", None)
    active = getattr(mgr, "_active_session_info_by_id", None)
    cache = getattr(getattr(mgr, "_session_storage", None), "_cache", None)
    data = getattr(cache, "_data", None)
    if active is None or data is None:  # another Streamlit
        return None
    return len(active) + len(data)


@st.cache_resource(show_spinner=False)
def start_trimmer() -> threading.Thread:
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, 2)

    def loop() -> None:
        held, last = None, time.monotonic()
        while True:
            time.sleep(EVERY)
            expire_sessions()
            time.sleep(0.5)  # let the loop run the expiry before collecting
            now = sessions_held()
            dropped = expire_idle()  # shared results and frames a class has stopped asking for
            # a full collection holds the GIL for most of a second with a class's sessions in memory: py-spy showed
            # it as a tenth of the server's time while 24 sessions started. Collect when a session or a shared
            # result has gone (its memory is what comes back), else once every ``QUIET_EVERY`` seconds
            if now is None or held is None or now < held or dropped or time.monotonic() - last >= QUIET_EVERY:
                trim()
                last = time.monotonic()
            held = now

    thread = threading.Thread(target=loop, name="fusionlab-malloc-trim", daemon=True)
    thread.start()
    return thread
