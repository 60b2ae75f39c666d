"""Datasets (registered specs: config + loader + info), splits and train-only scaling."""
from .dataset import (ModalityStats, MultimodalDataset, PreparedData, Split, SplitConfig, prepare,
                      split_indices)
from .spec import DATASETS, DataConfig, DatasetInfo, DatasetSpec, can_give, controls, datasets, make_options, option, spec
from .loaders import UCI_DEFAULT_VIEWS, UCI_VIEWS, UCIConfig, load_dataset, load_uci_digits
from .synthetic import RULES, SyntheticConfig, default_informativeness, make_synthetic
from .files import FileConfig, load_file
from .cliplike import ClipLikeConfig

__all__ = [
    "ClipLikeConfig", "DATASETS", "option", "can_give", "datasets", "DataConfig", "DatasetInfo", "DatasetSpec", "FileConfig", "ModalityStats",
    "MultimodalDataset", "PreparedData", "RULES", "Split", "SplitConfig", "SyntheticConfig", "UCIConfig",
    "UCI_DEFAULT_VIEWS", "UCI_VIEWS", "controls", "default_informativeness", "load_dataset", "load_file",
    "load_uci_digits", "make_options", "make_synthetic", "prepare", "spec", "split_indices",
]
