"""The server's opt-in for what a served lab must not do by default: import a user's model file (it runs their code)
and read a folder on the server's disk. Off unless the server was started with ``FUSIONLAB_ALLOW_USER_CODE=1`` or
``allow_user_code = true`` in ``.streamlit/secrets.toml``."""
from __future__ import annotations

import os

import streamlit as st

ALLOW_USER_CODE = "FUSIONLAB_ALLOW_USER_CODE"


def user_code_allowed() -> bool:
    """Whether this server may import a user's model file or read a folder on its disk."""
    if os.environ.get(ALLOW_USER_CODE, "").strip().lower() in ("1", "true", "yes"):
        return True
    try:
        return bool(st.secrets.get("allow_user_code", False))
    except Exception:  # no secrets file at all: Streamlit raises its own error type there
        return False
