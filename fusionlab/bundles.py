"""Run bundles: one ``.zip`` that holds a trained run, so it can be handed on and reopened without retraining.

Saving is written once, here, for every study: a run is ``(config record, view, named models, tables)``. A study
module declares how it is saved with one :class:`Saving` (``SAVING``): its kind, its config class, which named
models a result holds and how its stages rebuild a result from a config, those models' weights and the saved
tables. :func:`save`, :func:`reopen` and :func:`replay` do the rest for every study alike.

Members (nothing else is accepted, and nothing is ever unpickled)::

    config.json            {"kind", "version", "config", "url", "view", "tables", "figures"}
    weights.safetensors    every named model's state dict, each weight under ``<model>/`` (safetensors: tensors only)
    tables/<name>.csv      every table of the run
    figures/<name>.html    every figure (figures/plotly.min.js once, so they open offline)

``config`` is the study's frozen config as data (``record``); ``config_from_record`` turns
it back into the dataclasses, refusing unknown keys. ``view`` is what was on screen that the config does not
hold: the page's link parameters (noise sliders' levels, the selected sample...) as the text a link carries, so
a reopened run shows the same sliders and numbers; ``url`` is the page's link with that view. Version 1 bundles
(no ``view``; a Playground's one model saved without a name) are still read. A bundle is checked before use: its
size (the zip directory, before anything is decompressed), its members, its keys, and the weights' names and
shapes against the models its config builds. Every problem is a one-line ``ValueError``.
"""
from __future__ import annotations

import io
import json
import reprlib
import typing
import zipfile
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import pandas as pd
import torch

from .data.files import open_zip, read_member
from .limits import MAX_CONFIG_BYTES, MAX_FILE_BYTES, MAX_TABLE_BYTES, MAX_TABLE_COLUMNS, MAX_TABLE_ROWS

VERSION = 3
READS = (1, 2, 3)  # versions this fusionlab reopens
# what a version's tables meant, read as this version names it: before 3, the reliability test's "competitiveness"
# was the mean over rows (and runs); it is now the authors' median, and the mean is "competitiveness_mean"
RENAMED_BEFORE = {3: {"competitiveness": "competitiveness_mean"}}
CONFIG_KEYS = {"kind", "version", "config", "url", "view", "tables", "figures"}
V1_KEYS = CONFIG_KEYS - {"view"}  # version 1 had no view
PLOTLY_JS = "figures/plotly.min.js"


@dataclass
class Bundle:
    kind: str  # which study wrote it ("playground", ...)
    config: Dict[str, Any]  # the study's config as data
    url: str
    state: Dict[str, torch.Tensor]
    tables: Dict[str, pd.DataFrame]
    view: Dict[str, str] = field(default_factory=dict)  # the page's link parameters beyond the config
    version: int = VERSION

    def models(self, unnamed: str = "") -> Dict[str, Dict[str, torch.Tensor]]:
        """The weights per named model; a version 1 bundle of a study with one unnamed model gets ``unnamed``."""
        if self.version == 1 and unnamed:
            return {unnamed: dict(self.state)}
        return split_state(self.state)


@dataclass(frozen=True)
class Saving:
    """How one study is saved and reopened (its module's ``SAVING``).

    ``models(result)`` names the models a result holds (``{name: nn.Module or state dict}``); ``tables(result)``
    the tables saved (default: ``result.tables``); ``savable(cfg, result)`` raises ``ValueError`` saying why a run
    cannot be saved; ``rebuild(cfg, models, tables, source, **extra)`` is the study's own stages run on a config,
    its models' weights (checked against what the config builds) and the saved tables, returning the ``Result``
    that ``run`` would have. ``unnamed``: the name of the one model a version 1 bundle saved without a name."""

    kind: str
    config: type
    models: Callable[[Any], Mapping[str, Any]]
    rebuild: Callable[..., Any]
    tables: Optional[Callable[[Any], Mapping[str, pd.DataFrame]]] = None
    savable: Optional[Callable[[Any, Any], None]] = None
    unnamed: str = ""


@dataclass
class Reopened:
    """A reopened run: its config, the rebuilt result, what was on screen (``view``) and the bundle itself."""

    config: Any
    result: Any
    view: Dict[str, str]
    bundle: Bundle


# --------------------------------------------------------------------------------------------- configs


def record(cfg: Any) -> Dict[str, Any]:
    """A config as JSON-ready data (``asdict`` of the nested dataclasses); ``config_from_record`` inverts it."""
    return asdict(cfg) if is_dataclass(cfg) else dict(cfg)


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
    from .limits import MAX_CONFIG_ITEMS
    if isinstance(value, (list, tuple, dict)) and len(value) > MAX_CONFIG_ITEMS:
        raise ValueError(f"{where} has {len(value):,} items (at most {MAX_CONFIG_ITEMS})")
    if isinstance(value, str) and len(value) > 10_000:
        raise ValueError(f"{where} is {len(value):,} characters long (at most 10,000)")
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
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, got {type(value).__name__}")
        return value
    if hint in (int, float, str, bool):
        ok = isinstance(value, hint) or (hint is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok or (hint is int and isinstance(value, bool)):
            raise ValueError(f"{where} must be {hint.__name__}, got {reprlib.repr(value)}")
        return hint(value)
    return value  # Any, Dict[str, Any]: as stored


# --------------------------------------------------------------------------------------------- writing


def save(saving: Saving, cfg: Any, result: Any, view: Optional[Mapping[str, str]] = None, url: str = "",
         figures: Optional[Mapping[str, Any]] = None) -> bytes:
    """A study's run as a bundle's bytes: ``cfg``'s record, ``view`` (the page's link parameters beyond the config),
    every named model of ``result`` and its tables and figures."""
    if saving.savable is not None:
        saving.savable(cfg, result)
    models = saving.models(result)
    tables = saving.tables(result) if saving.tables is not None else result.tables
    return write_bundle(saving.kind, record(cfg), url, joined_state(models), tables, figures or {}, view or {})


def write_bundle(kind: str, config: Mapping[str, Any], url: str, state: Mapping[str, torch.Tensor],
                 tables: Mapping[str, pd.DataFrame], figures: Mapping[str, Any] = {},
                 view: Mapping[str, str] = {}) -> bytes:
    """The bundle's bytes (a ``.zip``)."""
    from plotly.offline import get_plotlyjs
    from safetensors.torch import save
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in view.items()):
        raise ValueError("a bundle's view holds link parameters: names and values are text")
    meta = {"kind": kind, "version": VERSION, "config": config, "url": url, "view": dict(view),
            "tables": sorted(tables), "figures": sorted(figures)}
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


def read_table(raw: bytes, path: str) -> pd.DataFrame:
    """A bundle's table, its width and length checked from its text before pandas parses it."""
    head = raw[:raw.find(b"\n")] if b"\n" in raw else raw
    columns = head.count(b",") + 1
    if columns > MAX_TABLE_COLUMNS:
        raise ValueError(f"{path} has {columns:,} columns (at most {MAX_TABLE_COLUMNS:,})")
    rows = raw.count(b"\n")
    if rows > MAX_TABLE_ROWS:
        raise ValueError(f"{path} has {rows:,} lines (at most {MAX_TABLE_ROWS:,})")
    try:
        return pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable CSV: {exc}") from None


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
    member = {i.filename: i for i in infos}
    for needed in ("config.json", "weights.safetensors"):
        if needed not in names:
            raise ValueError(f"the bundle has no {needed}; is it a fusionlab run bundle?")
    stray = sorted(n for n in names if n not in ("config.json", "weights.safetensors", PLOTLY_JS)
                   and not (n.startswith("tables/") and n.endswith(".csv") and n.count("/") == 1)
                   and not (n.startswith("figures/") and n.endswith(".html") and n.count("/") == 1))
    if stray:
        raise ValueError(f"the bundle holds unexpected member(s) {stray[:5]}")
    try:
        meta = json.loads(read_member(z, member["config.json"], MAX_CONFIG_BYTES, "the bundle").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"config.json is not JSON: {exc}") from None
    except RecursionError:
        raise ValueError("config.json nests deeper than JSON's reader follows") from None
    version = meta.get("version") if isinstance(meta, dict) else None
    if isinstance(meta, dict) and version not in READS:
        raise ValueError(f"bundle version {version!r}; this fusionlab reads versions {', '.join(map(str, READS))}")
    keys = V1_KEYS if version == 1 else CONFIG_KEYS
    if not isinstance(meta, dict) or set(meta) != keys:
        got = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"config.json must have exactly the keys {sorted(keys)}; it has {got}")
    view = meta.get("view", {})
    if not isinstance(view, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in view.items()):
        raise ValueError("config.json: 'view' must map link parameters to text")
    for key, kind_ in (("kind", str), ("url", str), ("config", dict), ("tables", list), ("figures", list)):
        if not isinstance(meta[key], kind_) or (kind_ is list and not all(isinstance(v, str) for v in meta[key])):
            raise ValueError(f"config.json: '{key}' must be {'a list of names' if kind_ is list else kind_.__name__}")
    if len(meta["url"]) > 8192 or len(view) > 256 or any(len(k) + len(v) > 8192 for k, v in view.items()):
        raise ValueError("config.json: its link ('url', 'view') is longer than a link can be")
    if kind is not None and meta["kind"] != kind:
        raise ValueError(f"this is a '{meta['kind']}' bundle, not a '{kind}' one: open it on its own page")
    try:
        state = load(read_member(z, member["weights.safetensors"], what="the bundle"))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"weights.safetensors is not readable: {exc}") from None
    tables = {}
    for name in meta["tables"]:
        path = f"tables/{name}.csv"
        if path not in names:
            raise ValueError(f"config.json lists table '{name}' but the bundle has no {path}")
        tables[name] = read_table(read_member(z, member[path], MAX_TABLE_BYTES, "the bundle"), path)
    for since, renames in RENAMED_BEFORE.items():
        if version < since:
            for name, t in tables.items():
                tables[name] = t.rename(columns={a: b for a, b in renames.items() if a in t and b not in t})
    return Bundle(str(meta["kind"]), meta["config"], str(meta["url"]), state, tables, dict(view), int(version))


def reopen(saving: Saving, data: bytes, source: Any = None, **extra: Any) -> Reopened:
    """A bundle of ``saving``'s study without retraining: its config, the result its stages rebuild from the
    saved weights and tables, and its view. ``source``: the upload a run on an uploaded file needs (a bundle
    never holds the user's file); ``extra`` goes to the study's ``rebuild`` (e.g. a page's memo)."""
    b = read_bundle(data, saving.kind)
    cfg = config_from_record(saving.config, b.config)
    spec_ = getattr(getattr(cfg, "data", None), "spec", None)
    if spec_ is not None and spec_.upload and source is None:
        raise ValueError("this run trained on an uploaded file, which a bundle does not hold, so it cannot be "
                         "reopened")
    result = saving.rebuild(cfg, b.models(saving.unnamed), b.tables, source, **extra)
    result.artifacts.bundle = b  # a reopened run is saved again as it came
    return Reopened(cfg, result, b.view, b)


def replay(data: bytes, savings: Mapping[str, Saving]
           ) -> Tuple[Dict[str, pd.DataFrame], Dict[str, pd.DataFrame], Dict[str, Any]]:
    """The CLI's ``replay``: a bundle of any study in ``savings`` (by kind) reopened; the regenerated tables, the
    bundle's own, and the run's config."""
    kind = read_bundle(data).kind
    if kind not in savings:
        raise ValueError(f"bundles of kind '{kind}' cannot be replayed; replay reads {sorted(savings)}")
    saving = savings[kind]
    done = reopen(saving, data)
    tables = saving.tables(done.result) if saving.tables is not None else done.result.tables
    return dict(tables), done.bundle.tables, done.result.config


def load_model(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """``model`` with ``state`` loaded (checked first: ``check_state``), in eval mode."""
    check_state(model, state)
    model.load_state_dict(state)
    return model.eval()


def named_models(states: Mapping[str, Any], expected: Mapping[str, Any], what: str = "model",
                 all_needed: bool = True) -> None:
    """Refuse weights of a model the config does not build, and (``all_needed``) a model it builds but the bundle
    lacks."""
    unknown = sorted(set(states) - set(expected))
    if unknown:
        raise ValueError(f"the bundle holds {what}(s) {unknown[:3]} its config does not train (expected some of "
                         f"{sorted(expected)[:6]})")
    lacking = sorted(set(expected) - set(states))
    if all_needed and lacking:
        raise ValueError(f"the bundle lacks the {what}(s) {lacking[:3]} its config trains")


def joined_state(models: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """Several models' weights (modules or state dicts) in one state dict, each under ``<name>/``."""
    return {f"{name}/{k}": v for name, m in models.items()
            for k, v in (m.state_dict() if isinstance(m, torch.nn.Module) else m).items()}


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
