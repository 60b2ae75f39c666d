"""A fusion operator in VGMR's place: the §4.5 baselines on one backbone (the VGMR paper; docs/methods.md, VGMR).

The paper compares VGMR with ``sum``, ``tensor``, ``concat_mlp``, ``cross_attention`` and ``gated``
"under its Transformer setting": each baseline takes VGMR's place, the rest of the model unchanged.
VGMR is a pre-fusion refiner (``{m: X_m} -> {m: X~_m}``, same shapes), so a baseline in its place must
be one too. **[choice]** ``fused_context`` runs the named fusion operator (``fusionlab.fusion``) on all
modalities' original features and adds what it fuses back to each modality as a context term:

    f = F({X_n}),   X~_m = X_m + U_m f    (U_m linear, broadcast over time, zero at initialisation)

so every method exchanges information across modalities by its own rule, before the same backbone,
and starts as the plain backbone (``U_m = 0``). ``operator_options`` reach the operator (``dim`` sizes
``sum``/``gated``/``cross_attention``; ``concat_mlp``'s ``hidden`` and ``tensor``'s ``dim`` are set by
``experiments.gates_compare`` so that parameter counts are comparable with VGMR's).
"""
from __future__ import annotations

from typing import Mapping, Tuple

import torch
from torch import nn

from ..fusion import FUSIONS, create_fusion
from . import REFINERS

PAPER_OPERATORS = ("sum", "tensor", "concat_mlp", "cross_attention", "gated")  # the paper's §4.5 baselines
DEFAULTS = {"operator": "sum", "dim": 32, "operator_options": {}}


@REFINERS.register("fused_context", "a fusion operator in VGMR's place: X~_m = X_m + U_m F({X_n}) (§4.5 baselines)")
class FusedContext(nn.Module):
    def __init__(self, shapes: Mapping[str, Tuple[int, int]], **options) -> None:
        super().__init__()
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown fused_context option(s) {unknown}; known: {sorted(DEFAULTS)}")
        opts = {**DEFAULTS, **options}
        operator, dim, operator_options = opts["operator"], int(opts["dim"]), dict(opts["operator_options"])
        if operator not in FUSIONS:  # any registered operator can take VGMR's place
            raise ValueError(f"fused_context operator must be one of {FUSIONS.names()}, got {operator!r}")
        self.names = list(shapes)
        self.operator_name = operator
        dims = [int(shapes[k][1]) for k in self.names]
        self.operator = create_fusion(operator, dims, self.names, dim=dim, **operator_options)
        self.back = nn.ModuleList(nn.Linear(self.operator.out_dim, d) for d in dims)
        for lin in self.back:  # the plain backbone at initialisation
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, xs: Mapping[str, torch.Tensor]):
        for k in self.names:
            if k not in xs or xs[k].ndim != 3:
                raise ValueError(f"fused_context: modality '{k}' should be (B, T, D), got "
                                 f"{tuple(xs[k].shape) if k in xs else 'nothing'}")
        fused = self.operator([xs[k] for k in self.names])
        refined = dict(xs)
        for k, lin in zip(self.names, self.back):
            refined[k] = xs[k] + lin(fused.fused).unsqueeze(1)
        return refined, {f"context/{k}": v for k, v in fused.extras.items()}
