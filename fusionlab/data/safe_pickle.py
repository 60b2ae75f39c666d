"""Object arrays as numpy writes them, read without running anything (the approach of ``torch.load(weights_only=True)``).

Code that saves a list of string ids or a ``meta`` dict with ``np.save`` / ``np.savez`` writes them as object arrays,
whose payload is a pickle, and a pickle can call any function it names. This reader parses the ``.npy`` header itself
and unpickles the payload through an allow-list: numpy's own array reconstruction (``_reconstruct``, ``ndarray``,
``dtype``, ``scalar``) and nothing else; plain ``str``, ``int``, ``float``, ``bool``, ``None``, ``list``, ``tuple`` and
``dict`` need no global at all. Any other global (``os.system``, ``builtins.eval``, a class of the writer's) is refused
before it is looked up, so nothing of the file runs; the result is then checked to hold only those plain values.
"""
from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

ALLOWED = {(mod, name) for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
           for name in ("_reconstruct", "scalar")} | {("numpy", "ndarray"), ("numpy", "dtype")}
PLAIN = (str, int, float, bool, type(None), np.generic)
MAX_DEPTH = 20


class AllowList(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names '{module}.{name}', which is not numpy's array reconstruction "
                                     "(refused, nothing was run)")


def _plain(value: Any, depth: int = 0) -> bool:
    """Only plain values (and numeric arrays) inside, not too deep."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, PLAIN):
        return True
    if isinstance(value, np.ndarray):
        return not value.dtype.hasobject or all(_plain(v, depth + 1) for v in value.ravel().tolist())
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v, depth + 1) for k, v in value.items())
    return False


def load_npy(data: bytes, where: str) -> np.ndarray:
    """The array of a ``.npy``'s bytes; an object array through the allow-list. Every problem is one ``ValueError``."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fh)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"{where} is not a .npy array: {exc}") from None
    if not dtype.hasobject:
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise ValueError(f"{where} is not a readable .npy array: {exc}") from None
    try:
        arr = AllowList(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError, MemoryError) as exc:
        raise ValueError(f"{where} holds Python objects that cannot be read safely: {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.shape != tuple(shape):
        raise ValueError(f"{where}: its object payload is not the {tuple(shape)} array its header announces")
    if not _plain(arr):
        raise ValueError(f"{where} holds objects other than text, numbers, lists and dicts (refused)")
    return arr
