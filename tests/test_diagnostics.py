"""Robustness curves, modality removal, contributions."""
import pytest

from fusionlab.data import SyntheticConfig, make_synthetic, prepare
from fusionlab.diagnostics import modality_contributions, modality_removal, noisy_metrics, robustness_curve
from fusionlab.models import ModelConfig, build_model
from fusionlab.train import TrainConfig, evaluate, fit


@pytest.fixture(scope="module")
def trained(synth):
    m = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0)
    fit(m, synth, TrainConfig(epochs=8, seed=0))
    return m


def test_robustness_curve_is_tidy_and_starts_at_clean_accuracy(trained, synth):
    df = robustness_curve(trained, synth, "mix", [0.0, 0.5, 1.0], seed=0, fusion="concat")
    assert list(df.columns[:6]) == ["fusion", "condition", "noise", "level", "accuracy", "macro_f1"]
    assert set(df["condition"]) == {"m1", "m2", "m3", "all"} and len(df) == 12
    clean = evaluate(trained, synth.test)["accuracy"]
    assert (df.query("level == 0")["accuracy"] == clean).all()
    everything = df.query("condition == 'all'").set_index("level")["accuracy"]
    assert everything[1.0] < everything[0.0]


def test_noise_on_one_modality_only_touches_it(trained, synth):
    assert noisy_metrics(trained, synth, {"m1": 0.0})["accuracy"] == evaluate(trained, synth.test)["accuracy"]


def test_removal_has_one_row_per_modality(trained, synth):
    df = modality_removal(trained, synth)
    assert df["removed"].tolist() == ["none", "m1", "m2", "m3"]
    assert df.loc[0, "accuracy_drop"] == 0
    assert (df["accuracy_drop"] == df.loc[0, "accuracy"] - df["accuracy"]).all()


def test_pure_noise_modality_contributes_least():
    data = prepare(make_synthetic(SyntheticConfig(n_samples=400, dim=8, informativeness=(0.9, 0.6, 0.0), seed=0)))
    m = build_model(data.shapes(), data.n_classes, ModelConfig(), seed=0)
    fit(m, data, TrainConfig(epochs=8, seed=0))
    df = modality_contributions(m, data.test.xs, data)
    assert set(df.columns) >= {"row", "modality", "p_full", "p_without", "contribution"}
    mean = df.groupby("modality")["contribution"].mean()
    assert mean.idxmin() == "m3" and mean["m1"] > mean["m3"]
