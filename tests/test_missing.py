"""Missing modalities (docs/methods.md, corruptions and robustness ``missing``, §5 availability): all-NaN rows in a feature file, the ``missing``
corruption, and the permutation study on data with a modality missing on some rows."""
import numpy as np
import pytest
import torch

from fusionlab.data import MultimodalDataset, SplitConfig, prepare
from fusionlab.data.dataset import ModalityStats
from fusionlab.data.files import load_file
from fusionlab.experts import fit_experts, present_of
from fusionlab.noise import RowCorruption, corrupt_rows
from fusionlab.noise import corrupt, missing_rows

RNG = np.random.default_rng(0)


def _ds(n=90, gone=(3, 10, 11)):
    a, b = RNG.normal(size=(n, 4)) + 5.0, RNG.normal(size=(n, 2, 3))
    a[list(gone)] = np.nan
    return MultimodalDataset({"a": a, "b": b}, np.arange(n) % 3, ["x", "y", "z"], "toy")


def test_an_all_nan_row_is_missing_and_standardises_to_the_train_mean():
    ds = _ds()
    assert np.array_equal(np.nonzero(~ds.extras["present_a"])[0], [3, 10, 11]) and "present_b" not in ds.extras
    data = prepare(ds, SplitConfig(seed=0))
    for split in (data.train, data.val, data.test):
        here = present_of(split, ["a", "b"])
        assert torch.isfinite(split.xs["a"]).all()
        assert (split.xs["a"][~here[:, 0]] == 0).all()
    train = data.train.xs["a"][present_of(data.train, ["a"])[:, 0]]
    assert torch.allclose(train.mean((0, 1)), torch.zeros(4), atol=1e-5)  # scaled on present rows only
    assert torch.allclose(train.std((0, 1), unbiased=False), torch.ones(4), atol=1e-4)


@pytest.mark.parametrize("change,match", [
    (lambda a, b: a.__setitem__((4, 1), np.nan), "partly NaN"),
    (lambda a, b: a.__setitem__((4, 1), np.inf), "'a' has 1 NaN/Inf"),
    (lambda a, b: a.__setitem__(slice(None), np.nan), "missing .all NaN. on every row"),
    (lambda a, b: (a.__setitem__(7, np.nan), b.__setitem__(7, np.nan)), r"every modality missing \(first rows: \[7\]"),
])
def test_bad_missing_rows_are_named(change, match):
    a, b = RNG.normal(size=(30, 4)), RNG.normal(size=(30, 3))
    change(a, b)
    with pytest.raises(ValueError, match=match):
        MultimodalDataset({"a": a, "b": b}, np.arange(30) % 2, ["p", "q"])


def test_a_csv_with_empty_cells_for_a_modality_reads_as_missing():
    import pandas as pd
    df = pd.DataFrame({"a__0": RNG.normal(size=30), "a__1": RNG.normal(size=30), "b__0": RNG.normal(size=30),
                       "labels": np.arange(30) % 2})
    df.loc[[2, 5], ["a__0", "a__1"]] = np.nan
    ds = load_file(df.to_csv(index=False).encode(), filename="m.csv")
    assert np.array_equal(np.nonzero(~ds.extras["present_a"])[0], [2, 5])


def test_missing_corruption_removes_exactly_the_share_asked():
    x = torch.randn(40, 3, 5, generator=torch.Generator().manual_seed(1))
    stats = ModalityStats(torch.full((5,), 0.25), torch.ones(5))
    out = corrupt("missing", x, 0.25, torch.Generator().manual_seed(2), stats)
    gone = (out != x).any(-1).any(-1)
    assert int(gone.sum()) == 10 and (out[gone] == 0.25).all() and torch.equal(out[~gone], x[~gone])
    assert torch.equal(gone, missing_rows(40, 0.25, torch.Generator().manual_seed(2)))  # the same draws
    every = corrupt("missing", x, torch.ones(40), torch.Generator().manual_seed(2), stats)
    assert (every == 0.25).all()
    with pytest.raises(ValueError, match="missing"):
        corrupt("missing", x, 1.5, torch.Generator(), stats)


def test_row_corruption_missing_sets_the_availability_the_experts_read():
    data = corrupt_rows(prepare(_ds(gone=()), SplitConfig(seed=0)),
                        RowCorruption(modality="b", fraction=0.3, noise="missing", seed=4))
    for split in (data.train, data.test):
        flag = split.extras["present_b"]
        assert 0 < (~flag).mean() < 0.6
        assert (split.xs["b"][~flag] == 0).all() and (split.extras["severity_b"][~flag] > 0).all()
    bank = fit_experts(data)
    te = bank.mask("test")
    assert np.array_equal(te[:, 1], data.test.extras["present_b"]) and te[:, 0].all()
    assert (bank.logits["test"][~te[:, 1], 1] == 0).all()  # no output where the modality is missing
