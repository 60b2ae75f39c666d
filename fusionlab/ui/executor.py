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
