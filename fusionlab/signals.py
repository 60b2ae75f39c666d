"""Per-sample signals that a model computes and then uses, and replacing them (docs/methods.md, signal permutation test).

A model *declares* its signals: ``model.signals()`` maps a key (``vgmr/G_eff/pix``) to a
:class:`Signal` (what it is, ``G_eff``, and whose, ``pix``). Its forward pass takes an optional
``replace`` mapping from such keys to functions; where the pass computes a declared signal it
calls :func:`tap`, which hands the value to the function and uses what comes back for the rest of
the pass (the figure extras report the replaced value). Without ``replace`` nothing changes.

So the test of §6 (``fusionlab.diagnostics.signals``) replaces ``G_eff`` of test row ``i`` by that
of row ``pi(i)`` with ``replace={key: lambda v: v[index]}``, and a new gated model is covered the
moment it declares its signals and taps them.

**Stacked variants.** A replacement may hold ``c`` times the batch's rows: ``c`` variants of the
batch stacked (``v[index]`` with ``index`` of ``c B`` rows, variant ``b`` at rows ``b B .. (b+1) B``).
The rest of the pass then runs on ``c B`` rows, every tensor that does not depend on the signal
repeated (:func:`tap_rows`, :func:`repeat_rows`), and what comes before the signal is computed once:
``K`` permutations cost ``K`` passes of the *rest* of the model only.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence

import torch

Replace = Mapping[str, Callable[[torch.Tensor], torch.Tensor]]


class Signal(NamedTuple):
    name: str  # what the signal is, as the pages write it: v_g, v_c, G_eff, w, z
    modality: str  # the modality it belongs to


def tap(replace: Optional[Replace], key: str, value: torch.Tensor) -> torch.Tensor:
    """The signal ``key`` (rows first) as the rest of the pass sees it: ``value``, or its replacement,
    which may stack several variants of the batch (a multiple of its rows)."""
    if not replace or key not in replace:
        return value
    out = replace[key](value)
    n, rows = value.shape[0], out.shape[0] if out.ndim else 0
    if out.shape[1:] != value.shape[1:] or rows < n or rows % max(n, 1):
        raise ValueError(f"the replacement of signal '{key}' has shape {tuple(out.shape)}; the signal "
                         f"{tuple(value.shape)} (rows may be a multiple of {n}, the rest must match)")
    return out


def repeat_rows(t: torch.Tensor, rows: int, dim: int = 0) -> torch.Tensor:
    """``t`` tiled along ``dim`` to ``rows`` (a multiple of its size there): the batch's variants stacked."""
    n = t.shape[dim]
    if n == rows:
        return t
    reps = [1] * t.ndim
    reps[dim] = rows // n
    return t.repeat(*reps)


def tap_rows(replace: Optional[Replace], keys: Sequence[str], values: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """:func:`tap` for several signals of one batch; the untouched ones repeated to the largest row count."""
    out = [tap(replace, k, v) for k, v in zip(keys, values)]
    rows = max(o.shape[0] for o in out)
    return [repeat_rows(o, rows) for o in out]


def per_modality(signal: str, prefix: str, names: Iterable[str]) -> Dict[str, Signal]:
    """``{prefix/<m>: Signal(signal, m)}`` for every modality ``m``."""
    return {f"{prefix}/{m}": Signal(signal, m) for m in names}


def check_replace(replace: Optional[Replace], declared: Mapping[str, Signal]) -> None:
    """A key the model does not declare would be silently ignored: an error naming it instead."""
    unknown = sorted(set(replace or ()) - set(declared))
    if unknown:
        raise ValueError(f"the model has no signal(s) {unknown}; it declares {sorted(declared) or 'none'}")
