"""Shared fixtures: small datasets, and one torch thread so tests run side by side."""
import sys

import pytest
import torch

from fusionlab.data import SyntheticConfig, load_dataset, make_synthetic, prepare

torch.set_num_threads(1)
MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _real_main():
    """AppTest runs a page as ``__main__`` and leaves it there; multiprocessing's spawn (Dask's local workers)
    re-runs ``__main__`` in each worker, where a page without a session crashes. Every test ends with the real one."""
    yield
    sys.modules["__main__"] = MAIN


@pytest.fixture(autouse=True)
def _fresh_sharing():
    """Each test starts with no shared results (a page test that patches a study must see it run)."""
    from fusionlab.ui import live, sharing
    sharing._singletons.clear()
    yield
    live.stop_preparations()  # a page's view prepared in the background stops with its test
    for made in list(sharing._singletons.values()):
        if isinstance(made, sharing.Runner):
            made.shutdown()


@pytest.fixture(scope="session")
def uci_small():
    """uci-digits pix+mor, standardised (the real default dataset)."""
    return prepare(load_dataset("uci-digits", views=["pix", "mor"]))


@pytest.fixture(scope="session")
def synth():
    """A small 3-modality synthetic vector dataset, prepared."""
    return prepare(make_synthetic(SyntheticConfig(n_samples=300, n_modalities=3, dim=8, seed=0)))


@pytest.fixture(scope="session")
def synth_seq():
    """A small 3-modality synthetic sequence dataset (T=5), prepared."""
    return prepare(make_synthetic(SyntheticConfig(n_samples=240, n_modalities=3, dim=6, seq_len=5, seed=1)))
