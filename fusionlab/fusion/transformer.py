"""The Transformer fusion backbone of seed 003 §4.2 (METHODS.md §3 "Backbones").

Each modality's tokens ``(B, T_m, d_m)`` are projected to ``dim`` (``d_model``), a
learned modality embedding is added, the token sequences are concatenated
``(B, sum_m T_m, dim)``, passed through 1-2 encoder layers and mean-pooled.
No positional embedding within a modality [choice]: the fusion operator is built
without knowing ``T_m``; a temporal encoder (``ModelConfig.temporal``) can add one.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import rng
from .base import FUSIONS, Fusion, FusionOutput


@FUSIONS.register("transformer", "project tokens, add a modality embedding, concatenate, encoder layers, mean-pool")
class TransformerFusion(Fusion):
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
