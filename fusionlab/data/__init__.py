"""Datasets, loaders (registered by name), splits and train-only scaling."""
from .dataset import (ModalityStats, MultimodalDataset, PreparedData, Split, SplitConfig, prepare,
                      split_indices)
from .loaders import DATASETS, UCI_DEFAULT_VIEWS, UCI_VIEWS, load_dataset, load_uci_digits
from .synthetic import RULES, SyntheticConfig, make_synthetic
from .files import load_file
from . import cliplike  # noqa: F401  (registers the 'clip-like' dataset, seed 002)

__all__ = [
    "DATASETS", "ModalityStats", "MultimodalDataset", "PreparedData", "RULES", "Split", "SplitConfig",
    "SyntheticConfig", "UCI_DEFAULT_VIEWS", "UCI_VIEWS", "load_dataset", "load_file", "load_uci_digits",
    "make_synthetic", "prepare", "split_indices",
]
