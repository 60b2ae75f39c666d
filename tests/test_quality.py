"""Frozen experts, quality scores and positive controls (docs/methods.md, reliability permutation test, the reliability paper)."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.special import softmax

from fusionlab.data.dataset import Split
from fusionlab.experts import EXPERTS, ExpertConfig, expert_logits, fit_experts, flatten
from fusionlab.noise import RowCorruption, corrupt_rows
from fusionlab.diagnostics.quality import (CONTROLS, QUALITY, QualityConfig, control_target, quantile_scale,
                                           real_scores, score)


@pytest.fixture(scope="module")
def bank(synth):
    return fit_experts(synth, ExpertConfig(oof_folds=3))


@pytest.mark.parametrize("name", [n for n in QUALITY.names() if n != "user"])  # user: your outputs' own Q
def test_scores_lie_in_unit_interval(bank, name):
    s = score(name, bank)
    assert s.control == (name in CONTROLS)
    for split in ("train", "test"):
        assert s.q[split].shape == (len(bank.y[split]), len(bank.names))
        assert (s.q[split] >= 0).all() and (s.q[split] <= 1).all()


def test_quantile_scale_maps_train_q05_q95_to_0_1():
    train = np.random.default_rng(0).normal(size=(1000, 2)) * [1, 10]
    scaled = quantile_scale(train, train)
    assert np.isclose((scaled == 0).mean(0), 0.05, atol=0.01).all()
    assert np.isclose((scaled == 1).mean(0), 0.05, atol=0.01).all()
    order = np.argsort(train[:, 1])
    assert (np.diff(scaled[order, 1]) >= 0).all()  # monotone


@pytest.mark.parametrize("kind", EXPERTS.names())
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_experts_use_train_rows_only(synth, kind):
    cfg = ExpertConfig(kind=kind, oof_folds=0, max_iter=200)
    a = fit_experts(synth, cfg)
    y = synth.test.y
    flipped = replace(synth, test=Split(synth.test.xs, (y + 1) % synth.n_classes, synth.test.index))
    b = fit_experts(flipped, cfg)
    np.testing.assert_array_equal(a.logits["test"], b.logits["test"])
    assert (a.correct("test") != b.correct("test")).any()


def test_out_of_fold_train_outputs_are_not_in_sample(synth, bank):
    in_sample = fit_experts(synth, ExpertConfig(oof_folds=0))
    np.testing.assert_array_equal(in_sample.logits["test"], bank.logits["test"])
    assert not np.allclose(in_sample.logits["train"], bank.logits["train"])
    assert bank.correct("train").mean() <= in_sample.correct("train").mean()


def test_aligned_control_follows_fidelity(bank):
    perfect = score("control-aligned", bank, QualityConfig(fidelity=1.0))
    np.testing.assert_array_equal(perfect.q["test"], bank.correct("test"))
    cors = []
    for f in (0.0, 0.5, 1.0):
        q = score("control-aligned", bank, QualityConfig(fidelity=f)).q["test"].ravel()
        cors.append(np.corrcoef(q, bank.correct("test").ravel())[0, 1])
    assert cors[0] < cors[1] < cors[2]


def test_corruption_control_breaks_one_expert(bank):
    s = score("control-corruption", bank, QualityConfig(rate=0.4))
    j = control_target(bank, QualityConfig())
    others = [m for m in range(len(bank.names)) if m != j]
    assert (s.q["test"][:, others] == 1).all()
    hit = s.q["test"][:, j] == 0
    assert 0 < hit.mean() < 1
    wrong = s.logits["test"][hit, j].argmax(-1) != bank.y["test"][hit]
    assert wrong.all()
    np.testing.assert_array_equal(s.logits["test"][~hit], bank.logits["test"][~hit])


def test_pca_score_drops_on_corrupted_rows(synth):
    name = synth.modality_names[0]
    data = corrupt_rows(synth, RowCorruption(modality=name, fraction=0.5, seed=0))
    sev = data.test.extras[f"severity_{name}"]
    assert 0.2 < (sev > 0).mean() < 0.8 and (data.train.extras[f"severity_{name}"] > 0).any()
    other = synth.modality_names[1]
    assert torch.equal(data.test.xs[other], synth.test.xs[other])
    bank = fit_experts(data, ExpertConfig(oof_folds=3))
    q = score("pca-recon", bank).q["test"][:, 0]
    assert q[sev > 0].mean() < q[sev == 0].mean()


def test_corrupt_rows_rejects_unknown_modality(synth):
    with pytest.raises(ValueError, match="nope"):
        corrupt_rows(synth, RowCorruption(modality="nope", fraction=0.5))
    assert corrupt_rows(synth, RowCorruption()) is synth


def test_real_scores_exclude_controls_and_the_users_own():
    assert set(real_scores()) | set(CONTROLS) | {"user"} == set(QUALITY.names())
    assert "user" not in real_scores()
    assert not set(real_scores()) & set(CONTROLS)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", EXPERTS.names())
def test_expert_logits_match_predict_proba(synth, kind):
    cfg = ExpertConfig(kind=kind, oof_folds=0, max_iter=200)
    b = fit_experts(synth, cfg)
    name = b.names[0]
    x = flatten(synth.test.xs[name])
    np.testing.assert_allclose(softmax(expert_logits(b.models[name], x, b.n_classes), -1),
                               b.models[name].predict_proba(x), atol=1e-8)


def test_generator_corruption_is_excluded_from_the_clean_rows_the_pca_fits():
    """Rows the synthetic generator corrupted are not 'clean', also after selecting views."""
    from fusionlab.data import SyntheticConfig, make_synthetic, prepare
    ds = make_synthetic(SyntheticConfig(n_samples=300, n_modalities=3, dim=8, seed=0, corrupt_fraction=0.5))
    data = prepare(ds.select(["m3", "m1"]))
    bank = fit_experts(data, ExpertConfig(oof_folds=3))
    for j, k in enumerate(bank.names):
        hit = data.train.extras[f"severity_{k}"] > 0
        assert hit.any()
        np.testing.assert_array_equal(bank.clean["train"][:, j], ~hit)


def test_pca_errors_of_train_rows_are_out_of_fold(bank):
    """In-sample PCA errors are biased low; out-of-fold train errors sit near the test errors."""
    from fusionlab.diagnostics.quality import _fit_pca, _recon_error, pca_errors
    cfg = QualityConfig()
    err = pca_errors(bank, cfg)
    for j, k in enumerate(bank.names):
        insample = _recon_error(_fit_pca(bank.x["train"][k], cfg), bank.x["train"][k]).mean()
        assert err["train"][:, j].mean() > insample


def test_user_score_exists_only_with_your_outputs(bank):
    with pytest.raises(ValueError, match="Q given with your outputs"):
        score("user", bank)
