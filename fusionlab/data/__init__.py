"""Datasets (registered specs: config + loader + info), splits and train-only scaling.

Every module of this package is imported here, so a dataset registered in a new file (``@register_dataset``) is
offered by every study whose predicate admits it without touching another file.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from .dataset import (ModalityStats, MultimodalDataset, PreparedData, Split, SplitConfig, prepare,
                      split_indices)
from .spec import (DATASETS, DataConfig, DatasetInfo, DatasetSpec, can_give, controls, datasets, make_options, option,
                   spec)
from .loaders import UCI_DEFAULT_VIEWS, UCI_VIEWS, UCIConfig, load_dataset, load_uci_digits
from .synthetic import RULES, SyntheticConfig, default_informativeness, make_synthetic
from .files import FileConfig, load_file
from .cliplike import ClipLikeConfig

for _module in _pkgutil.iter_modules(__path__):  # the built-in datasets above first: their order is the pages'
    _importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "ClipLikeConfig", "DATASETS", "option", "can_give", "datasets", "DataConfig", "DatasetInfo", "DatasetSpec",
    "FileConfig", "ModalityStats",
    "MultimodalDataset", "PreparedData", "RULES", "Split", "SplitConfig", "SyntheticConfig", "UCIConfig",
    "UCI_DEFAULT_VIEWS", "UCI_VIEWS", "controls", "default_informativeness", "load_dataset", "load_file",
    "load_uci_digits", "make_options", "make_synthetic", "prepare", "spec", "split_indices",
]
