"""The Transformer fusion backbone of the VGMR paper's §4.2 (docs/methods.md, VGMR "Backbones").

Each modality's tokens ``(B, T_m, d_m)`` are projected to ``dim`` (``d_model``), a
learned modality embedding is added, the token sequences are concatenated
``(B, sum_m T_m, dim)``, passed through 1-2 encoder layers and mean-pooled.
No positional embedding within a modality [choice]: the fusion operator is built
without knowing ``T_m``; a temporal encoder (``ModelConfig.temporal``) can add one.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import rng
from ..options import option
from ..papers import cite
from .base import Fusion, FusionOutput, register_fusion


@dataclass(frozen=True)
class TransformerOptions:
    layers: int = option(1, "transformer: encoder layers (1 or 2)", flag="--transformer-layers", lo=1, hi=2,
                         label="encoder layers")
    heads: int = option(4, "transformer: attention heads (the fused size must be divisible by them)",
                        flag="--transformer-heads", lo=1, hi=16, label="attention heads")
    dropout: float = option(0.0, "transformer: dropout inside the encoder layers", flag="--transformer-dropout",
                            lo=0.0, hi=0.5, step=0.05, label="dropout")


@register_fusion("transformer", "project tokens, add a modality embedding, concatenate, encoder layers, mean-pool")
class TransformerFusion(Fusion):
    formula = (r"f = \overline{\mathrm{Enc}\big([P_1 + e_1;\dots;P_M + e_M]\big)},\quad P_m = W_m X_m")
    source = "the Transformer backbone of " + cite("vgmr")
    Options = TransformerOptions

    def __init__(self, in_dims, names, dim: int = 64, layers: int = 1, heads: int = 4, dropout: float = 0.0):
        super().__init__(in_dims, names)
        if dim % heads:
            raise ValueError(f"transformer fusion: dim {dim} is not divisible by heads {heads}")
        if layers not in (1, 2):
            raise ValueError(f"transformer fusion takes 1 or 2 encoder layers, got {layers}")
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in in_dims)
        self.modality_embedding = nn.Parameter(0.02 * torch.randn(len(in_dims), dim))
        layer = rng.transformer_layer(dim, heads, 2 * dim, dropout)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.out_dim = dim

    def fuse(self, hs):
        toks = torch.cat([p(h) + e for p, h, e in zip(self.proj, hs, self.modality_embedding)], dim=1)  # (B, sum T_m, dim)
        return FusionOutput(self.encoder(toks).mean(dim=1), {})
