"""Gate/value diagnostics, comparison helpers and the vgmr/compare CLI (seed 003 §4.3-§4.8)."""
from dataclasses import replace

import pandas as pd
import pytest

from fusionlab.cli import main
from fusionlab.diagnostics.gates import (STATS, SweepConfig, corrupt_sample, gate_findings, gate_range, gate_stats,
                                         heavy_noise_finding, robustness_sweeps, sample_table, sample_view)
from fusionlab.experiments.gates import backbone_config
from fusionlab.experiments.gates_compare import _params, comparison_configs, infer_ms_per_batch, match_size
from fusionlab.models import build_model
from fusionlab.refiners.vgmr import VGMRConfig
from fusionlab.train import TrainConfig, fit


@pytest.fixture(scope="module")
def trained(synth_seq):
    model = build_model(synth_seq.shapes(), synth_seq.n_classes, backbone_config("concat", VGMRConfig(d=8)), seed=0)
    return fit(model, synth_seq, TrainConfig(epochs=2, seed=0)).model


def test_gate_stats_table_and_zero_noise_oracle(trained, synth_seq):
    df = gate_stats(trained, synth_seq, ratio=0.3)
    assert list(df.columns[:2]) == ["modality", "condition"]
    assert all(c in df for s in STATS for c in (s, f"{s}_sd"))
    assert len(df) == 2 * len(synth_seq.modality_names)
    assert ((df[["global_value", "channel_value", "gate"]] > 0) & (df[["global_value", "channel_value", "gate"]] < 1)).all().all()
    assert (df[[f"{s}_sd" for s in STATS]] >= 0).all().all()
    none = gate_stats(trained, synth_seq, ratio=0.0)
    clean, corrupted = none[none.condition == "clean"], none[none.condition == "corrupted"]
    assert clean[list(STATS)].to_numpy().tolist() == corrupted[list(STATS)].to_numpy().tolist()
    noisy = gate_stats(trained, synth_seq, ratio=1.0)
    assert not noisy[noisy.condition == "corrupted"]["gate"].equals(noisy[noisy.condition == "clean"]["gate"])


def _samples(d_value, d_gate, n=40):
    """Per-sample §4.4 statistics: corrupted = clean + the given shift, with per-sample spread."""
    rows = []
    for i in range(n):
        jitter = 0.01 * ((i % 5) - 2)
        for cond, dv, dg in (("clean", 0.0, 0.0), ("corrupted", d_value, d_gate)):
            row = {"modality": "text", "condition": cond, "row": i}
            for s, base in zip(STATS, (0.5, 0.5, 0.1, 0.5)):
                row[s] = base + (dg if s == "gate" else dv) + (jitter if cond == "corrupted" else 0.0)
            rows.append(row)
    return pd.DataFrame(rows)


def test_gate_finding_says_plainly_whether_the_paper_holds():
    (f,) = gate_findings(_samples(0.2, -0.06))
    assert f.verdict == "holds" and "gate fell" in f.evidence
    for dv, dg in ((0.2, 0.05), (-0.1, -0.06), (0.0, 0.0)):
        (f,) = gate_findings(_samples(dv, dg))
        assert f.verdict != "holds"
    assert gate_findings(_samples(-0.1, 0.05))[0].verdict == "does not hold"
    assert gate_findings(_samples(0.2, 0.05))[0].verdict == "partly"


def test_heavy_noise_finding_compares_the_heaviest_level():
    rows = [{"method": m, "seed": s, "sweep": "ratio", "ratio": r, "weight": 1.0, "level": r, "accuracy": acc}
            for m, top in (("vgmr", 0.6), ("concat", 0.4)) for s in (0, 1) for r, acc in ((0.0, 0.9), (1.0, top))]
    (f,) = heavy_noise_finding(pd.DataFrame(rows))
    assert f.verdict == "holds" and "+0.200" in f.evidence
    flipped = pd.DataFrame(rows).replace({"method": {"vgmr": "concat", "concat": "vgmr"}})
    assert heavy_noise_finding(flipped)[0].verdict == "does not hold"
    noisy = pd.DataFrame(rows)  # seeds 0.6 +- 0.3 apart: a 0.1 gap is inside the spread
    noisy.loc[(noisy["level"] == 1.0) & (noisy["method"] == "vgmr"), "accuracy"] = [0.2, 0.8]
    assert heavy_noise_finding(noisy)[0].verdict == "cannot tell"


def test_sample_view_corrupts_only_the_asked_modality(trained, synth_seq):
    names = synth_seq.modality_names
    clean = sample_view(trained, synth_seq, 2)
    noisy = sample_view(trained, synth_seq, 2, {names[0]: (1.0, 1.0)})
    assert not (clean.x[names[0]] == noisy.x[names[0]]).all()
    for k in names[1:]:
        assert (clean.x[k] == noisy.x[k]).all()
    lo, hi = gate_range(VGMRConfig(d=8))
    for k in names:
        assert clean.g_eff[k].shape == clean.x[k].shape == clean.diff[k].shape
        assert ((clean.g_eff[k] > lo) & (clean.g_eff[k] < hi)).all()
    with pytest.raises(ValueError, match="sample index"):
        corrupt_sample(synth_seq, len(synth_seq.test), {})
    with pytest.raises(ValueError, match="unknown modalities"):
        corrupt_sample(synth_seq, 0, {"nope": (0.5, 1.0)})


def test_sample_table_and_robustness_sweeps(trained, synth_seq):
    table = sample_table(trained, synth_seq)
    assert len(table) == len(synth_seq.test) and table["index"].tolist() == list(range(len(table)))
    sweep = SweepConfig(ratios=(0.0, 1.0), weights=(0.0, 1.0), seeds=(0,))
    rob = robustness_sweeps(trained, synth_seq, "vgmr", 0, sweep)
    assert len(rob) == 4 and set(rob["sweep"]) == {"ratio", "weight"}
    clean_acc = float(table["correct"].mean())
    assert rob.query("sweep == 'ratio' and level == 0")["accuracy"].item() == pytest.approx(clean_acc)
    assert rob.query("sweep == 'weight' and level == 0")["accuracy"].item() == pytest.approx(clean_acc)


def test_match_size_finds_the_closest_count():
    assert match_size(lambda s: 10 * s + 3, 95) == 9
    assert match_size(lambda s: 10 * s + 3, 99) == 10
    assert match_size(lambda s: s * s, 50, 1, 100) == 7


def test_parameter_matched_baselines(synth_seq):
    cfgs = comparison_configs(synth_seq, "concat", VGMRConfig(d=8))
    assert set(cfgs) == {"concat", "sum", "tensor", "concat_mlp", "gated", "cross_attention", "vgmr"}
    target = _params(synth_seq, cfgs["vgmr"])
    hidden = cfgs["concat_mlp"].fusion_options["hidden"]
    for h in (hidden - 1, hidden + 1):
        other = replace(cfgs["concat_mlp"], fusion_options={"hidden": h})
        assert abs(_params(synth_seq, cfgs["concat_mlp"]) - target) <= abs(_params(synth_seq, other) - target)
    assert abs(_params(synth_seq, cfgs["gated"]) - target) < 0.05 * target


def test_infer_latency_is_positive(trained, synth_seq):
    assert infer_ms_per_batch(trained, synth_seq.test, 16, repeats=3) > 0


def test_cli_vgmr_writes_the_three_tables(tmp_path, capsys):
    out = tmp_path / "v"
    code = main(["vgmr", "--dataset", "synthetic", "--samples", "160", "--seq-len", "4", "--epochs", "1",
                 "--seeds", "2", "--out", str(out)])
    assert code == 0
    stats = pd.read_csv(out / "gate_stats.csv")
    assert list(stats.columns) == ["modality", "condition"] + [c for s in STATS for c in (s, f"{s}_sd")]
    assert set(stats["condition"]) == {"clean", "corrupted"} and len(stats) == 6
    removal = pd.read_csv(out / "removal.csv")
    assert set(removal["method"]) == {"vgmr", "concat"}
    rob = pd.read_csv(out / "robustness.csv")
    assert set(rob["seed"]) == {0, 1} and set(rob["method"]) == {"vgmr", "concat"}
    assert "heavy noise" in capsys.readouterr().out


def test_cli_compare_with_ablation(tmp_path):
    out = tmp_path / "c"
    code = main(["compare", "--dataset", "synthetic", "--samples", "160", "--seq-len", "3", "--epochs", "1",
                 "--ablation", "--out", str(out)])
    assert code == 0
    cmp = pd.read_csv(out / "comparison.csv")
    assert list(cmp.columns) == ["method", "accuracy", "macro_f1", "params", "train_s_per_epoch", "infer_ms_per_batch"]
    assert {"vgmr", "concat", "sum", "tensor", "concat_mlp", "gated", "cross_attention"} == set(cmp["method"])
    abl = pd.read_csv(out / "ablation.csv")
    assert len(abl) == 7 and abl["condition"].iloc[0] == "full VGMR"


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    code = main(["vgmr", "--dataset", "synthetic", "--informativeness", "0.5", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "informativeness" in err and "\n" not in err
