"""Where a page's multi-run jobs run: here, or on the Dask cluster named in ``.streamlit/secrets.toml``
(``dask_scheduler = "tcp://HOST:PORT"``) or in ``DASK_SCHEDULER_ADDRESS`` — never typed into the page."""
from __future__ import annotations

import os
from typing import Optional, Tuple

import streamlit as st


def scheduler_address() -> Optional[str]:
    try:
        address = st.secrets.get("dask_scheduler")
    except Exception:  # no secrets file: Streamlit raises its own not-found error
        address = None
    return address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


@st.cache_resource(show_spinner=False)
def _client(address: str):
    from distributed import Client
    return Client(address, timeout=10)


@st.cache_resource(show_spinner=False)
def _threads():
    from concurrent.futures import ThreadPoolExecutor
    return ThreadPoolExecutor(_cores(), thread_name_prefix="fusionlab-jobs")


def _cores() -> int:
    return max(1, os.cpu_count() or 1)


def threaded_executor() -> Tuple[object, str]:
    """Like :func:`page_executor`, but here the jobs run on one thread per core (one pool for every session), for
    a study whose jobs spend their time in torch's large products, which release the GIL. Fusion complexity's
    default: 5.9-6.6 s in turn, 4.3-4.5 s on 2 threads, the same tables. UDML's small models ran slower on threads
    (2.6-2.8 s vs 3.2-3.5 s: they hold the GIL), so its page keeps :func:`page_executor`."""
    executor, where = page_executor()
    if executor is not None:
        return executor, where
    return _threads(), f"in this server process, {_cores()} at once"


def page_executor() -> Tuple[object, str]:
    """``(executor or None, where the jobs run)``; an unreachable cluster falls back to this process."""
    address = scheduler_address()
    if not address:
        return None, "in this server process"
    try:
        client = _client(address)
    except (OSError, TimeoutError) as exc:
        return None, f"in this server process (the Dask scheduler at {address} did not answer: {exc})"
    return client.get_executor(pure=False), f"on the Dask cluster at {address}"
