"""Run bundles: one ``.zip`` that holds a trained run, so it can be handed on and reopened without retraining.

Members (nothing else is accepted, and nothing is ever unpickled)::

    config.json            {"kind", "version", "config", "url", "tables", "figures"}
    weights.safetensors    the model's state dict (safetensors: tensors only, no code)
    tables/<name>.csv      every table of the run
    figures/<name>.html    every figure (figures/plotly.min.js once, so they open offline)

``config`` is the study's frozen config as data (``experiments.base.record``); ``config_from_record`` turns
it back into the dataclasses, refusing unknown keys. A bundle is checked before use: its size (the zip
directory, before anything is decompressed), its members, its keys, and the weights' names and shapes against
the model its config builds. Every problem is a one-line ``ValueError``.
"""
from __future__ import annotations

import io
import json
import typing
import zipfile
from dataclasses import MISSING, dataclass, fields, is_dataclass
from typing import Any, Dict, Mapping, Optional

import pandas as pd
import torch

from .data.files import open_zip
from .limits import MAX_FILE_BYTES

VERSION = 1
CONFIG_KEYS = {"kind", "version", "config", "url", "tables", "figures"}
PLOTLY_JS = "figures/plotly.min.js"


@dataclass
class Bundle:
    kind: str  # which study wrote it ("playground", ...)
    config: Dict[str, Any]  # the study's config as data
    url: str
    state: Dict[str, torch.Tensor]
    tables: Dict[str, pd.DataFrame]


# --------------------------------------------------------------------------------------------- configs


def config_from_record(cls: type, data: Any, where: str = "config") -> Any:
    """The dataclass ``cls`` from its ``record`` (nested dataclasses, tuples, optionals); an unknown or
    missing key, or a value of the wrong kind, is a ``ValueError`` naming its path."""
    from .data.spec import DataConfig, spec
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {unknown} for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise ValueError(f"{where}.{f.name} is missing")
            continue
        if cls is DataConfig and f.name == "options":
            name = data.get("name", DataConfig.name)
            try:
                options_cls = spec(name).config
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{where}.name: {exc}") from None
            values[f.name] = None if data[f.name] is None else config_from_record(options_cls, data[f.name],
                                                                                   f"{where}.options")
            continue
        values[f.name] = _value(hints[f.name], data[f.name], f"{where}.{f.name}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _value(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _value(inner[0], value, where) if len(inner) == 1 else value
    if is_dataclass(hint):
        return config_from_record(hint, value, where)
    if origin in (tuple, typing.Tuple):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {type(value).__name__}")
        item = args[0] if args else Any
        return tuple(_value(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is tuple:  # a bare ``tuple`` field (of names): a JSON list back as a tuple
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {type(value).__name__}")
        return tuple(value)
    if hint in (int, float, str, bool):
        ok = isinstance(value, hint) or (hint is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok or (hint is int and isinstance(value, bool)):
            raise ValueError(f"{where} must be {hint.__name__}, got {value!r}")
        return hint(value)
    return value  # Any, Dict[str, Any]: as stored


# --------------------------------------------------------------------------------------------- writing


def write_bundle(kind: str, config: Mapping[str, Any], url: str, state: Mapping[str, torch.Tensor],
                 tables: Mapping[str, pd.DataFrame], figures: Mapping[str, Any] = {}) -> bytes:
    """The bundle's bytes (a ``.zip``)."""
    from plotly.offline import get_plotlyjs
    from safetensors.torch import save
    meta = {"kind": kind, "version": VERSION, "config": config, "url": url, "tables": sorted(tables),
            "figures": sorted(figures)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(meta, indent=2, default=_json))
        z.writestr("weights.safetensors", save({k: v.detach().contiguous().cpu() for k, v in state.items()}))
        for name, table in tables.items():
            z.writestr(f"tables/{name}.csv", table.to_csv(index=False))
        if figures:
            z.writestr(PLOTLY_JS, get_plotlyjs())
            for name, fig in figures.items():
                z.writestr(f"figures/{name}.html", fig.to_html(include_plotlyjs="plotly.min.js", full_html=True))
    return buf.getvalue()


def _json(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in config.json")


# --------------------------------------------------------------------------------------------- reading


def read_bundle(data: bytes, kind: Optional[str] = None) -> Bundle:
    """A bundle's contents, checked (see the module docstring); ``kind`` names the study it must be from."""
    from safetensors import SafetensorError
    from safetensors.torch import load
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the bundle has more than {MAX_FILE_BYTES:,} bytes, the limit")
    if not data.startswith(b"PK"):
        raise ValueError("not a run bundle: it is not a .zip file")
    z, infos = open_zip(data, "the bundle")
    names = {i.filename for i in infos}
    for needed in ("config.json", "weights.safetensors"):
        if needed not in names:
            raise ValueError(f"the bundle has no {needed}; is it a fusionlab run bundle?")
    stray = sorted(n for n in names if n not in ("config.json", "weights.safetensors", PLOTLY_JS)
                   and not (n.startswith("tables/") and n.endswith(".csv") and n.count("/") == 1)
                   and not (n.startswith("figures/") and n.endswith(".html") and n.count("/") == 1))
    if stray:
        raise ValueError(f"the bundle holds unexpected member(s) {stray[:5]}")
    try:
        meta = json.loads(z.read("config.json").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"config.json is not JSON: {exc}") from None
    if not isinstance(meta, dict) or set(meta) != CONFIG_KEYS:
        got = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"config.json must have exactly the keys {sorted(CONFIG_KEYS)}; it has {got}")
    if meta["version"] != VERSION:
        raise ValueError(f"bundle version {meta['version']!r}; this fusionlab reads version {VERSION}")
    for key, kind_ in (("kind", str), ("url", str), ("config", dict), ("tables", list), ("figures", list)):
        if not isinstance(meta[key], kind_) or (kind_ is list and not all(isinstance(v, str) for v in meta[key])):
            raise ValueError(f"config.json: '{key}' must be {'a list of names' if kind_ is list else kind_.__name__}")
    if kind is not None and meta["kind"] != kind:
        raise ValueError(f"this is a '{meta['kind']}' bundle, not a '{kind}' one: open it on its own page")
    try:
        state = load(z.read("weights.safetensors"))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"weights.safetensors is not readable: {exc}") from None
    tables = {}
    for name in meta["tables"]:
        member = f"tables/{name}.csv"
        if member not in names:
            raise ValueError(f"config.json lists table '{name}' but the bundle has no {member}")
        try:
            tables[name] = pd.read_csv(io.BytesIO(z.read(member)))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ValueError(f"{member} is not a readable CSV: {exc}") from None
    return Bundle(str(meta["kind"]), meta["config"], str(meta["url"]), state, tables)


def joined_state(models: Mapping[str, torch.nn.Module]) -> Dict[str, torch.Tensor]:
    """Several models' weights in one state dict, each under ``<name>/`` (a study with models per seed)."""
    return {f"{name}/{k}": v for name, m in models.items() for k, v in m.state_dict().items()}


def split_state(state: Mapping[str, torch.Tensor]) -> Dict[str, Dict[str, torch.Tensor]]:
    """``joined_state``'s inverse: ``{name: state dict}``."""
    out: Dict[str, Dict[str, torch.Tensor]] = {}
    for k, v in state.items():
        name, sep, rest = k.partition("/")
        if not sep or not rest:
            raise ValueError(f"weight '{k}' names no model (expected '<model>/<weight>')")
        out.setdefault(name, {})[rest] = v
    return out


def check_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """The weights must be exactly the model's: the same names, each of the same shape."""
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or extra:
        raise ValueError(f"the weights do not fit the model the config builds: missing {missing[:3]}, "
                         f"unexpected {extra[:3]}")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(f"weight '{k}' has shape {tuple(state[k].shape)}; the model needs {tuple(v.shape)}")
        if state[k].dtype != v.dtype:
            raise ValueError(f"weight '{k}' is {state[k].dtype}; the model needs {v.dtype}")
