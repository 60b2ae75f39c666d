"""The one forward contract every fusion operator follows.

``forward(hs)`` takes one tensor per modality, ``(B, T_m, d_m)`` token sequences
(a vector is ``T_m = 1``), and returns ``FusionOutput(fused, extras)``: the fused
vector ``(B, out_dim)`` and a dict of named intermediates for the figures (gates,
attention weights). Nothing is stashed on ``self``.

An operator whose per-sample signals the decision may depend on (``gated``'s gate) lists them in
``signal_parts``; ``signals()`` then declares one per modality and ``fuse`` receives the
``replace`` mapping of :mod:`fusionlab.signals` (docs/methods.md, signal permutation test).
"""
from __future__ import annotations

import inspect
from dataclasses import fields
from typing import Any, ClassVar, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn

from ..options import check_declared, check_options
from ..registry import Registry
from ..signals import Replace, Signal, per_modality

FUSIONS: Registry = Registry("fusion operator")


class FusionOutput(NamedTuple):
    fused: torch.Tensor  # (B, out_dim)
    extras: Dict[str, torch.Tensor]


class Fusion(nn.Module):
    """Base class: subclasses set ``self.out_dim`` and implement ``fuse``.

    What a page shows of an operator sits beside its class: ``formula`` (LaTeX), ``source`` (where it comes from)
    and ``Options``, a frozen dataclass of ``options.option`` fields (help, flag, range, choices) from which the
    pages' widgets and the CLI's flags are generated; its fields are keyword arguments of ``__init__``."""

    out_dim: int
    formula: ClassVar[str] = ""
    source: ClassVar[str] = "a common baseline"
    Options: ClassVar[Optional[type]] = None
    # a modality whose features are zero adds nothing that depends on the sample (true of operators that add or
    # concatenate what each modality gives): studies that read "this modality alone" by zeroing the others
    # (UDML's dependency alpha) take only these
    zero_is_absent: ClassVar[bool] = False
    signal_parts: ClassVar[Tuple[Tuple[str, str], ...]] = ()  # (signal name, key prefix) per part

    def __init__(self, in_dims: Sequence[int], names: Sequence[str]) -> None:
        super().__init__()
        if len(in_dims) != len(names) or not in_dims:
            raise ValueError(f"need one input size per modality, got {list(in_dims)} for {list(names)}")
        self.in_dims: List[int] = list(in_dims)
        self.names: List[str] = list(names)

    def signals(self) -> Dict[str, Signal]:
        """The per-sample signals this operator taps, keyed as ``replace`` takes them."""
        return {k: v for name, prefix in self.signal_parts for k, v in per_modality(name, prefix, self.names).items()}

    def forward(self, hs: Sequence[torch.Tensor], replace: Optional[Replace] = None) -> FusionOutput:
        if len(hs) != len(self.in_dims):
            raise ValueError(f"{type(self).__name__} expects {len(self.in_dims)} modalities, got {len(hs)}")
        for name, h, d in zip(self.names, hs, self.in_dims):
            if h.ndim != 3 or h.shape[-1] != d:
                raise ValueError(f"modality '{name}' should be (B, T, {d}), got {tuple(h.shape)}")
        if self.signal_parts:
            return self.fuse(list(hs), replace)
        return self.fuse(list(hs))

    def fuse(self, hs: List[torch.Tensor]) -> FusionOutput:  # pragma: no cover - abstract
        raise NotImplementedError


def pool(h: torch.Tensor) -> torch.Tensor:
    """Mean over time: ``(B, T, d) -> (B, d)``."""
    return h.mean(dim=1)


def register_fusion(name: str, doc: str):
    """Register an operator class; its declared ``Options`` are checked now (a range missing is a spec bug)."""

    def deco(cls):
        if cls.Options is not None:
            check_declared(cls.Options)
            params = inspect.signature(cls.__init__).parameters
            missing = [f.name for f in fields(cls.Options) if f.name not in params]
            if missing:
                raise ValueError(f"fusion '{name}' declares option(s) {missing} its __init__ does not take")
        return FUSIONS.register(name, doc)(cls)

    return deco


def fusion_options(name: str) -> Optional[type]:
    """Operator ``name``'s declared options (a dataclass of ``option`` fields), or None."""
    return FUSIONS.get(name).Options


def check_fusion_options(name: str, options: Mapping[str, Any]) -> None:
    """``options`` of operator ``name``: an option it does not take is an error naming it (no silent typos), a
    declared one outside its range or choices too."""
    cls = FUSIONS.get(name)
    known = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "in_dims", "names")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"fusion '{name}' has no option(s) {unknown}; it takes {known}")
    if cls.Options is not None:
        declared = {f.name for f in fields(cls.Options)}
        try:
            check_options(cls.Options(**{k: v for k, v in options.items() if k in declared}))
        except ValueError as exc:
            raise ValueError(f"fusion '{name}': {exc}") from None


def create_fusion(name: str, in_dims: Sequence[int], names: Sequence[str], **options) -> Fusion:
    """Build operator ``name`` with ``options`` (``check_fusion_options``)."""
    check_fusion_options(name, options)
    return FUSIONS.get(name)(in_dims, names, **options)
