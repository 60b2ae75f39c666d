"""Options that show themselves: a config field declared with ``option(...)`` carries its help text, its CLI flag,
its kind, its choices and its one range, so the page's widgets (``ui.forms``) and the CLI's flags
(``commands._common``) are generated from the declaration, and ``check_options`` validates a config against the
same range the widget offers (one range per field). Dataset options (``data.spec``), fusion operator options
(``fusion.base``) and refiner options use it alike.
"""
from __future__ import annotations

import math
from dataclasses import field, fields
from typing import Any, List, Optional, Tuple

KINDS = ("bool", "int", "float", "str", "strs", "floats", "modalities", "path")


def option(default: Any, help: str, *, flag: Optional[str] = None, kind: Optional[str] = None,
           choices: Optional[Tuple] = None, lo: Optional[float] = None, hi: Optional[float] = None,
           step: Optional[float] = None, per: Optional[str] = None, label: Optional[str] = None,
           words: Optional[dict] = None):
    """A config field with what a widget and a CLI flag need to know about it.

    ``kind`` (inferred from the default when None): ``bool``, ``int``, ``float``, ``str``,
    ``strs`` (a tuple of strings, from ``choices``), ``floats`` (a tuple of floats, one per
    modality when ``per`` names the field holding the modality count), ``modalities`` (a tuple of
    0-based modality indices, shown as names m1..mM), ``path`` (a file path; an upload on the page).
    A field without a ``flag`` is neither a widget nor a flag (it keeps its default). An ``int`` or
    ``float`` field that is a widget needs ``lo`` and ``hi`` (its widget's range and its valid range), or, for
    an ``int``, ``choices``. ``words`` names a choice in plain words on a page (``{choice: words}``).
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"option kind must be one of {KINDS}, got '{kind}'")
    meta = dict(help=help, flag=flag, kind=kind, choices=choices, lo=lo, hi=hi, step=step, per=per, label=label,
                words=words)
    return field(default=default, metadata=meta)


def controls(config_cls: type) -> List:
    """The config's fields that are widgets and flags, in declaration order."""
    return [f for f in fields(config_cls) if f.metadata.get("flag")]


def kind_of(f) -> str:
    kind = f.metadata.get("kind")
    if kind:
        return kind
    d = f.default
    if isinstance(d, bool):
        return "bool"
    if isinstance(d, int):
        return "int"
    if isinstance(d, float):
        return "float"
    return "str"


def check_options(cfg: Any) -> None:
    """``cfg``'s declared options against their declaration: a number within ``[lo, hi]``, a text among its
    ``choices``; a ``ValueError`` names the field and the range (the widget's: there is no other)."""
    for f in fields(cfg):
        meta, value = f.metadata, getattr(cfg, f.name)
        if "help" not in meta or value is None:
            continue
        kind, lo, hi = kind_of(f), meta.get("lo"), meta.get("hi")
        values = value if kind in ("floats", "strs") else (value,)
        if kind in ("int", "float", "floats") and (lo is not None or hi is not None):
            for v in values:
                bad = isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
                      (kind == "int" and v != int(v))
                if bad or (lo is not None and v < lo) or (hi is not None and v > hi):
                    whole = " (a whole number)" if kind == "int" else ""
                    raise ValueError(f"{f.name} must be in [{number_text(lo)}, {number_text(hi)}]{whole}, got {v!r}")
        if kind in ("str", "strs", "int") and meta.get("choices") is not None:
            bad = [v for v in values if v not in meta["choices"]]
            if bad:
                raise ValueError(f"{f.name} must be one of {', '.join(map(str, meta['choices']))}, got {bad[0]!r}")


def number_text(v: float) -> str:
    """``1,000,000`` or ``0.05``: a range's bound as a person reads it."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def check_declared(config_cls: type) -> None:
    """A spec bug found at registration, not at the first page that draws it: a widget option of a numeric kind
    without a range, or a text option without choices."""
    for f in controls(config_cls):
        kind, meta = kind_of(f), f.metadata
        if kind in ("int", "float", "floats") and (meta.get("lo") is None or meta.get("hi") is None) \
                and not (kind == "int" and meta.get("choices")):
            raise ValueError(f"{config_cls.__name__}.{f.name}: a {kind} option needs lo and hi (its widget's range)")
        if kind in ("str", "strs") and not meta.get("choices"):
            raise ValueError(f"{config_cls.__name__}.{f.name}: a {kind} option needs its choices")
