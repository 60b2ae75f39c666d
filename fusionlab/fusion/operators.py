"""Feature-level fusion operators (docs/methods.md, fusion operators): each with its formula, source and options."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..options import option
from ..papers import cite
from ..signals import repeat_rows, tap_rows
from .base import Fusion, FusionOutput, pool, register_fusion


@dataclass(frozen=True)
class TensorOptions:
    append_one: bool = option(True, "tensor: append a constant 1 to each modality before the outer product (Tensor "
                              "Fusion Network); off is the plain outer product", flag="--tensor-append-one",
                              label="append 1 (TFN)")


@dataclass(frozen=True)
class CrossAttentionOptions:
    heads: int = option(4, "cross_attention: attention heads (the fused size must be divisible by them)",
                        flag="--cross-attention-heads", lo=1, hi=16, label="attention heads")


@dataclass(frozen=True)
class GatedOptions:
    form: str = option("independent", "gated: one sigmoid gate per modality (independent), or the Gated Multimodal "
                       "Unit of Arevalo et al. (2017) for two modalities, z·h₁ + (1 − z)·h₂ (bimodal)",
                       flag="--gated-form", choices=("independent", "bimodal"), label="gate form",
                       words={"independent": "one gate per modality", "bimodal": "GMU: z and 1 − z (two modalities)"})


@dataclass(frozen=True)
class ConcatMLPOptions:
    hidden: int = option(0, "concat_mlp: the MLP's hidden width; 0 is the fused size (set it to match another "
                         "model's parameter count)", flag="--concat-mlp-hidden", lo=0, hi=4096, label="hidden width")


@register_fusion("sum", "sum_m W_m h_m: project each modality to a common size, then add")
class SumFusion(Fusion):
    zero_is_absent = True
    formula = r"f = \sum_m W_m h_m"
    def __init__(self, in_dims, names, dim: int = 64):
        super().__init__(in_dims, names)
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in in_dims)
        self.out_dim = dim

    def fuse(self, hs):
        terms = torch.stack([p(pool(h)) for p, h in zip(self.proj, hs)], dim=1)  # (B, M, dim)
        return FusionOutput(terms.sum(dim=1), {"term_norm": terms.norm(dim=-1)})


@register_fusion("concat", "[h_1; ...; h_M]: concatenation, no parameters")
class ConcatFusion(Fusion):
    zero_is_absent = True
    formula = r"f = [h_1; h_2; \dots; h_M]"
    def __init__(self, in_dims, names, dim: int = 64):  # dim: the shared contract; concatenation has no size
        super().__init__(in_dims, names)
        self.out_dim = sum(in_dims)

    def fuse(self, hs):
        return FusionOutput(torch.cat([pool(h) for h in hs], dim=-1), {})


def product_pair(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The fusion-complexity paper product fusion: ``[a * b ; a * reversed(b)]``, ``(B, n) x (B, n) -> (B, 2n)``."""
    return torch.cat([a * b, a * b.flip(-1)], dim=-1)


@register_fusion("product", "[a*b ; a*reverse(b)] for every pair of modalities")
class ProductFusion(Fusion):
    formula = r"F_j = a_j b_j,\quad F_{n+j} = a_j\, b_{n+1-j}\quad (j = 1..n)"
    source = "'Product Fusion' of " + cite("fusion-complexity")
    """For unequal sizes (or ``project=True``) each modality is first projected to ``dim``.

    For ``M > 2`` the pairwise products of every pair ``m < k`` are concatenated [choice].
    """

    def __init__(self, in_dims, names, dim: int = 64, project: Optional[bool] = None):
        super().__init__(in_dims, names)
        if len(in_dims) < 2:
            raise ValueError("product fusion needs at least two modalities")
        project = project if project is not None else len(set(in_dims)) > 1
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in in_dims) if project else None
        n = dim if project else in_dims[0]
        self.pairs = list(itertools.combinations(range(len(in_dims)), 2))
        self.out_dim = 2 * n * len(self.pairs)

    def fuse(self, hs):
        vs = [pool(h) for h in hs]
        if self.proj is not None:
            vs = [p(v) for p, v in zip(self.proj, vs)]
        return FusionOutput(self.combine(vs), {})

    def combine(self, vs):
        """The fused vector of the pooled (and projected) modalities ``vs``, ``(..., n)`` each (any leading axes:
        the batched engine passes ``(S, B, n)``)."""
        return torch.cat([product_pair(vs[i], vs[j]) for i, j in self.pairs], dim=-1)


MAX_TENSOR_OUT = 2**20  # the outer product's values per sample (the head's first layer multiplies them)


@register_fusion("tensor", "vec(outer product of [h_m; 1]): Tensor Fusion Network")
class TensorFusion(Fusion):
    formula = r"f = \mathrm{vec}\Big(\bigotimes_m \begin{bmatrix} h_m \\ 1 \end{bmatrix}\Big)"
    source = (cite("tfn") + "; the fusion-complexity paper (" + cite("fusion-complexity") + ") uses the outer "
              "product without the appended 1")
    Options = TensorOptions
    """``append_one=False`` gives the fusion-complexity paper's plain outer product.

    ``dim``: project each modality to this size first; ``None`` projects only when
    the outer product would exceed ``max_out`` values [choice], keeping it tractable.
    """

    def __init__(self, in_dims, names, dim: Optional[int] = None, append_one: bool = True,
                 max_out: int = 8192):
        super().__init__(in_dims, names)
        extra = 1 if append_one else 0
        if dim is None and math.prod(d + extra for d in in_dims) > max_out:
            dim = max(2, int(max_out ** (1 / len(in_dims))) - extra)
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in in_dims) if dim else None
        sizes = [dim] * len(in_dims) if dim else list(in_dims)
        self.append_one = append_one
        self.out_dim = math.prod(s + extra for s in sizes)
        if self.out_dim > MAX_TENSOR_OUT:
            raise ValueError(f"tensor fusion of sizes {sizes} has {self.out_dim:,} values per sample (at most "
                             f"{MAX_TENSOR_OUT:,}): project to a smaller fusion_dim")

    def fuse(self, hs):
        vs = [pool(h) for h in hs]
        if self.proj is not None:
            vs = [p(v) for p, v in zip(self.proj, vs)]
        return FusionOutput(self.combine(vs), {})

    def combine(self, vs):
        """The outer product of the pooled (and projected) modalities ``vs``, ``(..., n_m)`` each (any leading axes:
        the batched engine passes ``(S, B, n_m)``)."""
        if self.append_one:
            vs = [torch.cat([v, torch.ones_like(v[..., :1])], dim=-1) for v in vs]
        out = vs[0]
        for v in vs[1:]:
            out = (out.unsqueeze(-1) * v.unsqueeze(-2)).flatten(-2)  # (..., a) x (..., b) -> (..., a*b)
        return out


@register_fusion("gated", "sum_m z_m * tanh(W_m h_m), z = sigmoid(W_z [h_1..h_M]) (GMU)")
class GatedFusion(Fusion):
    zero_is_absent = True
    formula = (r"h'_m = \tanh(W_m h_m),\; z = \sigma(W_z[h_1;\dots;h_M]),\; f = \sum_m z_m \odot h'_m"
               r"\quad\text{(bimodal: } f = z \odot h'_1 + (1 - z) \odot h'_2\text{)}")
    source = cite("gmu") + "; the VGMR paper's 'Sigmoid+Tanh gate' baseline"
    Options = GatedOptions
    signal_parts = (("z", "gate"),)  # z_m, the gate of modality m: key gate/<m>, (B, dim)

    def __init__(self, in_dims, names, dim: int = 64, form: str = "independent"):
        super().__init__(in_dims, names)
        if form == "bimodal" and len(in_dims) != 2:
            raise ValueError(f"the bimodal GMU gates two modalities (z and 1 − z); got {len(in_dims)}: use the "
                             "independent form")
        self.form = form
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in in_dims)
        self.gate = nn.Linear(sum(in_dims), dim * (1 if form == "bimodal" else len(in_dims)))
        self.dim = dim
        self.out_dim = dim

    def fuse(self, hs, replace=None):
        vs = [pool(h) for h in hs]
        cand = torch.stack([torch.tanh(p(v)) for p, v in zip(self.proj, vs)], dim=1)  # (B, M, dim)
        if self.form == "bimodal":  # one gate z for the first modality, 1 - z for the second
            z1 = torch.sigmoid(self.gate(torch.cat(vs, dim=-1)))
            z = torch.stack([z1, 1 - z1], dim=1)  # (B, 2, dim)
        else:
            z = torch.sigmoid(self.gate(torch.cat(vs, dim=-1))).view(-1, len(vs), self.dim)  # (B, M, dim)
        if replace:
            z = torch.stack(tap_rows(replace, [f"gate/{k}" for k in self.names], list(z.unbind(1))), dim=1)
            cand = repeat_rows(cand, len(z))
        return FusionOutput((z * cand).sum(dim=1), {"gate": z})


@register_fusion("cross_attention", "each modality's tokens attend to the other modalities' tokens")
class CrossAttentionFusion(Fusion):
    formula = (r"\tilde h_m = \mathrm{LN}\big(P_m + \mathrm{MHA}(P_m, P_{\neq m}, P_{\neq m})\big),\; "
               r"f = [\overline{\tilde h_1};\dots;\overline{\tilde h_M}]")
    source = "the cross-attention baseline of " + cite("vgmr")
    Options = CrossAttentionOptions
    def __init__(self, in_dims, names, dim: int = 64, heads: int = 4):
        super().__init__(in_dims, names)
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.proj = nn.ModuleList(nn.Linear(d, dim) for d in in_dims)
        self.modality_embedding = nn.Parameter(torch.zeros(len(in_dims), dim))
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim * len(in_dims)

    def fuse(self, hs):
        toks = [p(h) + e for p, h, e in zip(self.proj, hs, self.modality_embedding)]  # (B, T_m, dim)
        pooled, extras = [], {}
        for m, q in enumerate(toks):
            others = [t for k, t in enumerate(toks) if k != m] or [q]
            kv = torch.cat(others, dim=1)  # (B, sum T_k, dim)
            out, w = self.attn(q, kv, kv, need_weights=True, average_attn_weights=True)
            pooled.append(pool(self.norm(q + out)))
            extras[f"attention/{self.names[m]}"] = w  # (B, T_m, sum T_k)
        return FusionOutput(torch.cat(pooled, dim=-1), extras)


@register_fusion("concat_mlp", "concatenation followed by a 2-layer MLP (the VGMR paper baseline)")
class ConcatMLPFusion(Fusion):
    zero_is_absent = True
    formula = r"f = W_2\,\mathrm{ReLU}(W_1 [h_1;\dots;h_M])"
    source = "the 'Concat+MLP' baseline of " + cite("vgmr")
    Options = ConcatMLPOptions
    """``hidden`` can be set so the parameter count matches another method's."""

    def __init__(self, in_dims, names, dim: int = 64, hidden: Optional[int] = None):
        super().__init__(in_dims, names)
        hidden = hidden or dim
        self.mlp = nn.Sequential(nn.Linear(sum(in_dims), hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.out_dim = dim

    def fuse(self, hs):
        return FusionOutput(self.mlp(torch.cat([pool(h) for h in hs], dim=-1)), {})
