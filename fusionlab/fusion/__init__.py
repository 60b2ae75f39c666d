"""Fusion operators behind one registry and one forward contract."""
from .base import FUSIONS, Fusion, FusionOutput, create_fusion, pool
from . import operators  # noqa: F401  (registers the operators)
from .operators import product_pair

__all__ = ["FUSIONS", "Fusion", "FusionOutput", "create_fusion", "pool", "product_pair"]
from . import transformer  # noqa: E402,F401  (registers "transformer")
