"""Permuting learned signals inside feature-level models (docs/methods.md, signal permutation test) and the perceptual score (§5)."""
import numpy as np
import pytest
import torch
from torch import nn

from fusionlab.diagnostics import signals as sig
from fusionlab.diagnostics.permutation import confusion_counts, metrics_from_counts, p_value
from fusionlab.models import ModelConfig, build_model
from fusionlab.models.fusion_model import ModelOutput
from fusionlab.models.udml import UDMLConfig, build_udml
from fusionlab.signals import per_modality, tap
from fusionlab.train import TrainConfig, fit

SHAPES = {"a": (4, 5), "b": (1, 3), "c": (4, 5)}  # two of one shape group, one vector


def _inputs(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(n, t, d, generator=g) for k, (t, d) in SHAPES.items()}


def _labels(n=40, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 3, n))


MODELS = {
    "vgmr": lambda: build_model(SHAPES, 3, ModelConfig(encoder="identity", fusion="concat", refiner="vgmr",
                                                       refiner_options={"d": 8, "lambda_amp": 1.0}), seed=1),
    "gated": lambda: build_model(SHAPES, 3, ModelConfig(fusion="gated", enc_dim=8, fusion_dim=8), seed=2),
    "udml": lambda: build_udml(SHAPES, 3, UDMLConfig(enc_dim=8, head_hidden=8, fusion="gated"), seed=3),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_declared_signal_replaced_by_itself_changes_nothing(name):
    model = MODELS[name]().eval()
    xs = _inputs()
    declared = model.signals()
    assert declared, f"{name} declares no signal"
    with torch.no_grad():
        clean = model(xs).logits
        for key in declared:
            assert torch.equal(model(xs, replace={key: lambda v: v}).logits, clean), key
            # a stacked copy of three identical variants: the same logits three times
            assert torch.equal(model(xs, replace={key: lambda v: v.repeat(3, *[1] * (v.ndim - 1))}).logits,
                               clean.repeat(3, 1)), key


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_permuted_signal_reaches_the_decision_and_an_unknown_key_is_refused(name):
    model = MODELS[name]().eval()
    xs = _inputs()
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        clean = model(xs).logits
        moved = [not torch.allclose(model(xs, replace={k: lambda v: v[perm]}).logits, clean)
                 for k in model.signals()]
    assert any(moved)
    with pytest.raises(ValueError, match="no signal"):
        model(xs, replace={"vgmr/nonsense/a": lambda v: v})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_stacked_permutations_equal_one_permutation_at_a_time(name):
    """The oracle: each row's null metrics are those of K separate forward passes with v[perm]."""
    model = MODELS[name]().eval()
    xs, y = _inputs(), _labels()
    cfg = sig.SignalTestConfig(permutations=7, seed=3)
    res = sig.signal_permutation(model, xs, y, 3, cfg)
    perms = sig._permutations(40, list(SHAPES), cfg)["own"]
    declared = model.signals()
    with torch.no_grad():
        clean = model(xs).logits.argmax(-1).numpy()
        for key, s in declared.items():
            j = list(SHAPES).index(s.modality)
            preds = np.stack([model(xs, replace={key: lambda v, p=torch.from_numpy(perms[k, j].astype(np.int64)): v[p]})
                              .logits.argmax(-1).numpy() for k in range(7)])
            want = metrics_from_counts(confusion_counts(y.numpy(), preds, 3))["balanced_accuracy"]
            got = res.null.query("signal == @s.name and modality == @s.modality")["balanced_accuracy"].to_numpy()
            np.testing.assert_allclose(got, want)
            base = metrics_from_counts(confusion_counts(y.numpy(), clean[None], 3))["balanced_accuracy"][0]
            row = res.table.query("signal == @s.name and modality == @s.modality").iloc[0]
            assert row["metric_clean"] == base and row["p_value"] == p_value(want, base)
    assert set(res.table["modality"]) == set(SHAPES) | {sig.ALL}
    assert {"signal", "modality", "metric_clean", "metric_broken_mean", "delta", "p_value"} <= set(res.table)


def test_vgmr_with_lambda_zero_has_no_decision_relevant_signal(synth_seq):
    """G_eff is exactly 1 at lambda = 0, so no signal can change a decision: delta 0, p 1 for all."""
    cfg = ModelConfig(encoder="identity", refiner="vgmr", refiner_options={"d": 8, "lambda_amp": 0.0})
    model = fit(build_model(synth_seq.shapes(), synth_seq.n_classes, cfg, seed=0), synth_seq,
                TrainConfig(epochs=2, seed=0)).model
    res = sig.signal_permutation(model, synth_seq.test.xs, synth_seq.test.y, synth_seq.n_classes,
                                 sig.SignalTestConfig(permutations=20))
    assert set(res.table["signal"]) == {"v_g", "v_c", "G_eff"}
    assert (res.table["delta"] == 0).all() and (res.table["p_value"] == 1).all()
    assert (res.table["f1_delta"] == 0).all()


class SignalIsTheOutput(nn.Module):
    """A hand-made model: its logits are its signal (one per class), computed from modality 'a'."""

    names = ["a", "b"]

    def signals(self):
        return per_modality("s", "s", ["a"])

    def forward(self, xs, replace=None):
        s = tap(replace, "s/a", xs["a"][:, 0, :])  # (B, C): the signal
        return ModelOutput(s, {"s/a": s})  # b is ignored


def test_a_model_whose_output_is_the_signal_is_significantly_hurt():
    y = torch.arange(60) % 3
    xs = {"a": torch.nn.functional.one_hot(y, 3).float()[:, None, :], "b": torch.zeros(60, 1, 2)}
    res = sig.signal_permutation(SignalIsTheOutput(), xs, y, 3, sig.SignalTestConfig(permutations=50))
    row = res.table.iloc[0]
    assert row["metric_clean"] == 1.0 and row["delta"] > 0.3 and row["p_value"] <= 1 / 51 + 1e-12


def test_perceptual_score_of_an_ignored_modality_is_zero_and_of_the_used_one_is_not():
    res = sig.input_permutation(SignalIsTheOutput(), {"a": torch.nn.functional.one_hot(torch.arange(60) % 3, 3)
                                                      .float()[:, None, :], "b": torch.randn(60, 1, 2)},
                                torch.arange(60) % 3, 3, sig.SignalTestConfig(permutations=30))
    t = res.table.set_index("modality")
    assert t.loc["b", "delta"] == 0 and t.loc["b", "p_value"] == 1
    assert t.loc["a", "delta"] > 0.3 and t.loc["a", "p_value"] <= 1 / 31 + 1e-12
    assert {"modality", "metric_clean", "metric_permuted_mean", "delta", "p_value"} <= set(res.table)


def test_choosing_signals_and_models_without_any_are_refused_by_name():
    model = MODELS["vgmr"]()
    res = sig.signal_permutation(model, _inputs(), _labels(), 3, sig.SignalTestConfig(permutations=3), ["G_eff"])
    assert set(res.table["signal"]) == {"G_eff"}
    with pytest.raises(ValueError, match="no signal"):
        sig.signal_permutation(model, _inputs(), _labels(), 3, signals=["z"])
    plain = build_model(SHAPES, 3, ModelConfig(fusion="concat"), seed=0)
    with pytest.raises(ValueError, match="declares no per-sample signal"):
        sig.signal_permutation(plain, _inputs(), _labels(), 3)
    assert plain.signals() == {}
    with pytest.raises(ValueError, match="rows may be a multiple"):
        tap({"k": lambda v: v[:3]}, "k", torch.zeros(4, 2))


SIGNAL_CSV = ["condition", "signal", "modality", "metric_clean", "metric_broken_mean", "delta", "p_value"]


def _signal_csv(path):
    import pandas as pd
    df = pd.read_csv(path)
    assert SIGNAL_CSV == [c for c in df.columns if c in SIGNAL_CSV]
    assert df["p_value"].between(1 / 6, 1).all() and (df["permutations"] == 5).all()
    return df


def test_cli_vgmr_udml_and_gated_train_write_signal_permutation(tmp_path):
    from fusionlab.cli import main
    small = ["--dataset", "synthetic", "--samples", "160", "--epochs", "1", "--signal-permutations", "5"]
    assert main(["vgmr", *small, "--seq-len", "4", "--seeds", "1", "--permute-signals", "--out", str(tmp_path / "v")]) == 0
    v = _signal_csv(tmp_path / "v" / "signal_permutation.csv")
    assert set(v["signal"]) == {"v_g", "v_c", "G_eff"}
    assert set(v["condition"]) == {"clean"} | {f"m{i} (ratio 0.30, weight 1) corrupted" for i in (1, 2, 3)}
    assert main(["udml", *small, "--methods", "static,udml", "--seeds", "1", "--permute-signals",
                 "--out", str(tmp_path / "u")]) == 0
    u = _signal_csv(tmp_path / "u" / "signal_permutation.csv")
    assert set(u["method"]) == {"static", "udml"} and set(u["signal"]) == {"w"}
    # static fusion's weights are all 1: permuting them changes nothing, exactly
    assert (u.loc[u["method"] == "static", "delta"] == 0).all() and (u.loc[u["method"] == "static", "p_value"] == 1).all()
    assert main(["train", *small, "--modalities", "2", "--fusion", "gated", "--permute-signals",
                 "--out", str(tmp_path / "t")]) == 0
    t = _signal_csv(tmp_path / "t" / "signal_permutation.csv")
    assert set(t["signal"]) == {"z"} and set(t["modality"]) == {"m1", "m2", "all"} and len(t) == 9


def test_cli_perceptual_writes_its_table_and_a_model_without_signals_is_refused(tmp_path):
    import subprocess
    import sys
    import pandas as pd
    from fusionlab.cli import main
    small = ["--dataset", "synthetic", "--samples", "160", "--modalities", "2", "--epochs", "1"]
    assert main(["perceptual", *small, "--permutations", "5", "--out", str(tmp_path / "p")]) == 0
    df = pd.read_csv(tmp_path / "p" / "perceptual.csv")
    assert ["modality", "metric_clean", "metric_permuted_mean", "delta", "p_value"] == \
        [c for c in df.columns if c in ("modality", "metric_clean", "metric_permuted_mean", "delta", "p_value")]
    assert list(df["modality"]) == ["m1", "m2", "all"]
    proc = subprocess.run([sys.executable, "-m", "fusionlab", "train", *small, "--fusion", "concat",
                           "--permute-signals", "--out", str(tmp_path / "c")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 2 and "declares no per-sample signal" in proc.stderr and "before" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "c" / "metrics.json").exists()
