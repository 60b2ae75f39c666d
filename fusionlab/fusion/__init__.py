"""Fusion operators behind one registry and one forward contract; each entry carries its formula, source and
declared options (``Fusion.formula``, ``Fusion.source``, ``Fusion.Options``)."""
from .base import (FUSIONS, Fusion, FusionOutput, check_fusion_options, create_fusion, fusion_options, pool,
                   register_fusion)
from . import operators  # noqa: F401  (registers the operators)
from .operators import product_pair

__all__ = ["FUSIONS", "Fusion", "FusionOutput", "check_fusion_options", "create_fusion", "fusion_options", "pool",
           "product_pair", "register_fusion"]
from . import transformer  # noqa: E402,F401  (registers "transformer")
