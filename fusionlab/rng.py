"""Per-run randomness: nothing in fusionlab draws from torch's or numpy's process-global RNG.

Streamlit runs every browser session as a thread of one process, so a process-global RNG
is shared by everyone training at that moment: four sessions training the same setting
with seed 0 drew each other's dropout masks and got four different models. Here:

- **sub-streams** of a run come from ``numpy.random.SeedSequence(seed).spawn`` (``streams``),
  one ``torch.Generator`` per purpose (batch order, dropout, training noise, ...);
- **dropout** (``Dropout``, also inside the transformer layers built by
  ``transformer_layer``) and the reparameterisation noise (``randn_like``) draw from the
  generator the training engine installs for its run (``using``), which is visible to the
  calling thread only (a ``ContextVar``). Outside any run, each thread falls back to its own
  generator seeded 0, never the global one;
- **initialisation**: PyTorch's ``nn.init`` functions draw from the global generator, so a
  model is built under ``seeded_init(seed)``, which holds one process-wide lock while it
  seeds the global generator, builds, and restores it. Building takes milliseconds, so
  sessions wait for each other only that long.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Dict, Iterator, Optional, Sequence

import numpy as np
import torch
from torch import nn

_INIT_LOCK = threading.RLock()
_current: ContextVar[Optional[torch.Generator]] = ContextVar("fusionlab_generator", default=None)
_fallback = threading.local()


def torch_generator(seq: np.random.SeedSequence) -> torch.Generator:
    """A ``torch.Generator`` seeded from one ``SeedSequence``."""
    return torch.Generator().manual_seed(int(seq.generate_state(1, np.uint64)[0]))


def streams(seed: int, names: Sequence[str]) -> Dict[str, torch.Generator]:
    """Independent generators for the named purposes of one run, spawned from ``SeedSequence(seed)``.

    A purpose's stream depends only on the seed and its position in ``names``; callers that
    must agree (``fit`` and ``batched_fit`` on the batch order) use the same ``names``.
    """
    children = np.random.SeedSequence(int(seed)).spawn(len(names))
    return {name: torch_generator(c) for name, c in zip(names, children)}


def sub_seed(seed: int, purpose: int) -> int:
    """An integer seed for sub-stream ``purpose`` of ``seed`` (for APIs that take ``random_state=int``)."""
    return int(np.random.SeedSequence(int(seed)).spawn(purpose + 1)[purpose].generate_state(1)[0])


def numpy_rng(seed: int, purpose: int = 0) -> np.random.Generator:
    """A numpy generator for sub-stream ``purpose`` of ``seed`` (``SeedSequence(seed).spawn``)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(purpose + 1)[purpose])


@contextmanager
def using(generator: torch.Generator) -> Iterator[torch.Generator]:
    """Make ``generator`` the source of dropout and reparameterisation noise in this thread."""
    token = _current.set(generator)
    try:
        yield generator
    finally:
        _current.reset(token)


def generator() -> torch.Generator:
    """The running training's generator, or this thread's own fallback (seeded 0)."""
    gen = _current.get()
    if gen is not None:
        return gen
    if not hasattr(_fallback, "gen"):
        _fallback.gen = torch.Generator().manual_seed(0)
    return _fallback.gen


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build a model from ``seed``: the global generator is seeded, used and restored under one lock."""
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def randn_like(x: torch.Tensor) -> torch.Tensor:
    """``torch.randn_like`` from the run's generator."""
    return torch.randn(x.shape, generator=generator(), dtype=x.dtype)


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from the run's generator (see ``using``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:
            return torch.zeros_like(x)
        keep = torch.rand(x.shape, generator=generator()) >= self.p
        return x * keep / (1.0 - self.p)


def transformer_layer(d_model: int, heads: int, ff: int, dropout: float) -> nn.TransformerEncoderLayer:
    """``nn.TransformerEncoderLayer`` (batch first) whose residual and feed-forward dropouts draw from
    the run's generator. [choice] The attention-weight dropout is off: PyTorch applies it inside its
    fused attention kernel, from the global generator."""
    layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True)
    layer.self_attn.dropout = 0.0
    for name in ("dropout", "dropout1", "dropout2"):
        setattr(layer, name, Dropout(dropout))
    return layer
