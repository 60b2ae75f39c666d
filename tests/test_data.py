"""Loaders, splits, scaling and strict file validation."""
import io

import numpy as np
import pandas as pd
import pytest
import torch

from fusionlab.data import (DATASETS, MultimodalDataset, SplitConfig, SyntheticConfig, load_dataset, load_file,
                            make_synthetic, prepare, split_indices)
from fusionlab.data.loaders import UCI_VIEWS, _read_view, uci_directory


def test_uci_digits_shapes_and_views():
    ds = load_dataset("uci-digits", views=list(UCI_VIEWS))
    assert ds.n_samples == 2000 and ds.n_classes == 10
    assert {k: d for k, (t, d) in ds.shapes().items()} == UCI_VIEWS
    assert np.bincount(ds.labels).tolist() == [200] * 10
    assert load_dataset("uci-digits", views=["pix"], pix_as_sequence=True).shapes()["pix"] == (16, 15)


def test_uci_digits_views_stay_aligned_with_labels_after_shuffle():
    ds = load_dataset("uci-digits", views=["pix", "mor"])
    raw_pix, raw_y = _read_view(uci_directory() / "mfeat-pix.csv")
    raw_mor, _ = _read_view(uci_directory() / "mfeat-mor.csv")
    assert not np.array_equal(ds.labels, raw_y)  # it was shuffled
    for i in range(0, 2000, 97):
        j = np.nonzero((raw_pix == ds.modalities["pix"][i, 0]).all(axis=1))[0]
        assert len(j) >= 1
        assert raw_y[j[0]] == ds.labels[i]
        assert np.array_equal(raw_mor[j[0]], ds.modalities["mor"][i, 0])


def test_unknown_view_is_named():
    with pytest.raises(ValueError, match="zzz"):
        load_dataset("uci-digits", views=["pix", "zzz"])


def test_split_is_stratified_disjoint_and_seeded():
    y = np.repeat(np.arange(4), 50)
    a, b = split_indices(y, SplitConfig(seed=0)), split_indices(y, SplitConfig(seed=0))
    c = split_indices(y, SplitConfig(seed=1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])
    parts = [set(v) for v in a.values()]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(len(p) for p in parts) == 200
    counts = np.bincount(y[a["test"]])
    assert counts.max() - counts.min() <= 1


def test_standardisation_uses_train_statistics_only():
    ds = make_synthetic(SyntheticConfig(n_samples=400, seed=0))
    shifted = ds.subset(np.arange(400))
    data = prepare(ds, SplitConfig(seed=0))
    test_rows = data.test.index
    shifted.modalities["m1"][test_rows] += 1000.0  # test rows change; train statistics must not
    data2 = prepare(shifted, SplitConfig(seed=0))
    assert np.allclose(data.train.xs["m1"], data2.train.xs["m1"])
    assert np.allclose(data.train.xs["m1"].mean(dim=(0, 1)), 0, atol=1e-4)
    assert (data2.test.xs["m1"].mean() - data.test.xs["m1"].mean()) > 10


def test_tiny_dataset_of_32_samples_splits():
    ds = make_synthetic(SyntheticConfig(n_samples=32, seed=0))
    data = prepare(ds)
    assert len(data.train) + len(data.val) + len(data.test) == 32
    assert min(len(data.train), len(data.val), len(data.test)) >= 2


@pytest.mark.parametrize("rule", ["linear", "dot", "conflict"])
def test_synthetic_rules(rule):
    ds = make_synthetic(SyntheticConfig(n_samples=200, seq_len=3, rule=rule, corrupt_fraction=0.5, seed=2))
    assert ds.shapes() == {f"m{i}": (3, 16) for i in (1, 2, 3)}
    assert ds.extras["severity"].shape == (200, 3)
    assert (ds.extras["severity"] > 0).any(axis=1).mean() == pytest.approx(0.5, abs=0.12)
    assert set(np.unique(ds.labels)) == {0, 1}


def test_synthetic_dot_label_is_sign_of_dot_product():
    ds = make_synthetic(SyntheticConfig(n_samples=300, rule="dot", informativeness=(1.0, 1.0, 0.0), seed=0))
    dot = (ds.modalities["m1"][:, 0] * ds.modalities["m2"][:, 0]).sum(1)
    assert np.array_equal(ds.labels, (dot > 0).astype(int))


def test_synthetic_informativeness_orders_unimodal_accuracy():
    from sklearn.linear_model import LogisticRegression
    ds = make_synthetic(SyntheticConfig(n_samples=800, informativeness=(0.95, 0.1), n_modalities=2, seed=0))
    acc = [LogisticRegression(max_iter=500).fit(ds.modalities[k][:600, 0], ds.labels[:600])
           .score(ds.modalities[k][600:, 0], ds.labels[600:]) for k in ("m1", "m2")]
    assert acc[0] > acc[1]


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _good(n=30):
    rng = np.random.default_rng(0)
    return dict(a=rng.normal(size=(n, 4)), b=rng.normal(size=(n, 3, 2)), labels=np.arange(n) % 3)


def test_npz_roundtrip():
    ds = load_file(_npz(**_good()), filename="x.npz")
    assert ds.shapes() == {"a": (1, 4), "b": (3, 2)} and ds.n_classes == 3


@pytest.mark.parametrize("change,match", [
    (lambda d: d.update(a=d["a"][:-1]), "modality 'a' has 29 rows, labels have 30"),
    (lambda d: d["a"].__setitem__((3, 1), np.nan), "'a' has 1 NaN/Inf"),
    (lambda d: d["b"].__setitem__((0, 0, 0), np.inf), "'b' has 1 NaN/Inf"),
    (lambda d: d.update(labels=np.zeros(30, int)), "single class"),
    (lambda d: d.update(labels=np.r_[np.zeros(28, int), 1, 1]), "too few samples per class"),
    (lambda d: d.pop("labels"), "no 'labels'"),
    (lambda d: d.update(a=np.array(["x"] * 30)), "'a' is not numeric"),
    (lambda d: d.update(a=np.zeros((30, 2, 2, 2))), r"'a' must have shape"),
])
def test_npz_bad_files_name_the_problem(change, match):
    d = _good()
    change(d)
    with pytest.raises(ValueError, match=match):
        load_file(_npz(**d), filename="bad.npz")


def test_npz_refuses_pickled_objects():
    d = _good()
    d["a"] = np.array([object()] * 30, dtype=object)
    with pytest.raises(ValueError, match="pickle"):
        load_file(_npz(**d), filename="bad.npz")


def test_garbage_and_unknown_types():
    with pytest.raises(ValueError, match="npz"):
        load_file(b"not a zip", filename="x.npz")
    with pytest.raises(ValueError, match="unsupported"):
        load_file(b"abc", filename="x.txt")


def _frame(n=30):
    rng = np.random.default_rng(1)
    return pd.DataFrame({"audio__f0": rng.normal(size=n), "audio__f1": rng.normal(size=n),
                         "text__t0": rng.normal(size=n), "labels": np.where(np.arange(n) % 2, "cat", "dog")})


def test_csv_and_parquet_roundtrip(tmp_path):
    df = _frame()
    df.to_csv(tmp_path / "f.csv", index=False)
    df.to_parquet(tmp_path / "f.parquet")
    for f in ("f.csv", "f.parquet"):
        ds = load_file(tmp_path / f)
        assert ds.shapes() == {"audio": (1, 2), "text": (1, 1)}
        assert ds.class_names == ["cat", "dog"]


def test_csv_non_numeric_column_is_named():
    df = _frame()
    df["text__t0"] = "word"
    with pytest.raises(ValueError, match="text__t0"):
        load_file(df.to_csv(index=False).encode(), filename="f.csv")


def test_csv_nan_is_named():
    df = _frame()
    df.loc[4, "audio__f1"] = np.nan
    with pytest.raises(ValueError, match="'audio' has 1 NaN"):
        load_file(df.to_csv(index=False).encode(), filename="f.csv")


def test_dataset_rejects_mismatched_rows_directly():
    with pytest.raises(ValueError, match="modality 'pix' has 1999 rows, labels have 2000"):
        MultimodalDataset({"pix": np.zeros((1999, 3))}, np.arange(2000) % 2, ["a", "b"])


def test_registry_lists_builtins():
    assert {"uci-digits", "synthetic", "file"} <= set(DATASETS.names())


# -- a split given with the data (issue 28) ------------------------------------------------------------------------
def _split_file(tmp_path, split, kind="csv"):
    rng = np.random.default_rng(0)
    n = len(split)
    y = np.arange(n) % 2
    if kind == "csv":
        import pandas as pd
        df = pd.DataFrame({"a__0": rng.normal(size=n) + y, "a__1": rng.normal(size=n), "labels": y, "split": split})
        path = tmp_path / "d.csv"
        df.to_csv(path, index=False)
    else:
        path = tmp_path / "d.npz"
        np.savez(path, a=rng.normal(size=(n, 3)), labels=y, split=np.asarray(split))
    return path


@pytest.mark.parametrize("kind", ["csv", "npz"])
def test_a_split_given_with_the_data_is_the_split_used(tmp_path, kind):
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.data.files import load_file
    split = ["train"] * 40 + ["valid"] * 10 + ["test"] * 10
    ds = load_file(_split_file(tmp_path, split, kind))
    data = prepare(ds, SplitConfig(seed=3))
    assert data.train.index.tolist() == list(range(40)) and data.val.index.tolist() == list(range(40, 50))
    assert data.test.index.tolist() == list(range(50, 60))
    assert prepare(ds, SplitConfig(seed=9)).test.index.tolist() == list(range(50, 60))  # the seed does not move it


def test_without_validation_rows_the_lab_draws_them_from_the_train_rows(tmp_path):
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.data.files import load_file
    ds = load_file(_split_file(tmp_path, [0] * 40 + [2] * 20))
    data = prepare(ds, SplitConfig(seed=0))
    assert set(data.val.index) < set(range(40)) and not set(data.val.index) & set(data.train.index)
    assert data.test.index.tolist() == list(range(40, 60))


@pytest.mark.parametrize("split, needle", [([0] * 50 + [1] * 10, "no test rows"), ([2] * 60, "no train rows"),
                                           (["train"] * 50 + ["holdout"] * 10, "holds 'holdout'"),
                                           ([0] * 50 + [7] * 10, "holds 7")])
def test_a_bad_split_is_one_line(tmp_path, split, needle):
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.data.files import load_file
    with pytest.raises(ValueError, match=needle):
        prepare(load_file(_split_file(tmp_path, split)), SplitConfig())


# -- a folder of .npy arrays (issue 28) --------------------------------------------------------------------------------
def _folder(tmp_path, n=60, **extra):
    rng = np.random.default_rng(0)
    d = tmp_path / "feats"
    d.mkdir()
    y = np.arange(n) % 2
    np.save(d / "text.npy", (rng.normal(size=(n, 5, 4)) + y[:, None, None]).astype(np.float32))
    np.save(d / "audio.npy", rng.normal(size=(n, 3)))
    np.save(d / "labels.npy", y)
    for k, v in extra.items():
        np.save(d / f"{k}.npy", v, allow_pickle=True)
    return d


def test_a_folder_of_npy_arrays_loads_memory_mapped_with_its_split(tmp_path):
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.data.folder import load_folder
    d = _folder(tmp_path, split=np.array(["train"] * 40 + ["valid"] * 10 + ["test"] * 10),
                present_audio=np.r_[np.zeros(3), np.ones(57)])
    ds = load_folder(d)
    assert ds.shapes() == {"audio": (1, 3), "text": (5, 4)} and ds.n_samples == 60
    assert ds.extras["present_audio"][:3].tolist() == [False] * 3
    assert prepare(ds, SplitConfig()).test.index.tolist() == list(range(50, 60))


@pytest.mark.parametrize("change, needle", [
    ({"notes": "txt"}, "holds 'notes.txt', which is not a .npy array"),
    ({"video": np.zeros((59, 2))}, "video.npy has 59 rows, labels.npy has 60"),
    ({"video": np.array([{"a": 1}] * 60, dtype=object)}, "cannot be read without unpickling"),
    ({"present_video": np.ones(60)}, "present_video.npy names no modality"),
    ({"split": np.array(["train"] * 60)}, "no test rows"),
])
def test_a_bad_folder_is_one_line(tmp_path, change, needle):
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.data.folder import load_folder
    if "notes" in change:
        d = _folder(tmp_path)
        (d / "notes.txt").write_text("hi")
    else:
        d = _folder(tmp_path, **change)
    with pytest.raises(ValueError, match=needle):
        prepare(load_folder(d), SplitConfig())


def test_a_folder_too_large_for_the_memory_is_refused_with_the_estimate(tmp_path):
    from fusionlab.data.folder import load_folder
    with pytest.raises(ValueError, match=r"need about .* GiB in memory .* a chunk at a time; this machine has 0\.0 GiB"):
        load_folder(_folder(tmp_path), available=1000)


def test_a_folder_over_the_budget_stays_on_disk_and_gives_what_memory_gives(tmp_path, monkeypatch):
    """Above the memory budget the folder is read a batch at a time from its memory maps; the scaling, every split's
    inputs, a training run and the removal table are what the in-memory path gives."""
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.data.folder import load_folder
    from fusionlab.data.lazy import MappedRows
    from fusionlab.diagnostics import modality_removal
    from fusionlab.models import ModelConfig, build_model
    from fusionlab.train import TrainConfig, evaluate, fit
    d = _folder(tmp_path, n=90, present_audio=np.r_[np.zeros(4), np.ones(86)])
    held = prepare(load_folder(d), SplitConfig(seed=1))
    monkeypatch.setenv("FUSIONLAB_MEMORY_BUDGET", "0")
    ds = load_folder(d)
    assert ds.lazy and all(isinstance(v, np.memmap) for v in ds.modalities.values())
    disk = prepare(ds, SplitConfig(seed=1))
    for s in ("train", "val", "test"):
        a, b = getattr(held, s), getattr(disk, s)
        assert all(isinstance(v, MappedRows) for v in b.xs.values()) and a.index.tolist() == b.index.tolist()
        for k in a.xs:
            torch.testing.assert_close(b.xs[k][:], a.xs[k], atol=1e-5, rtol=1e-5)
            rows = torch.tensor([5, 0, 3, 3])  # any order, repeats too
            torch.testing.assert_close(b.xs[k][rows], a.xs[k][rows], atol=1e-5, rtol=1e-5)
    for k in held.raw_stats:
        torch.testing.assert_close(disk.raw_stats[k].mean, held.raw_stats[k].mean, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(disk.raw_stats[k].std, held.raw_stats[k].std, atol=1e-5, rtol=1e-5)
    runs = []
    for data in (held, disk):
        model = build_model(data.shapes(), data.n_classes, ModelConfig(), seed=0)
        fit(model, data, TrainConfig(epochs=2, seed=0, patience=None))
        runs.append((evaluate(model, data.test), modality_removal(model, data)))
    assert runs[0][0]["accuracy"] == runs[1][0]["accuracy"]
    assert runs[0][1]["accuracy"].tolist() == runs[1][1]["accuracy"].tolist()


def test_chunked_moments_equal_numpy_on_any_chunking():
    from fusionlab.data import lazy
    rng = np.random.default_rng(4)
    x = (1e4 + rng.normal(size=(300, 3, 5)) * np.array([1e-3, 1, 10, 1e3, 1])).astype(np.float32)
    x[7] = np.nan  # a missing row is skipped
    rows = rng.permutation(300)[:200]
    flat = x[rows].reshape(-1, 5)
    flat = flat[~np.isnan(flat).all(1)].astype(np.float64)
    for budget in (1, 4 * 15 * 7, lazy.CHUNK_BYTES):  # one row, seven rows, everything at once
        mean, sd = lazy.chunked_moments(x, rows) if budget == lazy.CHUNK_BYTES else _moments_with(lazy, budget, x, rows)
        np.testing.assert_allclose(mean, flat.mean(0), rtol=1e-12)
        np.testing.assert_allclose(sd, flat.std(0), rtol=1e-9)
    mean, sd = lazy.chunked_moments(x, rows, pooled=True)
    np.testing.assert_allclose(mean, np.full(5, flat.mean()), rtol=1e-12)
    np.testing.assert_allclose(sd, np.full(5, flat.std()), rtol=1e-9)


def _moments_with(lazy, budget, x, rows):
    old = lazy.CHUNK_BYTES
    lazy.CHUNK_BYTES = budget
    try:
        assert lazy.rows_per_chunk(x) == max(1, budget // (4 * 15))  # the chunking the test asks for is used
        return lazy.chunked_moments(x, rows)
    finally:
        lazy.CHUNK_BYTES = old


def test_the_command_line_trains_on_a_folder(tmp_path, capsys):
    from fusionlab.cli import main
    d = _folder(tmp_path)
    assert main(["train", "--dataset", "file", "--file", str(d), "--epochs", "2", "--out", str(tmp_path / "o")]) == 0
    (d / "extra.csv").write_text("x")
    assert main(["train", "--dataset", "file", "--file", str(d), "--epochs", "2", "--out", str(tmp_path / "p")]) == 2
    assert "not a .npy array" in capsys.readouterr().err and not (tmp_path / "p").exists()
