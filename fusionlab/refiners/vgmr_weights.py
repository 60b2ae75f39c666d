"""VGMR's modality-specific weights, stacked so that the modalities of one shape run in one batched matmul
(``fusionlab.refiners.vgmr``); each initialised as ``nn.Linear`` / ``nn.LayerNorm`` would be."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn


def _uniform(shape, fan_in: int) -> torch.Tensor:
    """``nn.Linear``'s default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = fan_in ** -0.5
    return torch.empty(shape).uniform_(-bound, bound)


class StackedLinear(nn.Module):
    """``M`` modality-specific linear maps in one batched matmul: ``(M, B, i) -> (M, B, o)``."""

    def __init__(self, m: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(_uniform((m, d_in, d_out), d_in))
        self.bias = nn.Parameter(_uniform((m, d_out), d_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)


class StackedMLP(nn.Sequential):
    """A 2-layer MLP per modality, batched over modalities."""

    def __init__(self, m: int, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__(StackedLinear(m, d_in, hidden), nn.ReLU(), StackedLinear(m, hidden, d_out))


@dataclass(frozen=True)
class ShapeGroup:
    """Modalities of one ``(T, D)``: they run through the shape-dependent steps stacked together."""

    index: Tuple[int, ...]  # positions in the modality order
    t: int
    d: int

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """This group's rows of a ``(M, ...)`` tensor in the modality order (a view when contiguous)."""
        lo, hi = self.index[0], self.index[-1] + 1
        return x[lo:hi] if self.index == tuple(range(lo, hi)) else x[list(self.index)]


class GroupWeights(nn.Module):
    """The shape-dependent weights of the ``M_g`` modalities of one shape group, stacked.

    ``phi`` (projection ``D -> d``), the gate's ``A`` (affine ``D -> D``), ``B`` (``d -> D``)
    and ``[C, D]`` (values ``-> D``), and the LayerNorm affine; each modality its own,
    initialised as ``nn.Linear`` / ``nn.LayerNorm`` would.
    """

    def __init__(self, m: int, dim: int, d: int, n_value: int) -> None:
        super().__init__()
        self.proj_weight = nn.Parameter(_uniform((m, dim, d), dim))
        self.proj_bias = nn.Parameter(_uniform((m, d), dim))
        self.gate_x_weight = nn.Parameter(_uniform((m, dim, dim), dim))
        self.gate_x_bias = nn.Parameter(_uniform((m, dim), dim))
        self.gate_p_weight = nn.Parameter(_uniform((m, d, dim), d))
        self.gate_v_weight = nn.Parameter(_uniform((m, n_value, dim), n_value)) if n_value else None
        self.norm_weight = nn.Parameter(torch.ones(m, dim))
        self.norm_bias = nn.Parameter(torch.zeros(m, dim))
