"""Gate/value diagnostics, comparison helpers and the vgmr/compare CLI (the VGMR paper's §4.3-§4.8)."""
from dataclasses import replace

import pandas as pd
import pytest

from fusionlab.cli import main
from fusionlab.diagnostics.gates import (STATS, SweepConfig, corrupt_sample, gate_findings, gate_range, gate_stats,
                                         robustness_findings, robustness_summary, robustness_sweeps, sample_table,
                                         sample_view, summarise_samples)
from fusionlab.diagnostics.gates import gate_samples
from fusionlab.diagnostics.robustness import effective_robustness, relative_robustness
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


def _curves(tops, seeds=(0, 1, 2), levels=(0.0, 0.5, 1.0)):
    """Linear accuracy curves from 0.9 at level 0 down to ``tops[method][seed]`` at the top level."""
    return pd.DataFrame([{"method": m, "seed": s, "sweep": "ratio", "ratio": lv, "weight": 1.0, "level": lv,
                          "accuracy": 0.9 + (top[i] - 0.9) * lv / levels[-1]}
                         for m, top in tops.items() for i, s in enumerate(seeds) for lv in levels])


def test_robustness_summaries_follow_multibench():
    assert relative_robustness([0, 0.5, 1], [0.7, 0.7, 0.7]) == pytest.approx(0.7)  # flat: its accuracy
    assert relative_robustness([0, 1, 2], [1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert effective_robustness([0, 1], [0.9, 0.6], [0.8, 0.3]) == pytest.approx(((0.6 - 0.9) - (0.3 - 0.8)) / 2)
    with pytest.raises(ValueError, match="two distinct levels"):
        relative_robustness([0.5, 0.5], [1, 1])


def test_robustness_finding_judges_the_whole_curve_paired_by_seed():
    (f,) = robustness_findings(_curves({"vgmr": (0.6, 0.62, 0.58), "concat": (0.4, 0.41, 0.39)}))
    assert f.verdict == "holds" and "effective robustness" in f.evidence
    summary = robustness_summary(_curves({"vgmr": (0.6, 0.62, 0.58), "concat": (0.4, 0.41, 0.39)}), "concat")
    assert summary.loc[summary.method == "concat", "effective_robustness"].isna().all()
    assert summary.loc[summary.method == "vgmr", "effective_robustness"].to_numpy() == pytest.approx(
        [(0.2 / 2 + 0.2) / 3, (0.21 / 2 + 0.21) / 3, (0.19 / 2 + 0.19) / 3])
    assert robustness_findings(_curves({"vgmr": (0.4, 0.41, 0.39), "concat": (0.6, 0.62, 0.58)}))[0].verdict \
        == "does not hold"
    # equal at the heaviest point, yet VGMR falls faster in the middle: the whole curve says so
    mid = _curves({"vgmr": (0.5, 0.5, 0.5), "concat": (0.5, 0.5, 0.5)})
    mid.loc[(mid.method == "vgmr") & (mid.level == 0.5), "accuracy"] = [0.55, 0.56, 0.54]
    assert robustness_findings(mid)[0].verdict == "does not hold"
    spread = _curves({"vgmr": (0.2, 0.8, 0.5), "concat": (0.5, 0.5, 0.5)})
    assert robustness_findings(spread)[0].verdict == "cannot tell"


def test_health_columns_saturation_and_layernorm_share():
    """Oracles: saturated v_c entries are counted; a gate uniform within each timestep is erased
    entirely by a post-gate LayerNorm, a gate that only contrasts channels not at all."""
    import torch
    from fusionlab.diagnostics.gates import _health
    from fusionlab.refiners.vgmr import key
    n, t, d = 6, 4, 5
    v_c = torch.full((n, 8), 0.5)
    v_c[:, :2] = 0.001
    v_c[:, 2] = 0.999
    per_step = torch.rand(n, t, 1) + 0.5
    contrast = torch.linspace(-0.3, 0.3, d).exp().expand(n, t, d)
    for g, share in ((per_step.expand(n, t, d), 1.0), (contrast, 0.0)):
        h = _health({key("v_c", "a"): v_c, key("G_eff", "a"): g}, "a")
        assert h["channel_value_saturation"] == pytest.approx([3 / 8] * n)
        assert h["g_eff_ss_uniform"].sum() / h["g_eff_ss"].sum() == pytest.approx(share, abs=1e-9)


def test_gate_stats_pool_seeds_and_findings_pair_by_seed_and_row():
    two = pd.concat([_samples(0.2, -0.06).assign(seed=0), _samples(0.2, -0.06).assign(seed=1)])
    (f,) = gate_findings(two)
    assert f.verdict == "holds" and "2 seeds" in f.evidence
    stats = summarise_samples(two)
    assert (stats["seeds"] == 2).all() and (stats["samples"] == 80).all()


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


@pytest.mark.parametrize("backbone", ["transformer", "concat"])
def test_baselines_take_vgmrs_place_on_one_backbone_parameter_matched(synth_seq, backbone):
    cfgs = comparison_configs(synth_seq, backbone, VGMRConfig(d=8))
    assert set(cfgs) == {backbone, "sum", "tensor", "concat_mlp", "gated", "cross_attention", "vgmr"}
    assert {c.fusion for c in cfgs.values()} == {backbone}  # the same backbone everywhere
    assert all(cfgs[m].refiner == "fused_context" for m in ("sum", "tensor", "concat_mlp", "gated", "cross_attention"))
    target = _params(synth_seq, cfgs["vgmr"])
    ops = cfgs["concat_mlp"].refiner_options
    hidden = ops["operator_options"]["hidden"]
    for h in (hidden - 1, hidden + 1):
        other = replace(cfgs["concat_mlp"], refiner_options={**ops, "operator_options": {"hidden": h}})
        assert abs(_params(synth_seq, cfgs["concat_mlp"]) - target) <= abs(_params(synth_seq, other) - target)
    for m in ("gated", "tensor"):
        assert _params(synth_seq, cfgs[m]) < 3 * target, m  # not orders of magnitude larger


def test_a_baseline_in_vgmrs_place_starts_as_the_plain_backbone(synth_seq):
    """U_m = 0 at initialisation: the refined input equals the input, so the output is the backbone's."""
    import torch
    from fusionlab.refiners import REFINERS
    ref = REFINERS.create("fused_context", synth_seq.shapes(), operator="gated", dim=8)
    xs = {k: v[:5] for k, v in synth_seq.test.xs.items()}
    out, _ = ref(xs)
    assert all(torch.equal(out[k], xs[k]) for k in xs)
    with pytest.raises(ValueError, match="operator"):
        REFINERS.create("fused_context", synth_seq.shapes(), operator="zzz")  # any registered operator may take its place (concat was refused: the paper has no such baseline)


def test_compare_stopped_before_any_job_gives_empty_tables(synth_seq, monkeypatch):
    from fusionlab.experiments import gates as gates_study
    from fusionlab.experiments import gates_compare
    from fusionlab.jobs import JobsOutcome
    monkeypatch.setattr(gates_compare, "run_jobs", lambda jobs, *a, **k: JobsOutcome([None] * len(jobs), 0, [], True))
    res = gates_compare.run(gates_study.DEFAULT, ablation=True)
    assert res.stopped and res.tables["comparison"].empty and res.findings == []


def test_over_seeds_gives_mean_sd_and_the_paired_difference():
    from fusionlab.experiments.gates_compare import comparison_findings, over_seeds
    rows = pd.DataFrame([{"method": m, "seed": s, "accuracy": acc, "macro_f1": acc, "params": 10}
                         for s, (a, b) in enumerate(((0.8, 0.7), (0.9, 0.82), (0.85, 0.74)))
                         for m, acc in (("vgmr", a), ("sum", b))])
    t = over_seeds(rows, "vgmr", "transformer").set_index("method")
    assert t.loc["sum", "accuracy"] == pytest.approx((0.7 + 0.82 + 0.74) / 3)
    assert t.loc["sum", "accuracy_sd"] == pytest.approx(pd.Series([0.7, 0.82, 0.74]).std())
    assert t.loc["sum", "accuracy_vs_vgmr"] == pytest.approx((-0.1 - 0.08 - 0.11) / 3)
    assert t.loc["sum", "accuracy_vs_vgmr_hi"] < 0 and pd.isna(t.loc["vgmr", "accuracy_vs_vgmr"])
    (f,) = comparison_findings(rows, "vgmr", "transformer")
    assert f.verdict == "holds" and "3 seeds" in f.evidence


def test_infer_latency_is_positive(trained, synth_seq):
    assert infer_ms_per_batch(trained, synth_seq.test, 16, repeats=3) > 0


def test_cli_vgmr_writes_the_three_tables(tmp_path, capsys):
    out = tmp_path / "v"
    code = main(["vgmr", "--dataset", "synthetic", "--samples", "160", "--seq-len", "4", "--epochs", "1",
                 "--seeds", "2", "--out", str(out)])
    assert code == 0
    stats = pd.read_csv(out / "gate_stats.csv")
    assert list(stats.columns) == ["modality", "condition"] + [c for s in STATS for c in (s, f"{s}_sd")] + [
        "channel_value_saturation", "layernorm_erased_share", "seeds", "samples"]
    assert set(stats["condition"]) == {"clean", "corrupted"} and len(stats) == 6
    assert (stats["seeds"] == 2).all()  # §4.4 over every seed's VGMR
    assert stats["channel_value_saturation"].between(0, 1).all() and stats["layernorm_erased_share"].between(0, 1).all()
    summary = pd.read_csv(out / "robustness_summary.csv")
    assert set(summary["sweep"]) == {"ratio", "weight"} and len(summary) == 2 * 2 * 2
    assert summary.loc[summary.method == "concat", "effective_robustness"].isna().all()
    removal = pd.read_csv(out / "removal.csv")
    assert set(removal["method"]) == {"vgmr", "concat"}
    rob = pd.read_csv(out / "robustness.csv")
    assert set(rob["seed"]) == {0, 1} and set(rob["method"]) == {"vgmr", "concat"}
    assert "whole curve" in capsys.readouterr().out


def test_cli_compare_with_ablation(tmp_path):
    out = tmp_path / "c"
    code = main(["compare", "--dataset", "synthetic", "--samples", "160", "--seq-len", "3", "--epochs", "1",
                 "--seeds", "2", "--ablation", "--out", str(out)])
    assert code == 0
    cmp = pd.read_csv(out / "comparison.csv")
    assert {"method", "backbone", "seeds", "accuracy", "accuracy_sd", "macro_f1", "macro_f1_sd", "params",
            "train_s_per_epoch", "infer_ms_per_batch", "accuracy_vs_vgmr"} <= set(cmp.columns)
    assert {"vgmr", "transformer", "sum", "tensor", "concat_mlp", "gated", "cross_attention"} == set(cmp["method"])
    assert (cmp["backbone"] == "transformer").all() and (cmp["seeds"] == 2).all()
    assert len(pd.read_csv(out / "comparison_seeds.csv")) == 7 * 2
    abl = pd.read_csv(out / "ablation.csv")
    assert len(abl) == 7 and abl["method"].iloc[0] == "full VGMR" and (abl["seeds"] == 2).all()


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    code = main(["vgmr", "--dataset", "synthetic", "--informativeness", "0.5", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "informativeness" in err and "\n" not in err


def test_a_model_without_a_post_gate_layernorm_erases_nothing(synth_seq, trained):
    model = build_model(synth_seq.shapes(), synth_seq.n_classes,
                        backbone_config("concat", VGMRConfig(d=8, norm="pre-gate")), seed=0)
    stats = summarise_samples(gate_samples(model, synth_seq, 0.3))
    assert (stats["layernorm_erased_share"] == 0).all()
    assert (summarise_samples(gate_samples(trained, synth_seq, 0.3))["layernorm_erased_share"] > 0).all()
