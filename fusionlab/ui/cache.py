"""Datasets shared by all sessions, bounded by bytes; uploads kept per session, never shared.

``st.cache_data`` bounds its entries by count, so a few large datasets could pin gigabytes; here
built-in datasets (a pure function of their ``DataConfig``) live in one process-wide cache of at
most ``MAX_SHARED_BYTES``, least recently used out first, and an uploaded file's dataset lives in
the uploading session's state only (freed with the session).
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Optional

import streamlit as st

from ..data import DataConfig, MultimodalDataset

MAX_SHARED_BYTES = 512 * 2**20


def nbytes(ds: MultimodalDataset) -> int:
    return int(sum(v.nbytes for v in ds.modalities.values()) + ds.labels.nbytes)


class ByteLRU:
    """A thread-safe least-recently-used map whose values' sizes (``size(value)``) sum to at most ``limit``; with
    ``max_idle_s``, a value nobody has asked for in that long is dropped too (at the next call, or ``expire``)."""

    def __init__(self, limit: int, size=nbytes, max_idle_s: Optional[float] = None, clock=time.monotonic) -> None:
        self.limit, self.size, self.max_idle_s, self.clock = limit, size, max_idle_s, clock
        self._items: "OrderedDict[Any, list]" = OrderedDict()  # key -> [value, bytes, last use], least recent first
        self._lock = threading.Lock()

    def get(self, key, make):
        hit = self.peek(key)
        if hit is not None:
            return hit
        value = make()  # outside the lock: loading may take a while
        self.put(key, value)
        return value

    def peek(self, key):
        """The value held under ``key`` (marked recently used), or None."""
        with self._lock:
            self._expire()
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            item = self._items[key]
            item[2] = self.clock()
            return item[0]

    def put(self, key, value) -> None:
        """Hold ``value`` under ``key`` if it fits, dropping the least recently used beyond the limit."""
        n = self.size(value)
        with self._lock:
            self._expire()
            if n <= self.limit:
                self._items[key] = [value, n, self.clock()]
                self._items.move_to_end(key)
                while sum(s for _, s, _ in self._items.values()) > self.limit:
                    self._items.popitem(last=False)

    def expire(self) -> int:
        """Drop the values idle for longer than ``max_idle_s``; how many were dropped."""
        with self._lock:
            return self._expire()

    def _expire(self) -> int:
        if self.max_idle_s is None:
            return 0
        cut, dropped = self.clock() - self.max_idle_s, 0
        while self._items and next(iter(self._items.values()))[2] < cut:  # least recently used first
            self._items.popitem(last=False)
            dropped += 1
        return dropped

    @property
    def used(self) -> int:
        with self._lock:
            return sum(s for _, s, _ in self._items.values())


@st.cache_resource(show_spinner=False)
def shared_cache() -> ByteLRU:
    return ByteLRU(MAX_SHARED_BYTES)


def load_data(cfg: DataConfig, source: Optional[bytes] = None) -> MultimodalDataset:
    """``cfg.load(source)``: built-in datasets from the shared byte-bounded cache, uploads per session."""
    if source is None:
        return shared_cache().get(cfg, cfg.load)
    key = ("fusionlab-upload", cfg, hashlib.sha256(source).hexdigest())
    held = st.session_state.get("fusionlab-upload")
    if held is not None and held[0] == key:
        return held[1]
    ds = cfg.load(source)
    st.session_state["fusionlab-upload"] = (key, ds)  # one upload per session: the previous one is freed
    return ds
