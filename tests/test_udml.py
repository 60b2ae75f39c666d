"""UDML (the UDML paper): model, training noise, schedule, diagnostics, figures and the CLI twin."""
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from fusionlab.cli import main
from fusionlab.data import SyntheticConfig, make_synthetic, prepare
from fusionlab.diagnostics import udml as diag
from fusionlab.figures import udml as figs
from fusionlab.experiments import udml as study_mod
from fusionlab.models.udml import VARIANTS, UDMLConfig, build_udml, kl_to_prior, udml_loss
from fusionlab.models.udml_schedule import NoiseSchedule, add_intensity_noise, draw_intensities
from fusionlab.objectives import UDMLObjective
from fusionlab.train import TrainConfig, fit

UDMLTrainConfig = NoiseSchedule  # the schedule's fields (the training ones are TrainConfig's)


def fit_udml(model, data, epochs=3, clean_epochs=1, weight_delay=10, batch_size=64, callback=None, **schedule):
    """UDML's training through the one engine: TrainConfig + UDMLObjective."""
    return fit(model, data, TrainConfig(epochs=epochs, batch_size=batch_size, patience=None, keep="last"),
               UDMLObjective(NoiseSchedule(clean_epochs=clean_epochs, weight_delay=weight_delay, **schedule)), callback)


def train_study(data, model_cfg, epochs=3, clean_epochs=1, weight_delay=0, methods=(), seeds=(0, 1), callback=None):
    cfg = study_mod.UDMLStudyConfig(model=model_cfg, train=TrainConfig(epochs=epochs, patience=None, keep="last",
                                                                       seed=seeds[0]),
                                    schedule=NoiseSchedule(clean_epochs=clean_epochs, weight_delay=weight_delay),
                                    seeds=len(seeds), methods=tuple(methods))
    progress = None if callback is None else (lambda f, m, epoch=None: callback(epoch))
    return study_mod.train_study(data, cfg, progress)


@pytest.fixture(scope="module")
def data():
    return prepare(make_synthetic(SyntheticConfig(n_samples=200, n_modalities=2, dim=6, seed=3,
                                                  informativeness=(0.5, 0.9), xor_modalities=(1,))))


@pytest.fixture(scope="module")
def study(data):
    return train_study(data, UDMLConfig(enc_dim=8, head_hidden=8), epochs=3, clean_epochs=1, weight_delay=0,
                       seeds=(0, 1))


def _batch(data, n=16):
    return {k: v[:n] for k, v in data.train.xs.items()}


def test_methods_registered():
    assert set(VARIANTS.names()) == {"static", "pe", "udml_no_alpha", "udml"}


@pytest.mark.parametrize("method", VARIANTS.names())
def test_forward_returns_named_extras_and_weights_sum_to_m(data, method):
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(method=method, enc_dim=8), seed=0).eval()
    out = model(_batch(data))
    m = len(data.modality_names)
    for key in ("intensity", "variance", "weights", "alpha"):
        assert out.extras[key].shape == (16, m), key
    for k in data.modality_names:
        assert out.extras[f"mu/{k}"].shape == out.extras[f"logvar/{k}"].shape == (16, 1, 8)
    torch.testing.assert_close(out.extras["weights"].sum(dim=1), torch.full((16,), float(m)))
    assert [k for k, v in vars(model).items() if torch.is_tensor(v)] == []  # nothing stashed on self


def test_static_weights_are_one_and_dynamic_ones_are_not(data):
    xs = add_intensity_noise(_batch(data), torch.tensor([[1.0, 11.0]] * 16), torch.Generator().manual_seed(0),
                             data.stats, UDMLTrainConfig())
    static = build_udml(data.shapes(), data.n_classes, UDMLConfig(method="static"), seed=0).eval()
    assert torch.equal(static(xs).extras["weights"], torch.ones(16, 2))
    pe = build_udml(data.shapes(), data.n_classes, UDMLConfig(method="pe"), seed=0).eval()
    assert not torch.allclose(pe(xs).extras["weights"], torch.ones(16, 2))


@pytest.mark.parametrize("alpha_in_warmup", [False, True])
def test_schedule_leaves_the_estimate_out_of_training_weights_until_e1_plus_delay(data, alpha_in_warmup):
    """Before E1 + delay: weights 1, or (the authors) the per-modality 1/alpha weights, the same for
    every sample; afterwards per-sample weights from the estimate."""
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(method="udml", enc_dim=8,
                                                                 alpha_in_warmup=alpha_in_warmup), seed=0)
    seen = []

    def cb(info):
        model.train()
        seen.append((info.epoch, bool(model.weights_on), model(_batch(data)).extras["weights"].clone(),
                     model.alpha.clone()))

    fit_udml(model, data, epochs=5, clean_epochs=1, weight_delay=2, batch_size=64, callback=cb)
    for epoch, on, w, alpha in seen:
        assert on == (epoch > 3)
        if on:
            assert not torch.allclose(w, w[:1].expand_as(w))  # per sample
        elif alpha_in_warmup:
            inv = 1 / alpha
            torch.testing.assert_close(w, (2 * inv / inv.sum()).expand_as(w))
        else:
            assert torch.equal(w, torch.ones_like(w))
    model.eval()
    model.weights_on.fill_(False)  # evaluation always computes the weights
    assert not torch.equal(model(_batch(data)).extras["weights"], torch.ones(16, 2))


def test_intensity_one_is_clean_and_half_the_rows_are_clean(data):
    xs = _batch(data)
    same = add_intensity_noise(xs, torch.ones(16, 2), torch.Generator().manual_seed(0), data.stats, UDMLTrainConfig())
    assert all(torch.equal(same[k], xs[k]) for k in xs)
    t = draw_intensities(4000, 2, torch.Generator().manual_seed(1), 11, 0.5)
    assert t.min() == 1 and t.max() == 11 and torch.equal(t, t.round())
    all_clean = (t == 1).all(dim=1).float().mean()
    assert 0.45 < all_clean < 0.6  # half reset, plus the rare rows that drew 1 twice
    with pytest.raises(ValueError, match="intensity labels"):
        add_intensity_noise(xs, torch.ones(16, 3), torch.Generator(), data.stats, UDMLTrainConfig())


@pytest.mark.parametrize("mapping, expected_sd", [("variance", lambda t: t ** 0.5 if t > 1 else 0.0),
                                                   ("sd", lambda t: t if t > 1 else 0.0),
                                                   ("linear", lambda t: 0.3 * (t - 1))])
def test_intensity_noise_has_the_mapped_scale(data, mapping, expected_sd):
    """UDML_docs/methods.md, UDML: intensity t adds noise N(0, t) in train sd (t = 1 clean); 'sd' and 'linear' are options."""
    cfg = UDMLTrainConfig(intensity_map=mapping, level_scale=0.3 if mapping == "linear" else 1.0)
    xs = {k: v.repeat(20, 1, 1) for k, v in data.train.xs.items()}  # enough entries for a stable sd
    n = len(next(iter(xs.values())))
    for t in (1.0, 2.0, 6.0, 11.0):
        noisy = add_intensity_noise(xs, torch.full((n, 2), t), torch.Generator().manual_seed(0), data.stats, cfg)
        for k in xs:
            sd = ((noisy[k] - xs[k]) / data.stats[k].std).std().item()
            assert sd == pytest.approx(expected_sd(t), rel=0.05, abs=1e-6), (mapping, t, k)
    with pytest.raises(ValueError, match="intensity map"):
        add_intensity_noise(xs, torch.full((n, 2), 3.0), torch.Generator(), data.stats,
                            UDMLTrainConfig(intensity_map="cubic"))


def test_weights_follow_the_formula(data):
    """w_m = M (1/(s_m^2 a_m)) / sum_k 1/(s_k^2 a_k) for udml; without alpha for udml_no_alpha."""
    for method, use_alpha in (("udml", True), ("udml_no_alpha", False)):
        model = build_udml(data.shapes(), data.n_classes, UDMLConfig(method=method, enc_dim=8), seed=0).eval()
        model.alpha_sum.copy_(torch.tensor([0.5, 2.0]))
        model.alpha_count.fill_(1)
        out = model(_batch(data))
        s, a = out.extras["intensity"], out.extras["alpha"]
        inv = 1.0 / (s ** 2 * (a if use_alpha else torch.ones_like(a)))
        torch.testing.assert_close(out.extras["weights"], 2 * inv / inv.sum(dim=1, keepdim=True))


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    t = torch.tensor([1.0, 4.0, 11.0])
    mu = torch.zeros(3, 2, 5)
    logvar = torch.log(t).view(3, 1, 1).expand(3, 2, 5)
    torch.testing.assert_close(kl_to_prior(mu, logvar, t), torch.zeros(3))
    assert (kl_to_prior(mu + 0.5, logvar, t) > 0).all()
    assert (kl_to_prior(mu, logvar + 0.3, t) > 0).all()


@pytest.mark.parametrize("grad", ["detach", "keep"])
def test_predictor_learns_from_the_task_only_when_its_gradient_is_kept(data, grad):
    """intensity_grad="detach": the predictor learns only from its MSE; "keep" (the authors): the task
    loss reaches it through the weights. Its input (sigma) is detached either way."""
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(method="udml", enc_dim=8, intensity_grad=grad),
                       seed=0).train()
    model.weights_on.fill_(True)
    out = model(_batch(data))
    torch.nn.functional.mse_loss(out.extras["intensity"], torch.full((16, 2), 3.0)).backward()
    assert all(p.grad is None or not p.grad.any() for p in model.encoders.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.predictors.parameters())
    model.zero_grad(set_to_none=True)
    out = model(_batch(data))
    loss, _ = udml_loss(model, out, data.train.y[:16], torch.ones(16, 2))
    (loss - 0.1 * torch.nn.functional.mse_loss(out.extras["intensity"], torch.ones(16, 2))).backward()
    reached = any(p.grad is not None and p.grad.any() for p in model.predictors.parameters())
    assert reached == (grad == "keep")
    assert any(p.grad is not None and p.grad.any() for p in model.encoders.parameters())


def test_alpha_is_a_running_mean_in_both_modes(data, study):
    for (method, _), model in study.models.items():
        assert int(model.alpha_count) > 0 and (model.alpha > 0).all(), method
    acc_model = build_udml(data.shapes(), data.n_classes, UDMLConfig(alpha_mode="accuracy", enc_dim=8), seed=0)
    fit_udml(acc_model, data, epochs=1, clean_epochs=0)
    assert (acc_model.alpha >= acc_model.cfg.alpha_floor).all()
    with pytest.raises(ValueError, match="alpha_mode"):
        build_udml(data.shapes(), data.n_classes, UDMLConfig(alpha_mode="dropout"))


def test_same_seed_same_numbers(data, study):
    again = train_study(data, UDMLConfig(enc_dim=8, head_hidden=8), epochs=3, clean_epochs=1, weight_delay=0,
                        seeds=(0, 1))
    pd.testing.assert_frame_equal(diag.accuracy_table(study), diag.accuracy_table(again))
    pd.testing.assert_frame_equal(diag.alpha_table(study), diag.alpha_table(again))


def test_diagnostics_tables(study, data):
    resp = diag.study_response(study)
    assert set(resp["method"]) == {"pe", "udml_no_alpha", "udml"}
    assert sorted(resp["injected"].unique()) == list(range(1, 12))
    spear = diag.spearman_table(resp)
    assert spear["spearman"].between(-1, 1).all()
    levels = diag.per_sample_levels(len(data.test), {"m1": 2.0}, 0)
    w = diag.sample_weights(study, "udml", 0, levels)
    np.testing.assert_allclose(w.groupby("row")["weight"].sum(), 2.0, rtol=1e-5)
    assert w.loc[w["modality"] == "m2", "injected"].eq(0).all() and w["injected"].le(2.0).all()
    full = diag.accuracy_table(study, levels)  # the live view's lighter table gives the same column
    light = diag.current_accuracy(study, levels)
    pd.testing.assert_frame_equal(light, full[["method", "seed", "current"]])
    assert not light["current"].equals(diag.current_accuracy(study, {"m1": torch.full((len(data.test),), 9.0)})["current"])
    rob = diag.robustness_table(study, [0.0, 1.0])
    assert set(rob["condition"]) == {"m1", "m2", "all"} and rob["accuracy"].between(0, 1).all()


def _response(method, slope):
    t = np.repeat(np.arange(1, 12), 5)
    return pd.DataFrame({"method": method, "modality": "m1", "injected": t, "predicted": slope * t, "seed": 0})


def test_monotonicity_finding_follows_the_numbers():
    up, down = _response("udml", 1.0), _response("pe", -1.0)
    spear = diag.spearman_table(pd.concat([up, down]))
    assert spear.set_index("method")["spearman"].to_dict() == pytest.approx({"udml": 1.0, "pe": -1.0})
    assert diag.monotonicity_finding(spear).holds is True
    both = diag.spearman_table(pd.concat([up, _response("pe", 2.0)]))
    f = diag.monotonicity_finding(both)
    assert f.holds is False and f.verdict == "does not hold"


def test_suppression_findings_follow_the_numbers():
    one = pd.DataFrame({"method": ["static", "pe", "udml"], "seed": 0, "clean": [0.8, 0.7, 0.85],
                        "noisy": [0.6, 0.65, 0.5], "weight/m2": [1.0, 0.6, 1.2]})
    assert all(f.verdict == "cannot tell" for f in diag.suppression_findings(one, "m2"))  # one seed: no interval
    acc = pd.concat([one, one.assign(seed=1), one.assign(seed=2)], ignore_index=True)
    for col, eps in (("clean", 0.01), ("noisy", 0.01), ("weight/m2", 0.02)):  # the same gaps, a little spread
        acc.loc[acc["seed"] == 1, col] += eps * np.array([1, 0, -1])
        acc.loc[acc["seed"] == 2, col] -= eps * np.array([0, 1, 1])
    res = {f.claim: f.holds for f in diag.suppression_findings(acc, "m2")}
    assert res["PE falls below static fusion (clean test)"] is True
    assert res["PE falls below static fusion (test with training-like random noise)"] is False
    assert res["UDML does not fall below static fusion (test with training-like random noise)"] is False
    assert res["PE suppresses the hard modality 'm2' on clean inputs; UDML less so"] is True


def test_a_gap_within_the_seed_spread_is_not_judged():
    # three seeds: UDML_docs/methods.md, corruptions and robustness's 95% t interval over two seeds (t = 12.7) would call even a 0.24 gap a tie
    acc = pd.DataFrame({"method": ["static"] * 3 + ["pe"] * 3 + ["udml"] * 3, "seed": [0, 1, 2] * 3,
                        "clean": [0.80, 0.90, 0.85, 0.84, 0.84, 0.84, 0.60, 0.62, 0.61], "noisy": [0.5] * 9})
    res = {f.claim: f for f in diag.suppression_findings(acc)}
    tie = res["PE falls below static fusion (clean test)"]
    assert tie.holds is None and tie.verdict == "cannot tell"  # 0.84 vs 0.85 with a seed sd of 0.05
    assert res["UDML does not fall below static fusion (clean test)"].holds is False


def test_figures_draw_data_and_say_when_empty(study, data):
    resp = diag.study_response(study)
    spear = diag.spearman_table(resp)
    levels = diag.per_sample_levels(len(data.test), {"m1": 1.0, "m2": 1.0}, 0)
    built = [figs.estimator_figure(resp, spear), figs.weights_figure(diag.sample_weights(study, "udml", 0, levels)),
             figs.alpha_figure(diag.alpha_table(study)),
             figs.robustness_methods_figure(diag.robustness_table(study, [0.0, 1.0]))]
    for f in built:
        assert isinstance(f, go.Figure) and len(f.data) > 0
    assert "ρ=" in "".join(t.name for t in built[0].data if t.name)
    assert figs.weights_figure(pd.DataFrame()).layout.annotations


def test_xor_modality_is_informative_but_not_linearly(data):
    ds = make_synthetic(SyntheticConfig(n_samples=2000, n_modalities=2, informativeness=(0.9, 0.9), xor_modalities=(1,)))
    y = ds.labels

    def gap(x):
        return np.abs(x[y == 0].mean(axis=(0, 1)) - x[y == 1].mean(axis=(0, 1)))[1:].max()
    assert gap(ds.modalities["m1"]) > 0.5 and gap(ds.modalities["m2"]) < 0.15
    x2 = ds.modalities["m2"]
    decoded = x2 * np.sign(x2[:, :, :1])
    assert gap(decoded) > 0.5
    with pytest.raises(ValueError, match="xor_modalities"):
        make_synthetic(SyntheticConfig(n_modalities=2, xor_modalities=(2,)))


def test_cli_writes_every_file_with_the_right_columns(tmp_path):
    out = tmp_path / "run"
    assert main(["udml", "--dataset", "synthetic", "--samples", "200", "--epochs", "2", "--seeds", "1",
                 "--clean-epochs", "1", "--out", str(out)]) == 0
    est = pd.read_csv(out / "estimator.csv")
    assert {"method", "modality", "injected", "predicted"} <= set(est.columns)
    assert {"method", "seed", "row", "modality", "injected", "weight"} <= set(pd.read_csv(out / "weights.csv").columns)
    assert {"method", "seed", "condition", "level", "accuracy"} <= set(pd.read_csv(out / "robustness.csv").columns)
    alpha = json.loads((out / "alpha.json").read_text())
    assert set(alpha["alpha"]) == set(VARIANTS.names())
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["spearman"]) == {"pe", "udml_no_alpha", "udml"}
    assert set(summary["spearman"]["udml"]) == {"m1", "m2"}
    assert {"clean", "noisy"} <= set(summary["accuracy"]["static"])
    assert summary["findings"] and all("holds" in f for f in summary["findings"])
    assert set(summary["oracle_spearman"]) == {"m1", "m2"} and "oracle" in set(est["method"])
    assert summary["weights"]["static"] == {"m1": 1.0, "m2": 1.0}
    uni = pd.read_csv(out / "unimodal.csv")
    assert set(uni["epoch"]) == {1, 2} and set(uni["modality"]) == {"m1", "m2"} and uni["accuracy"].between(0, 1).all()


def test_the_oracle_reads_the_input_energy_and_tracks_variance_noise(data):
    """The ceiling: under gaussian noise the noisy input's energy rises with t for every sample (same
    draws scaled), so its per-sample Spearman is high; it needs no model."""
    resp = diag.oracle_response(data, NoiseSchedule(), seed=0)
    assert set(resp["method"]) == {"oracle"} and set(resp["injected"]) == set(range(1, 12))
    rho = diag.spearman_table(resp).set_index("modality")["spearman"]
    assert (rho > 0.5).all()
    x1 = data.test.xs["m1"]
    clean = resp[(resp["modality"] == "m1") & (resp["injected"] == 1)]["predicted"].to_numpy()
    np.testing.assert_allclose(clean, x1.pow(2).flatten(1).sum(1).numpy(), rtol=1e-5)  # t = 1 is clean


def test_ties_at_a_ceiling_with_zero_spread_cannot_tell():
    acc = pd.DataFrame({"method": ["static", "pe", "udml"] * 3, "seed": [0, 0, 0, 1, 1, 1, 2, 2, 2], "clean": 1.0,
                        "noisy": 1.0, "weight/m2": 1.0})
    for f in diag.suppression_findings(acc, "m2"):
        assert f.verdict == "cannot tell", f.line()


def test_cli_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    assert main(["udml", "--hard", "m7", "--out", str(tmp_path / "x")]) == 2
    assert "--hard" in capsys.readouterr().err


def test_study_progress_names_each_run_and_counts_the_whole_study(data):
    infos = []
    train_study(data, UDMLConfig(enc_dim=8, head_hidden=8), epochs=2, clean_epochs=1, weight_delay=0,
                methods=["static", "udml"], seeds=(0, 1), callback=infos.append)
    assert [i.run for i in infos] == [f"{m}, seed {s}" for m in ("static", "udml") for s in (0, 1) for _ in range(2)]
    assert [i.epoch for i in infos] == [1, 2] * 4 and {i.epochs for i in infos} == {2}  # each run's own epochs
    overall = [i.overall for i in infos]
    assert overall == sorted(overall) and overall[-1] == 1.0 and overall[0] == 1 / 8


def test_a_hard_modality_weight_within_its_spread_of_the_equal_share_is_not_judged():
    acc = pd.DataFrame({"method": ["static", "pe", "udml"] * 2, "seed": [0, 0, 0, 1, 1, 1], "clean": 0.8,
                        "noisy": 0.6, "weight/m2": [1.0, 0.97, 1.3, 1.0, 1.02, 1.4]})  # PE 0.995 ± 0.025
    (f,) = [f for f in diag.suppression_findings(acc, "m2") if "suppresses" in f.claim]
    assert f.holds is None and f.verdict == "cannot tell"
    acc["weight/m2"] = [1.0, 0.6, 1.3, 1.0, 0.62, 1.4]  # PE clearly below 1, UDML clearly above PE
    (f,) = [f for f in diag.suppression_findings(acc, "m2") if "suppresses" in f.claim]
    assert f.holds is True


def test_alpha_step_keeps_the_last_measurement_running_averages(data):
    probe_a, probe_b = torch.ones(4, 2, 3), 3 * torch.ones(4, 2, 3)
    for update, expected in (("step", 9.0), ("running", 6.0)):  # sum_c |logit| = 3 then 9
        model = build_udml(data.shapes(), data.n_classes, UDMLConfig(alpha_update=update, enc_dim=8), seed=0)
        y = torch.zeros(4, dtype=torch.long)
        model.update_alpha(probe_a, probe_a[:, 0], y)
        model.update_alpha(probe_b, probe_b[:, 0], y)
        torch.testing.assert_close(model.alpha, torch.full((2,), expected))


def test_fixed_labels_are_drawn_once_per_training_sample(data):
    for labels in ("fixed", "redrawn"):
        obj = UDMLObjective(NoiseSchedule(clean_epochs=0, labels=labels))
        model = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8), seed=0)
        obj.start(model, data, torch.Generator().manual_seed(0))
        rows = torch.arange(20)
        xs = {k: v[rows] for k, v in data.train.xs.items()}
        t1 = obj.batch(xs, data.train.y[rows], rows, 1)[1]
        t2 = obj.batch(xs, data.train.y[rows], rows, 2)[1]
        assert torch.equal(t1, t2) == (labels == "fixed"), labels
        if labels == "fixed":
            assert torch.equal(obj.batch(xs, data.train.y[rows], rows.flip(0), 3)[1], t1.flip(0))


@pytest.mark.parametrize("source", ["sigma", "mu", "x"])
def test_estimator_input_is_what_the_predictor_reads(data, source):
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, estimator_input=source), seed=0).eval()
    first = next(iter(model.predictors.values()))[0]
    assert first.in_features == (data.shapes()["m1"][1] if source == "x" else 8)
    xs = _batch(data)
    out = model(xs)
    mu, logvar = model.encoders["m1"](xs["m1"])
    read = {"sigma": (0.5 * logvar).exp(), "mu": mu, "x": xs["m1"]}[source].mean(1)
    torch.testing.assert_close(out.extras["intensity"][:, 0],
                               torch.exp(0.5 * model.predictors["m1"](read).squeeze(-1)))


def test_shared_aux_heads_are_the_fusion_head_with_the_others_zeroed(data):
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, aux_heads="shared"), seed=0).eval()
    assert model.unimodal is None
    xs = _batch(data)
    out = model(xs)
    w = out.extras["weights"]
    hs = [model.encoders[k](xs[k])[0] for k in model.names]
    kept = [hs[0] * (1 + w[:, 0, None, None]), torch.zeros_like(hs[1])]
    torch.testing.assert_close(out.extras["unimodal/m1"], model.head(model.fusion(kept).fused))


def test_a_finding_under_an_unseen_test_noise_says_so():
    spear = pd.DataFrame({"method": ["udml", "pe"], "modality": "m1", "seed": 0, "spearman": [0.5, 0.1],
                          "monotone": [True, False]})
    assert "never seen in training" in diag.monotonicity_finding(spear, "mix").claim
    assert "never seen" not in diag.monotonicity_finding(spear).claim
    assert "drop" not in study_mod.TEST_NOISES  # on/off: every t >= 2 would give the same input


def test_the_premise_of_dual_suppression_is_checked_on_the_run_and_says_why_when_it_fails():
    """The page's story (α protects a hard modality the model depends on less) is a computed finding: a run where
    the hard modality got the larger α says the story does not apply (issue 33: m2 had α 1.3 vs 0.7)."""
    from fusionlab.diagnostics.udml import premise_finding
    rows = [{"method": "udml", "seed": s, "modality": m, "alpha": a}
            for s in range(3) for m, a in (("m1", 0.7 + 0.01 * s), ("m2", 1.3 - 0.01 * s))]
    f = premise_finding(pd.DataFrame(rows), "m2")[0]
    assert f.verdict == "does not hold" and "does not apply" in f.evidence
    flipped = pd.DataFrame(rows).assign(modality=lambda d: d["modality"].map({"m1": "m2", "m2": "m1"}))
    g = premise_finding(flipped, "m2")[0]
    assert g.verdict == "holds" and "does not apply" not in g.evidence
    assert premise_finding(pd.DataFrame(rows), None) == []


def test_a_modality_s_estimate_alone_is_what_the_full_forward_gives_it():
    """``UDMLModel.estimate`` (the sweep's shortcut: one encoder and predictor) against the whole model's extras."""
    import torch

    from fusionlab.models.udml import UDMLConfig, UDMLModel
    from fusionlab.train import predict
    model = UDMLModel({"a": (4, 6), "b": (1, 3)}, 3, UDMLConfig(method="udml"))
    model.train()  # estimate() evaluates whatever mode the model is in, and leaves it so
    xs = {"a": torch.randn(20, 4, 6), "b": torch.randn(20, 1, 3)}
    full = predict(model, xs).extras
    for m, k in enumerate(("a", "b")):
        alone = model.estimate(k, xs[k])
        assert torch.allclose(alone["intensity"], full["intensity"][:, m], atol=1e-6)
        assert torch.allclose(alone["variance"], full["variance"][:, m], atol=1e-6)
    assert model.training


def test_the_noise_mse_is_averaged_or_summed_over_modalities_as_the_option_says(data):
    """``mse_reduction``: mean (ours) over samples and modalities; sum (the authors' code) of each modality's mean."""
    import torch

    from fusionlab.models.udml import UDMLConfig, udml_loss
    from fusionlab.train import forward
    t = torch.randint(1, 12, (len(data.train), len(data.modality_names))).float()
    got = {}
    for how in ("mean", "sum"):
        model = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, mse_reduction=how), seed=0).eval()
        out = forward(model, data.train.xs)
        _, parts = udml_loss(model, out, data.train.y, t)
        got[how] = parts["mse"]
        direct = (out.extras["intensity"] - t).pow(2).mean(dim=0)  # (M,): each modality's mean over samples
        assert abs(parts["mse"] - float(direct.sum() if how == "sum" else direct.mean())) < 1e-5
    assert abs(got["sum"] - len(data.modality_names) * got["mean"]) < 1e-4  # M times the weight


def test_exactly_half_the_training_samples_stay_clean_when_the_draw_is_exact():
    """``clean_draw``: ``exact`` (the authors' code) keeps round(p n) rows clean; ``bernoulli`` each with p."""
    import torch

    from fusionlab.models.udml_schedule import draw_intensities
    counts = {"exact": set(), "bernoulli": set()}
    for seed in range(20):
        for how in counts:
            t = draw_intensities(101, 3, torch.Generator().manual_seed(seed), 11, 0.5, exact=how == "exact")
            counts[how].add(int((t == 1).all(dim=1).sum()))
            assert ((t >= 1) & (t <= 11)).all()
    # exact: 50 clean rows by choice, plus the few the uniform draw made all-1 by chance (1 in 11^3 per row)
    assert counts["exact"] <= {50, 51, 52} and len(counts["bernoulli"]) > 3  # the coin varies from draw to draw


def test_the_authors_linear_head_is_one_layer_whose_all_zero_logits_are_its_bias(data):
    import torch

    from fusionlab.models.udml import UDMLConfig
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, head="linear"), seed=0).eval()
    layers = [m for m in model.head if isinstance(m, torch.nn.Module) and list(m.parameters())]
    assert len(layers) == 1 and isinstance(layers[0], torch.nn.Linear)
    zeros = [torch.zeros(3, 1, 8) for _ in model.names]
    assert torch.allclose(model._classify(zeros), layers[0].bias.expand(3, -1))
    xs = {k: v[:5] for k, v in data.train.xs.items()}
    hs = [model.encoders[k](xs[k])[0] for k in model.names]  # each modality's mean embedding
    assert torch.allclose(model._classify(hs), layers[0](model.fusion(hs).fused))  # the logits: that one layer
    mlp = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8), seed=0)
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp.head) == 2  # ours: Linear-ReLU-Dropout-Linear


def test_alpha_starts_at_its_initial_value_until_the_first_measurement(data):
    import torch

    from fusionlab.models.udml import UDMLConfig
    model = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, alpha_init=32.0), seed=0)
    assert torch.equal(model.alpha, torch.full((len(model.names),), 32.0))  # one value for every modality
    each = build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, alpha_init=(32.0, 10.0)), seed=0)
    assert each.alpha.tolist() == [32.0, 10.0]  # the authors': audio 32, video 10
    with pytest.raises(ValueError, match="3 values for 2 modalities"):
        build_udml(data.shapes(), data.n_classes, UDMLConfig(enc_dim=8, alpha_init=(1.0, 2.0, 3.0)), seed=0)
    step = torch.tensor([0.5, 2.0])[:len(model.names)]
    model.update_alpha(step[None, :, None].expand(4, -1, data.n_classes) / data.n_classes, torch.zeros(4, 1),
                       torch.zeros(4, dtype=torch.long))
    assert torch.allclose(model.alpha, step)  # the first measurement replaces it (alpha_update "step")
    with pytest.raises(ValueError, match="alpha_init"):
        UDMLConfig(alpha_init=0.0)


def test_the_authors_noise_units_are_their_sizes_in_train_sd():
    """Their code: audio sd t in spectrogram units, video sd t² in pixel units, pure noise from t = 11; in train sd
    through AUTHORS_UNITS' scales. Each modality's noise is checked against that formula on a large batch."""
    from fusionlab.data.dataset import ModalityStats
    from fusionlab.models.udml_schedule import AUTHORS_UNITS, NoiseSchedule, add_intensity_noise, with_units
    cfg = with_units(NoiseSchedule(), "authors")
    a, v = AUTHORS_UNITS["scales"]
    n = 4000
    stats = {k: ModalityStats(torch.zeros(8), torch.ones(8)) for k in ("audio", "video")}
    for t, sd_a, sd_v in ((1, 0.0, 0.0), (2, 2 * a, 4 * v), (7, 7 * a, 49 * v), (10, 10 * a, 100 * v)):
        xs = {"audio": torch.full((n, 1, 8), 3.0), "video": torch.full((n, 1, 8), 3.0)}
        out = add_intensity_noise(xs, torch.full((n, 2), float(t)), torch.Generator().manual_seed(t), stats, cfg)
        for k, sd in (("audio", sd_a), ("video", sd_v)):
            d = out[k] - 3.0  # noise is added to the signal
            assert abs(float(d.mean())) < 0.05 * max(sd, 0.01) + 1e-6
            assert float(d.std()) == pytest.approx(sd, rel=0.03, abs=1e-6)
    xs = {"audio": torch.full((n, 1, 8), 3.0), "video": torch.full((n, 1, 8), 3.0)}
    out = add_intensity_noise(xs, torch.full((n, 2), 11.0), torch.Generator().manual_seed(0), stats, cfg)
    for k, sd in (("audio", 11 * a), ("video", 121 * v)):  # from t = 11 the signal is gone: the mean is the train mean
        assert abs(float(out[k].mean())) < 0.05 * sd and float(out[k].std()) == pytest.approx(sd, rel=0.03)
    with pytest.raises(ValueError, match="maps give 2 values for 3 modalities"):
        cfg.check_modalities(3)


def test_the_estimator_sweep_replaces_the_input_from_pure_from_on(data):
    """In the sweep, as in training, t >= pure_from is noise alone: the input no longer carries the sample."""
    from fusionlab.models.udml_schedule import NoiseSchedule, with_units
    cfg = with_units(NoiseSchedule(), "authors")
    name = data.modality_names[1]
    below = diag.swept_inputs(data, "test", name, 10, cfg, 0, {})[name]
    pure = diag.swept_inputs(data, "test", name, 11, cfg, 0, {})[name]
    clean = data.test.xs[name]
    corr = lambda a, b: float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])  # noqa: E731
    assert corr(below, clean) > 0.3 and abs(corr(pure, clean)) < 0.2  # added noise of that size: about 0.43
    assert torch.equal(diag.swept_inputs(data, "test", name, 11, cfg, 0, {})[name], pure)  # the same draw again
