"""The fusion-complexity paper's protocol: clip-like data, the scaling study, findings, figures and the CLI twin."""
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from fusionlab.cli import main
from fusionlab.data import DATASETS, SplitConfig, load_dataset, prepare
from fusionlab.experiments.scaling import (ScalingConfig, check_sizes, data_efficiency_finding, doubling_sizes,
                                           findings, parse_sizes, robustness_finding, run_scaling)
from fusionlab.train import TrainConfig
from fusionlab.figures import scaling as fig


def _train(epochs):
    return TrainConfig(epochs=epochs, weight_decay=0.0, patience=None)


def test_clip_like_is_registered_and_dot_label_is_the_sign_of_the_dot_product():
    assert "clip-like" in DATASETS
    ds = load_dataset("clip-like", label="dot", n_samples=300)
    assert ds.shapes() == {"text": (1, 768), "image": (1, 768)}
    dots = (ds.modalities["text"][:, 0].astype(np.float64) * ds.modalities["image"][:, 0]).sum(1)
    np.testing.assert_array_equal(ds.labels, (dots > 0).astype(int))
    real = load_dataset("clip-like", label="real", n_samples=300)
    np.testing.assert_array_equal(real.modalities["text"], ds.modalities["text"])  # same embeddings, other label
    assert not np.array_equal(real.labels, ds.labels)
    assert 0.3 < real.labels.mean() < 0.7
    with pytest.raises(ValueError, match="label"):
        load_dataset("clip-like", label="sentiment")


def test_sizes():
    assert doubling_sizes(4500) == [32, 64, 128, 256, 512, 1024, 2048, 4096]
    assert parse_sizes("32-256") == [32, 64, 128, 256]
    assert parse_sizes("100,32") == [32, 100]
    with pytest.raises(ValueError, match="sizes"):
        parse_sizes("a-b")
    with pytest.raises(ValueError, match="train split has 100"):
        check_sizes([32, 128], 100, 2)


@pytest.fixture(scope="module")
def study():
    data = prepare(load_dataset("clip-like", label="dot", n_samples=300), SplitConfig(val_fraction=0.1, test_fraction=0.2))
    cfg = ScalingConfig(fusions=("concat", "product"), sizes=(32, 64), n_seeds=2, train=_train(2), levels=(0.0, 0.5, 0.95))
    return data, run_scaling(data, cfg, label="dot")


def test_study_tables(study):
    data, res = study
    assert set(res.scores["size"]) == {32, 64} and set(res.scores["seed"]) == {0, 1}
    assert len(res.scores) == 2 * 2 * 2
    assert set(res.robustness["condition"]) == {"text", "image", "all"}
    assert res.params.set_index("fusion")["params"].nunique() == 1  # product keeps concat's size (2n)
    # level 0 is the identity: robustness at level 0 equals the clean test accuracy of the same seed
    clean = res.scores[res.scores["size"] == res.robust_size].set_index(["fusion", "seed"])["test_accuracy"]
    at0 = res.robustness[res.robustness["level"] == 0].set_index(["fusion", "seed"])["accuracy"]
    for key, acc in at0.items():
        assert acc == pytest.approx(clean[key], abs=1e-6)
    for _, curve in res.roc.groupby(["fusion", "size", "seed"]):
        assert np.all(np.diff(curve["tpr"].values) >= -1e-12) and curve["tpr"].iloc[-1] == pytest.approx(1.0)


def test_stop_returns_a_stopped_result(study):
    data, _ = study
    res = run_scaling(data, ScalingConfig(fusions=("concat",), sizes=(32,), n_seeds=1, train=_train(3)),
                      stop=lambda: True)
    assert res.stopped and res.scores.empty


def _scores(curves):
    rows = [{"fusion": f, "label": "dot", "size": n, "seed": 0, "test_accuracy": a}
            for f, c in curves.items() for n, a in c.items()]
    return pd.DataFrame(rows)


def test_data_efficiency_finding_follows_the_numbers():
    fast = {"product": {32: 0.9, 64: 0.95}, "concat": {32: 0.55, 64: 0.6}}
    assert data_efficiency_finding(_scores(fast), 0.5).holds is True
    slow = {"product": fast["concat"], "concat": fast["product"]}
    found = data_efficiency_finding(_scores(slow), 0.5)
    assert found.holds is False and found.verdict == "does not hold"
    assert data_efficiency_finding(_scores({"concat": fast["concat"]}), 0.5).holds is None


def _robust(drop_product, drop_concat):
    rows = []
    for f, drop in (("product", drop_product), ("concat", drop_concat)):
        for cond in ("a", "b", "all"):
            for lv in (0.0, 0.5):
                for seed, jitter in enumerate((0.0, 0.01, -0.01)):  # paired seeds (docs/methods.md, corruptions and robustness) with some spread
                    rows.append({"fusion": f, "condition": cond, "noise": "mix", "level": lv, "seed": seed,
                                 "accuracy": 0.9 - (drop + jitter) * lv})
    return pd.DataFrame(rows)


def test_robustness_finding_follows_the_numbers():
    assert robustness_finding(_robust(0.6, 0.1), 0.5).holds is True
    assert robustness_finding(_robust(0.1, 0.6), 0.5).holds is False
    assert robustness_finding(_robust(0.1, 0.6).query("level == 0"), 0.5).holds is None


def test_findings_and_figures_from_a_study(study):
    _, res = study
    found = findings(res)
    assert len(found) == 2 and all(f.evidence for f in found)
    figs = [fig.accuracy_vs_size(res.scores, chance=res.chance), fig.roc_figure(res.roc, 32),
            fig.robustness_grid(res.robustness, res.robust_size), fig.params_bars(res.params)]
    assert all(isinstance(f, go.Figure) for f in figs)
    assert all(len(f.data) >= 2 for f in figs[:3]) and list(figs[3].data[0].x) == ["concat", "product"]
    assert figs[0].layout.xaxis.type == "log"
    assert fig.roc_figure(res.roc, 999).layout.annotations  # empty_figure explains itself
    assert fig.accuracy_vs_size(pd.DataFrame()).layout.annotations


def test_cli_writes_tables_and_report(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["scaling", "--dataset", "clip-like", "--label", "dot", "--clip-samples", "300", "--fusions",
                 "concat,product", "--sizes", "32-64", "--seeds", "2", "--epochs", "1", "--levels", "0,0.5",
                 "--out", str(out)])
    assert code == 0
    scores = pd.read_csv(out / "scaling.csv")
    assert list(scores.columns) == ["fusion", "label", "size", "seed", "val_accuracy", "test_accuracy", "params"]
    assert len(scores) == 2 * 2 * 2 and set(scores["label"]) == {"dot"}
    robust = pd.read_csv(out / "robustness.csv")
    assert list(robust.columns) == ["fusion", "condition", "noise", "level", "accuracy", "seed"]
    assert "plotly" in (out / "scaling.html").read_text()
    assert len(json.loads((out / "findings.json").read_text())["findings"]) == 2


def test_cli_uci_views_and_bad_input(tmp_path, capsys):
    code = main(["scaling", "--dataset", "uci-digits", "--views", "fou,kar", "--fusions", "concat,product",
                 "--sizes", "32", "--seeds", "1", "--epochs", "1", "--levels", "0", "--out", str(tmp_path / "u")])
    assert code == 0 and pd.read_csv(tmp_path / "u" / "scaling.csv")["label"].eq("class").all()
    assert main(["scaling", "--fusions", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["scaling", "--clip-samples", "300", "--sizes", "32-4096", "--out", str(tmp_path / "y")]) == 2
