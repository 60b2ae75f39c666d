"""Encoders + optional refiner + fusion operator + head, as one ``nn.Module``.

The the fusion-complexity paper model is ``ModelConfig(encoder="identity", head_hidden=32)``:
precomputed embeddings, fused vector -> Linear(32) -> ReLU -> Linear(C).
Dropout draws from the training run's own generator (``fusionlab.rng``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, NamedTuple, Optional, Tuple

import torch
from torch import nn

from .. import rng
from ..limits import MAX_WIDTH
from ..signals import Replace, Signal, check_replace
from ..fusion import check_fusion_options, create_fusion
from ..refiners import REFINERS

ENCODERS = ("mlp", "identity")
TEMPORAL = ("mean", "transformer")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a fusion model; ``asdict()`` goes into results and cache keys."""

    fusion: str = "concat"
    encoder: str = "mlp"  # mlp | identity
    enc_dim: int = 64
    temporal: str = "mean"  # mean | transformer (for sequences, T > 1)
    fusion_dim: int = 64
    head_hidden: int = 64
    dropout: float = 0.1
    fusion_options: Dict[str, Any] = field(default_factory=dict)
    refiner: Optional[str] = None
    refiner_options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fusion_options(self.fusion, self.fusion_options)  # the operator exists and takes these options
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got '{self.encoder}'")
        if self.temporal not in TEMPORAL:
            raise ValueError(f"temporal must be one of {TEMPORAL}, got '{self.temporal}'")
        for name in ("enc_dim", "fusion_dim", "head_hidden"):
            if not 1 <= int(getattr(self, name)) <= MAX_WIDTH:
                raise ValueError(f"{name} must lie in [1, {MAX_WIDTH}], got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.refiner is not None:
            REFINERS.get(self.refiner)
        elif self.refiner_options:
            raise ValueError(f"refiner_options {sorted(self.refiner_options)} given without a refiner")


class ModelOutput(NamedTuple):
    logits: torch.Tensor  # (B, C)
    extras: Dict[str, torch.Tensor]


class Encoder(nn.Module):
    """Per-token MLP (or identity), optionally followed by a small transformer over time."""

    def __init__(self, t: int, d: int, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.encoder == "identity":
            self.net: nn.Module = nn.Identity()
            self.out_dim = d
        else:
            self.net = nn.Sequential(nn.Linear(d, cfg.enc_dim), nn.ReLU(), rng.Dropout(cfg.dropout),
                                     nn.Linear(cfg.enc_dim, cfg.enc_dim))
            self.out_dim = cfg.enc_dim
        self.temporal: Optional[nn.Module] = None
        if cfg.temporal == "transformer" and t > 1:
            heads = 4 if self.out_dim % 4 == 0 else 1
            layer = rng.transformer_layer(self.out_dim, heads, 2 * self.out_dim, cfg.dropout)
            self.temporal = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
            self.position = nn.Parameter(torch.zeros(t, self.out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x)  # (B, T, out_dim)
        if self.temporal is not None:
            h = self.temporal(h + self.position)
        return h


class FusionModel(nn.Module):
    def __init__(self, shapes: Mapping[str, Tuple[int, int]], n_classes: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.names = list(shapes)
        self.shapes = dict(shapes)
        self.refiner = REFINERS.create(cfg.refiner, dict(shapes), **cfg.refiner_options) if cfg.refiner else None
        self.encoders = nn.ModuleDict({k: Encoder(t, d, cfg) for k, (t, d) in shapes.items()})
        dims = [self.encoders[k].out_dim for k in self.names]
        self.fusion = create_fusion(cfg.fusion, dims, self.names, dim=cfg.fusion_dim, **cfg.fusion_options)
        self.head = nn.Sequential(nn.Linear(self.fusion.out_dim, cfg.head_hidden), nn.ReLU(),
                                  rng.Dropout(cfg.dropout), nn.Linear(cfg.head_hidden, n_classes))

    def signals(self) -> Dict[str, Signal]:
        """The per-sample signals of the refiner and the fusion operator that ``replace`` can reach."""
        found = dict(self.refiner.signals()) if hasattr(self.refiner, "signals") else {}
        return {**found, **self.fusion.signals()}

    def forward(self, xs: Mapping[str, torch.Tensor], replace: Optional[Replace] = None) -> ModelOutput:
        """``replace``: functions that replace declared signals (:mod:`fusionlab.signals`)."""
        missing = [k for k in self.names if k not in xs]
        if missing:
            raise ValueError(f"inputs lack modalities {missing}; the model needs {self.names}")
        if replace:
            check_replace(replace, self.signals())
        extras: Dict[str, torch.Tensor] = {}
        if self.refiner is not None:
            xs, ref_extras = self.refiner(dict(xs), replace) if hasattr(self.refiner, "signals") else self.refiner(dict(xs))
            extras.update(ref_extras)
        hs = [self.encoders[k](xs[k]) for k in self.names]
        fused = self.fusion(hs, replace)
        extras.update(fused.extras)
        return ModelOutput(self.head(fused.fused), extras)

    def extra_loss(self, xs, y, output: ModelOutput) -> Optional[torch.Tensor]:
        if self.refiner is not None and hasattr(self.refiner, "extra_loss"):
            return self.refiner.extra_loss(self, xs, y, output)
        return None


def build_model(shapes: Mapping[str, Tuple[int, int]], n_classes: int, cfg: ModelConfig = ModelConfig(),
                seed: int = 0) -> FusionModel:
    """A model whose initialisation depends only on ``seed`` (see ``rng.seeded_init``)."""
    with rng.seeded_init(seed):
        return FusionModel(shapes, n_classes, cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
