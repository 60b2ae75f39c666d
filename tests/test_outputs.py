"""Your own outputs in the reliability permutation test (docs/methods.md, reliability permutation test): the table format, the reliability paper's authors'
layout, strict validation, and the oracle that our experts' outputs written out and read back give our table."""
import io
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fusionlab.experts import ExpertConfig, fit_experts
from fusionlab.diagnostics.outputs import load_outputs, outputs_bank, outputs_scores
from fusionlab.diagnostics.permutation import PermutationConfig
from fusionlab.experiments.permutation_runs import DiagnosticConfig
from fusionlab.experiments import permutation as study
from fusionlab.experiments.permutation import OutputsConfig, bank_run

SCORES = ("max-prob", "control-corruption")  # the scores that read posteriors only, so both routes must agree
METRICS = ["metric_clean", "metric_broken_mean", "delta", "p_value", "f1_clean", "oracle_headroom", "rho"]


@pytest.fixture(scope="module")
def bank(synth):
    return fit_experts(synth, ExpertConfig(oof_folds=3))


def _frame(bank) -> pd.DataFrame:
    """The bank's train and test posteriors in the documented table format."""
    parts = []
    for split in ("train", "test"):
        p = bank.probs(split)
        cols = {"label": bank.y[split], "split": split}
        for j, m in enumerate(bank.names):
            for c in range(bank.n_classes):
                cols[f"p__{m}__{c}"] = p[:, j, c]
        parts.append(pd.DataFrame(cols))
    return pd.concat(parts, ignore_index=True)


def _cfg(scores=SCORES, **perm):
    d = DiagnosticConfig(scores=scores, permutation=PermutationConfig(permutations=49, **perm))
    return replace(study.DEFAULT, diagnostic=d, outputs=OutputsConfig(path="outputs.csv"))


def test_our_experts_outputs_read_back_give_our_table(bank):
    cfg = _cfg()
    ours = bank_run(bank, cfg.diagnostic.seeded(0), None, ("x",))[1].table
    data = _frame(bank).to_csv(index=False).encode()
    result = study.run(cfg, source=data)
    theirs = result.tables["permutation_runs"]
    assert list(theirs["score"]) == list(ours["score"]) and list(theirs["rule"]) == list(ours["rule"])
    assert np.allclose(theirs[METRICS].to_numpy(float), ours[METRICS].to_numpy(float), atol=1e-9)
    assert result.config["outputs"] == "outputs.csv" and result.config["views"] == bank.names


@pytest.mark.parametrize("fmt", ["parquet", "npz"])
def test_parquet_and_npz_read_like_csv(bank, fmt, tmp_path):
    df = _frame(bank)
    csv = load_outputs(df.to_csv(index=False).encode(), "o.csv")
    if fmt == "parquet":
        df.to_parquet(tmp_path / "o.parquet")
    else:
        np.savez(tmp_path / "o.npz", **{c: (df[c].to_numpy().astype(str) if c == "split" else df[c].to_numpy())
                                        for c in df.columns})
    other = load_outputs(tmp_path / f"o.{fmt}")
    assert other.names == csv.names and np.array_equal(other.y, csv.y)
    assert np.allclose(other.runs[0].probs, csv.runs[0].probs)


def test_binary_posteriors_folds_user_q_and_missing_rows():
    rng = np.random.default_rng(0)
    n = 120
    y = np.arange(n) % 2
    good = np.clip(y + rng.normal(0, 0.3, n), 0.01, 0.99)
    df = pd.DataFrame({"label": y, "fold": np.arange(n) % 3, "p__a": good, "p__b": rng.random(n),
                       "q__a": np.full(n, 0.9), "q__b": rng.random(n), "present__b": (np.arange(n) % 5 != 0).astype(int)})
    df.loc[df["present__b"] == 0, ["p__b", "q__b"]] = np.nan  # ignored where b is missing
    out = load_outputs(df.to_csv(index=False).encode(), "b.csv")
    assert len(out.runs) == 3 and out.class_names == ["0", "1"] and out.has_q
    assert outputs_scores(out) == ["user", "max-prob", "correctness"]
    assert (~out.present[:, 1]).sum() == n // 5
    bank = outputs_bank(out, out.runs[0])
    assert np.allclose(bank.probs("test")[bank.mask("test")[:, 0], 0, 1], good[out.runs[0].test])
    assert (bank.user_q["test"][~bank.mask("test")] == 0).all()
    result = study.run(_cfg(scores=("user", "max-prob")), source=df.to_csv(index=False).encode())
    runs = result.tables["permutation_runs"]
    assert sorted(runs["fold"].unique()) == [0, 1, 2] and (runs["missing_share"] > 0).all()
    qc = result.tables["q_correct"]  # Q against correctness: only where the modality gave an output
    first = out.runs[0].test
    assert (qc["modality"] == "b").sum() == 2 * out.present[first, 1].sum()  # two scores
    assert (result.tables["permutation"]["runs"] == 3).all()


def _bad(change):
    df = pd.DataFrame({"label": [0, 1, 2] * 4, "split": ["train"] * 9 + ["test"] * 3,
                       **{f"p__a__{c}": np.full(12, 1 / 3) for c in range(3)},
                       **{f"p__b__{c}": np.full(12, 1 / 3) for c in range(3)},
                       "q__a": 0.5, "q__b": 0.5})
    df = change(df) if change else df
    return df.to_csv(index=False).encode()


@pytest.mark.parametrize("change,match", [
    (lambda d: d.assign(p__a__0=0.5), r"p__a__\* do not sum to 1 .* row\(s\) \[0, 1"),
    (lambda d: d.assign(q__b=[0.5] * 11 + [1.5]), r"'q__b' lies outside \[0, 1\] on row\(s\) \[11\]"),
    (lambda d: d.assign(p__b__1=[np.nan] + [1 / 3] * 11), r"'p__b__1' is empty or NaN on present row\(s\) \[0\]"),
    (lambda d: d.assign(label=[0, 1, 0] * 3 + [0, 1, 2]), r"test row\(s\) \[11\] have label\(s\) \['2'\] never seen"),
    (lambda d: d.assign(present__b=[1] * 9 + [0] * 3), "modality 'b' has no present test row"),
    (lambda d: d.assign(label=[0, 1, 2] * 3 + [0, 1, 7]), r"values \['7'\] with no p__<m>__<c> column"),
    (lambda d: d.drop(columns="split"), "'split' .* or a 'fold'"),
    (lambda d: d.assign(split=["train"] * 11 + ["tst"]), r"'split' must be 'train' or 'test', not \['tst'\]"),
    (lambda d: d.assign(qq__a=1.0), r"unknown column\(s\) \['qq__a'\]"),
    (lambda d: d.drop(columns="q__b"), r"not for \['b'\]"),
    (lambda d: d.assign(present__b=2), r"'present__b' must be 0 or 1"),
])
def test_bad_outputs_give_one_line_naming_column_and_rows(change, match):
    with pytest.raises(ValueError, match=match) as info:
        load_outputs(_bad(change), "bad.csv")
    assert "\n" not in str(info.value)


def test_a_clean_table_passes_and_pca_recon_is_refused_without_features():
    out = load_outputs(_bad(None), "ok.csv")
    assert out.names == ["a", "b"] and out.class_names == ["0", "1", "2"]
    with pytest.raises(ValueError, match="pca-recon reads each modality's features"):
        study.run(_cfg(scores=("pca-recon",)), outputs=out)


# ----------------------------------------------------------------------------------- the authors' layout


def _authors(root, n=80, seeds=(11,), folds=(0, 1)):
    rng = np.random.default_rng(1)
    ids = np.asarray([f"s{i:03d}" for i in range(n)])
    y = rng.integers(0, 2, n)
    m = {k: (rng.random(n) > 0.15).astype(np.uint8) for k in "avp"}
    m["a"][:] = 1
    (root / "union").mkdir(parents=True)
    np.savez(root / "union" / "stressid_union.npz", ids=ids, y2=y, E_a=rng.normal(size=(n, 3)),
             E_v=rng.normal(size=(n, 2)), E_p=rng.normal(size=(n, 2)), M_a=m["a"], M_v=m["v"], M_p=m["p"])
    for s in seeds:
        parts = np.array_split(rng.permutation(n), len(folds))
        for f in folds:
            (root / "splits" / f"seed_{s}").mkdir(parents=True, exist_ok=True)
            np.save(root / "splits" / f"seed_{s}" / f"test_ids_fold{f}.npy", ids[parts[f]])
            np.save(root / "splits" / f"seed_{s}" / f"train_ids_fold{f}.npy",
                    ids[np.setdiff1d(np.arange(n), parts[f])])
            preds, q = {"ids": ids, "y": y}, {"ids": ids}
            for k in "avp":
                p = np.clip(y * 0.6 + 0.2 + rng.normal(0, 0.2, n), 0, 1)
                preds[f"p_{k}"] = np.where(m[k] == 1, p, np.nan)
                q[f"Q{k}"] = np.where(m[k][:, None] == 1, rng.random((n, 2)), 0.0)
            for d, arrays in ((root / "unimodal_preds" / "lr" / f"seed_{s}", preds), (root / "quality" / f"seed_{s}", q)):
                d.mkdir(parents=True, exist_ok=True)
                np.savez(d / f"fold_{f}.npz", **arrays)
    return ids, y, m


def test_the_authors_layout_reads_as_seeds_x_folds(tmp_path):
    ids, y, m = _authors(tmp_path, seeds=(11, 22))
    out = load_outputs(tmp_path)
    assert out.names == ["a", "v", "p"] and [(r.seed, r.fold) for r in out.runs] == [(11, 0), (11, 1), (22, 0), (22, 1)]
    assert np.array_equal(out.present[:, 1], m["v"] == 1) and np.array_equal(out.y, y)
    assert out.has_q and (out.runs[0].q[~out.present] == 0).all()  # (N, 2) Q files are averaged to (N,)
    for r in out.runs:
        assert np.array_equal(np.sort(np.r_[r.train, r.test]), np.arange(len(ids)))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        for p in tmp_path.rglob("*.np*"):
            z.write(p, "artifacts/" + p.relative_to(tmp_path).as_posix())
    again = load_outputs(zipped.getvalue(), "artifacts.zip")
    assert [(r.seed, r.fold) for r in again.runs] == [(r.seed, r.fold) for r in out.runs]
    assert np.array_equal(again.runs[3].probs, out.runs[3].probs, equal_nan=True)
    result = study.run(_cfg(scores=("user",), observed_only=True), outputs=out)
    assert len(result.tables["permutation_runs"]) == 4 * 5 and (result.tables["permutation"]["runs"] == 4).all()


@pytest.mark.parametrize("breakage,match", [
    (lambda r: (r / "splits" / "seed_11" / "test_ids_fold1.npy").unlink(), "has no splits/seed_11/train_ids_fold1"),
    (lambda r: np.save(r / "splits" / "seed_11" / "test_ids_fold0.npy", np.array(["nobody"])), "not in the UNION"),
    (lambda r: np.save(r / "splits" / "seed_11" / "test_ids_fold0.npy", np.array(["s001", {"a set"}], dtype=object)),
     "objects other than text, numbers"),
    (lambda r: (r / "unimodal_preds" / "hgb").mkdir(), r"several models \['hgb', 'lr'\]"),
])
def test_a_broken_layout_is_named(tmp_path, breakage, match):
    _authors(tmp_path)
    breakage(tmp_path)
    if "hgb" in match:
        (tmp_path / "unimodal_preds" / "hgb" / "seed_11").mkdir()
        np.savez(tmp_path / "unimodal_preds" / "hgb" / "seed_11" / "fold_0.npz", ids=np.array(["x"]))
    with pytest.raises(ValueError, match=match):
        load_outputs(tmp_path)


def test_cli_on_your_outputs_writes_the_same_columns(bank, tmp_path):
    from fusionlab.cli import main
    path = tmp_path / "o.csv"
    frame = _frame(bank)
    frame.to_csv(path, index=False)
    args = ["permutation", "--outputs", str(path), "--permutations", "19", "--control", "corruption"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    got = pd.read_csv(tmp_path / "a" / "permutation.csv")
    assert set(got["score"]) == {"max-prob", "correctness", "control-corruption"}  # no user Q: no 'user'
    assert main(["permutation", "--dataset", "synthetic", "--samples", "240", "--permutations", "19",
                 "--scores", "max-prob", "--out", str(tmp_path / "b")]) == 0
    assert list(got.columns) == list(pd.read_csv(tmp_path / "b" / "permutation.csv").columns)
    frame.assign(q__m0=2.0).to_csv(path, index=False)  # a bad file: a one-line error, exit 2, nothing written
    assert main(args + ["--out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "c" / "permutation.csv").exists()


def test_the_documented_example_is_a_valid_outputs_file():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()  # moved from the README
    block = text.split("```csv\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) == 7  # a header and six rows
    out = load_outputs(block.encode(), "example.csv")
    assert out.names == ["audio", "video"] and out.has_q and out.present[:, 1].sum() == 4


@pytest.mark.parametrize("change,match", [
    (lambda d: d.assign(label=[1] * 12), "single class"),
    (lambda d: d.assign(label=[1e30] * 12), r"beyond ±2\^53"),
    (lambda d: d.rename(columns={"p__a__1": "p__a__01"}).assign(p__a__1=0.0), "name the same class"),
])
def test_class_spellings_are_checked(change, match):
    with pytest.raises(ValueError, match=match):
        load_outputs(_bad(change), "bad.csv")


def test_zero_padded_class_columns_match_integer_labels_and_energy_is_refused():
    renamed = lambda d: d.rename(columns={f"p__{m}__{c}": f"p__{m}__0{c}" for m in "ab" for c in range(3)})  # noqa: E731
    out = load_outputs(_bad(renamed), "padded.csv")
    assert out.class_names == ["0", "1", "2"] and np.array_equal(out.y, [0, 1, 2] * 4)
    with pytest.raises(ValueError, match="log Σ p = 0"):
        study.run(_cfg(scores=("energy",)), outputs=out)
    assert set(study.run(_cfg(scores=DiagnosticConfig().scores), outputs=out).tables["permutation"]["score"]) == \
        {"user", "max-prob", "correctness"}  # the features' default scores become the outputs'


@pytest.mark.parametrize("breakage,match", [
    (lambda r, z: z.update(M_video_face=np.ones(80, np.uint8)), r"modality 'video_face'"),
    (lambda r, z: z.update(Meta=np.zeros(3), MFCC=np.zeros(3)), None),  # not masks: ignored
    (lambda r, z: z.update(M_v=np.zeros(80, np.uint8), M_p=np.zeros(80, np.uint8), M_a=np.r_[np.zeros(5), np.ones(75)]),
     r"UNION row\(s\) \[0, 1, 2, 3, 4\] have every modality missing"),
])
def test_the_layouts_masks_are_read_by_name(tmp_path, breakage, match):
    _authors(tmp_path)
    path = tmp_path / "union" / "stressid_union.npz"
    with np.load(path) as z:
        arrays = dict(z)
    breakage(tmp_path, arrays)
    np.savez(path, **arrays)
    if match is None:
        assert load_outputs(tmp_path).names == ["a", "v", "p"]
    else:
        with pytest.raises(ValueError, match=match):
            load_outputs(tmp_path)


def test_the_layouts_labels_and_split_duplicates_are_checked(tmp_path):
    _authors(tmp_path)
    split = tmp_path / "splits" / "seed_11" / "train_ids_fold0.npy"
    ids = np.load(split)
    np.save(split, np.r_[ids, ids[:2]])
    with pytest.raises(ValueError, match="lists 2 id.s. twice"):
        load_outputs(tmp_path)
    np.save(split, ids)
    preds = tmp_path / "unimodal_preds" / "lr" / "seed_11" / "fold_1.npz"
    with np.load(preds) as z:
        arrays = dict(z)
    arrays["y"] = 1 - arrays["y"]
    np.savez(preds, **arrays)
    with pytest.raises(ValueError, match="labels y differ from the UNION's"):
        load_outputs(tmp_path)


def _as_the_authors_write_it(root):
    """The layout as the authors' code writes it: every id array an object array, each predictions file with a
    pickled ``meta`` dict, their quality file names, their project folders and a Broken-Q bank beside the
    predictions."""
    import shutil
    for p in list(root.rglob("*.np*")):
        if p.suffix == ".npy":
            np.save(p, np.load(p).astype(object))
        else:
            with np.load(p) as z:
                arrays = {k: (v.astype(object) if k == "ids" else v) for k, v in z.items()}
            if "unimodal_preds" in p.parts:
                arrays["meta"] = np.array({"model": "lr", "seed": 11, "C": 1.0, "views": ["a", "v", "p"]}, dtype=object)
            np.savez(p, **arrays)
    for q in list((root / "quality").rglob("fold_*.npz")):
        s, f = q.parent.name.split("_")[1], q.stem.split("_")[1]
        q.rename(q.parent / f"union_quality_Q_avp_v1_seed{s}_fold{f}.npz")
    (root / "output").mkdir()
    shutil.move(str(root / "union"), str(root / "output" / "fusion_table_noQ"))
    (root / "paper_output").mkdir()
    shutil.move(str(root / "unimodal_preds"), str(root / "paper_output" / "unimodal_preds"))
    bank = root / "paper_output" / "brokenQ_K1000" / "seed_11"
    bank.mkdir(parents=True)
    np.savez(bank / "stressid_union_quality_BROKENQ_K1000_seed11_fold0.npz", Q=np.zeros((1000, 80, 3)))


def test_the_authors_artifacts_load_as_their_code_writes_them(tmp_path):
    _authors(tmp_path / "flat")
    plain = load_outputs(tmp_path / "flat")
    _authors(tmp_path / "theirs")
    _as_the_authors_write_it(tmp_path / "theirs")
    theirs = load_outputs(tmp_path / "theirs")
    assert theirs.names == plain.names and theirs.has_q
    for a, b in zip(theirs.runs, plain.runs):
        assert np.array_equal(a.test, b.test) and np.array_equal(a.probs, b.probs, equal_nan=True)
        assert np.array_equal(a.q, b.q)
    for i, q in enumerate((tmp_path / "theirs" / "quality").rglob("*.npz")):  # names no run has: the names tried
        q.rename(q.parent / f"quality_{i}.npz")
    with pytest.raises(ValueError, match=r"none is a run's: for seed 11, fold 0 the names tried are seed_11/fold_0.npz"):
        load_outputs(tmp_path / "theirs")


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, (f"touch {_Evil.sentinel}",))


@pytest.mark.parametrize("where", ["union", "split", "meta"])
def test_a_malicious_pickle_in_the_artifacts_is_refused_without_running_anything(tmp_path, where):
    _authors(tmp_path)
    _Evil.sentinel = tmp_path / "ran"
    evil = np.array([_Evil()], dtype=object)
    if where == "split":
        np.save(tmp_path / "splits" / "seed_11" / "test_ids_fold0.npy", evil, allow_pickle=True)
    else:
        path = (tmp_path / "union" / "stressid_union.npz" if where == "union"
                else tmp_path / "unimodal_preds" / "lr" / "seed_11" / "fold_0.npz")
        with np.load(path) as z:
            arrays = dict(z)
        arrays["ids" if where == "union" else "meta"] = evil
        np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"names '(posix|os)\.system'.*refused, nothing was run"):
        load_outputs(tmp_path)
    assert not _Evil.sentinel.exists()


@pytest.mark.parametrize("name, found", [
    ("seed_11/q_fold0.npz", True), ("seed_11/fold_0/q.npz", True), ("seed_11_fold_0.npz", True),
    ("seed_11/union_quality_Q_av_v2_seed11_fold0.npz", True), ("seed_11/stressid_Q_seed11_fold0_scaled.npz", True),
    ("seed_11/stressid_Q_seed11_fold01.npz", False), ("seed_11/stressid_Q_seed110_fold0.npz", False),
])
def test_the_authors_quality_file_names_are_found(name, found):
    from fusionlab.diagnostics.outputs_authors import _quality_key
    got = _quality_key({name: b""}, 11, 0)
    assert (got == name) if found else got is None
