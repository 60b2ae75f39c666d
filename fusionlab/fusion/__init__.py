"""Fusion operators behind one registry and one forward contract; each entry carries its formula, source and
declared options (``Fusion.formula``, ``Fusion.source``, ``Fusion.Options``).

Every module of this package is imported here, so an operator registered in a new file (``@register_fusion``) is
offered wherever operators are, without touching another file.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from .base import (FUSIONS, Fusion, FusionOutput, check_fusion_options, create_fusion, fusion_options, pool,
                   register_fusion)
from . import operators  # noqa: F401  (registers the operators)
from .operators import product_pair

__all__ = ["FUSIONS", "Fusion", "FusionOutput", "check_fusion_options", "create_fusion", "fusion_options", "pool",
           "product_pair", "register_fusion"]
from . import transformer  # noqa: E402,F401  (registers "transformer")

for _module in _pkgutil.iter_modules(__path__):  # operators and transformer first: their order is the pages'
    _importlib.import_module(f"{__name__}.{_module.name}")
