"""Pre-fusion refiners (the VGMR paper VGMR), registered by name.

A refiner is an ``nn.Module`` built as ``cls(shapes, **options)`` with
``shapes = {name: (T, D)}``; ``forward(xs)`` takes ``{name: (B, T, D)}`` and returns
``(refined_xs, extras)`` with ``refined_xs`` of the same shapes. A refiner may also
define ``extra_loss(model, xs, y, output)`` which ``train.fit`` adds to the task loss.
"""
from ..registry import Registry

REFINERS: Registry = Registry("refiner")

__all__ = ["REFINERS"]
from . import vgmr  # noqa: E402,F401  (registers "vgmr")
from . import context  # noqa: E402,F401  (registers "fused_context")
