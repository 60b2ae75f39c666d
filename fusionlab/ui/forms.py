"""Widgets generated from config dataclasses: a dataset's options come from its spec
(``fusionlab.data.spec.option`` metadata), so no page names a dataset.

Every widget takes its default once through ``st.session_state`` (``init_state``), so presets can
set the same keys without Streamlit warning that a value came from two places. Keys are
``<page>-<dataset>-<field>``: each dataset keeps its own settings when you switch between them.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import streamlit as st

from ..data import DATASETS, DataConfig, MultimodalDataset, controls, default_informativeness
from ..data.spec import kind_of
from ..experiments.base import data_default
from .cache import load_data


DEFAULTS: Dict[str, Any] = {}  # widget key -> its code default (the same in every session): links omit these


def init_state(key: str, default) -> str:
    """Return widget ``key`` after setting its default once in session_state."""
    value = list(default) if isinstance(default, tuple) else default
    DEFAULTS.setdefault(key, value)
    st.session_state.setdefault(key, value)
    return key


def field_key(page: str, dataset: str, name: str) -> str:
    return f"{page}-{dataset}-{name}"


def _names(n: int) -> list:
    return [f"m{i + 1}" for i in range(n)]


def option_widget(f, key: str, value: Any) -> Any:
    """One declared option's widget (an operator's or a refiner's: no per-modality kinds)."""
    return _widget(f, key, value, {}, {})


def _widget(f, key: str, value: Any, values: Dict[str, Any], max_select: Mapping[str, int]):
    """One option's widget; returns its value in the config's type."""
    meta, kind = f.metadata, kind_of(f)
    label, help_ = meta.get("label") or f.name, meta.get("help")
    if kind == "bool":
        return bool(st.checkbox(label, key=init_state(key, bool(value)), help=help_))
    words = meta.get("words") or {}
    if kind == "int" and meta.get("choices"):
        return int(st.selectbox(label, list(meta["choices"]), key=init_state(key, int(value)), help=help_,
                                format_func=lambda v: words.get(v, str(v))))
    if kind == "int":
        return int(st.number_input(label, int(meta["lo"]), int(meta["hi"]), step=int(meta.get("step") or 1),
                                   key=init_state(key, int(value)), help=help_))
    if kind == "float":
        return float(st.slider(label, float(meta["lo"]), float(meta["hi"]), step=float(meta.get("step") or 0.05),
                               key=init_state(key, float(value)), help=help_))
    if kind == "str":
        choices = list(meta["choices"])
        return st.selectbox(label, choices, key=init_state(key, value), help=help_,
                            format_func=lambda v: words.get(v, str(v)))
    if kind == "strs":
        return tuple(st.multiselect(label, list(meta["choices"]), key=init_state(key, tuple(value)), help=help_,
                                    max_selections=max_select.get(f.name)))
    if kind == "modalities":
        names = _names(int(values.get(meta["per"], 0)))
        chosen = [names[i] for i in (value or ()) if i < len(names)]
        picked = st.multiselect(label, names, key=init_state(key, tuple(chosen)), help=help_)
        return tuple(names.index(n) for n in picked if n in names)
    if kind == "floats":
        n = int(values.get(meta["per"], 0))
        base = list(value) if value is not None and len(value) == n else list(default_informativeness(n))
        cols = st.columns(max(n, 1))
        return tuple(float(c.slider(f"{label} {m}", float(meta["lo"]), float(meta["hi"]),
                                    step=float(meta.get("step") or 0.05), key=init_state(f"{key}-{m}", base[i]),
                                    help=help_)) for i, (c, m) in enumerate(zip(cols, _names(n))))
    raise ValueError(f"no widget for option kind '{kind}' ({f.name})")  # pragma: no cover - a spec bug


def data_controls(page: str, names: Sequence[str], defaults: Mapping[str, DataConfig], default_name: str,
                  max_select: Mapping[str, int] = {}) -> Tuple[Optional[DataConfig], Any]:
    """A dataset picker and its options' widgets; returns the ``DataConfig`` and the upload (bytes or None).

    Bad options or a missing upload show a message and return ``(None, None)``.
    """
    from .links import offered
    names = offered(names)
    if st.session_state.get(f"{page}-dataset") not in (None, *names):  # e.g. a saved setting of a folder gone since
        st.session_state[f"{page}-dataset"] = default_name
    name = st.selectbox("dataset", list(names), key=init_state(f"{page}-dataset", default_name),
                        format_func=lambda n: f"{n} — {DATASETS.doc(n)}",
                        help="the data the models train on: a built-in dataset, generated data whose ground truth "
                             "is known, or your own file")
    base = data_default(defaults, name)
    values: Dict[str, Any] = {}
    source = None
    fields = controls(base.spec.config)
    plain = [f for f in fields if kind_of(f) not in ("floats", "path")]
    cols = st.columns(min(3, len(plain))) if plain else []
    for i, f in enumerate(plain):
        with cols[i % len(cols)]:
            values[f.name] = _widget(f, field_key(page, name, f.name), getattr(base.options, f.name), values, max_select)
    for f in fields:
        kind = kind_of(f)
        if kind == "floats":
            values[f.name] = _widget(f, field_key(page, name, f.name), getattr(base.options, f.name), values, max_select)
        elif kind == "path":
            if server_folder_offered(page, name):
                folder = server_folder(page, name)
                if folder is None:
                    return None, None
                values[f.name] = folder  # read on the server (lazily when over the memory budget), never uploaded
                continue
            up = st.file_uploader(f.metadata.get("label") or f.name, type=["npz", "csv", "parquet"],
                                  key=field_key(page, name, f.name), help=f.metadata.get("help"))
            if up is None:
                st.info("Upload a file to use your own features.")
                return None, None
            values[f.name], source = up.name, up.getvalue()
    try:
        return replace(base, options=replace(base.options, **values)), source
    except ValueError as exc:
        st.warning(f"Cannot use these dataset settings: {exc}")
        return None, None


UPLOAD, FOLDER = "an upload", "a folder on this server"


def server_folder_offered(page: str, name: str) -> bool:
    """Whether the features come from a folder on the server: offered only under the server's opt-in (it reads the
    server's disk), and then chosen with a radio."""
    from .optin import user_code_allowed
    if not user_code_allowed():
        return False
    how = st.radio("your features from", [UPLOAD, FOLDER], horizontal=True, key=init_state(f"{page}-{name}-from", UPLOAD),
                   help="a folder of .npy arrays on this server (docs/data.md, 'A folder'): <modality>.npy, labels.npy, "
                        "optional split.npy and present_<modality>.npy; read from disk a batch at a time when it is "
                        "larger than the memory budget")
    return how == FOLDER


def server_folder(page: str, name: str) -> Optional[str]:
    """The folder path the user typed, if it is a folder on this server (else a message and None)."""
    from pathlib import Path
    from .links import literal
    path = st.text_input("folder on this server", key=init_state(f"{page}-{name}-folder", ""),
                         help="the folder's path on the machine the lab runs on")
    if not path.strip():
        st.info("Give the path of a folder of .npy arrays on this server.")
        return None
    if not Path(path).expanduser().is_dir():
        st.warning(f"{literal(path, 80)} is not a folder on this server.")
        return None
    return str(Path(path).expanduser())


def state_shapes(page: str, defaults: Mapping[str, DataConfig], default_name: str) -> Dict[str, Tuple[int, int]]:
    """The modalities (name -> shape) the page's dataset widgets would pick now, read from their session-state
    keys without drawing them (a link's levels are checked against these before the page is drawn); the
    dataset's defaults where a key is unset or unusable; empty for an upload (its modalities are in the file)."""
    base = data_default(defaults, st.session_state.get(f"{page}-dataset", default_name))
    values = {}
    for f in controls(base.spec.config):
        key = field_key(page, base.name, f.name)
        if kind_of(f) in ("bool", "int", "float", "str", "strs") and key in st.session_state:
            values[f.name] = st.session_state[key]
    try:
        options = replace(base.options, **values)
    except (TypeError, ValueError):
        options = base.options
    try:
        return dict(base.spec.info(options).modalities)
    except (TypeError, ValueError):
        return {}


def load_or_error(cfg: Optional[DataConfig], source: Optional[bytes]) -> Optional[MultimodalDataset]:
    if cfg is None:
        return None
    try:
        return load_data(cfg, source)
    except ValueError as exc:
        st.error(f"Cannot use this dataset: {exc}")
        return None


def data_state(page: str, cfg: DataConfig) -> Dict[str, Any]:
    """The session-state values that make ``data_controls`` show ``cfg`` (a preset writes these)."""
    out: Dict[str, Any] = {f"{page}-dataset": cfg.name}
    for f in controls(cfg.spec.config):
        key, value, kind = field_key(page, cfg.name, f.name), getattr(cfg.options, f.name), kind_of(f)
        if kind == "path":
            continue
        if kind == "floats":
            n = int(getattr(cfg.options, f.metadata["per"]))
            vals = value if value is not None and len(value) == n else default_informativeness(n)
            out.update({f"{key}-{m}": float(v) for m, v in zip(_names(n), vals)})
        elif kind == "modalities":
            names = _names(int(getattr(cfg.options, f.metadata["per"])))
            out[key] = [names[i] for i in value if i < len(names)]
        else:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out
