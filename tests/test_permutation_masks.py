"""Availability masks through the reliability permutation diagnostic, and the router fix (docs/methods.md, reliability permutation test)."""
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import softmax

from fusionlab.data import DataConfig, SplitConfig, prepare
from fusionlab.experts import fit_experts
from fusionlab.diagnostics.permutation import (RULES, PermutationConfig, broken_q_test, decide, permutation_indices,
                                               weights)
from fusionlab.experiments.permutation_runs import DiagnosticConfig, build_bank
from fusionlab.diagnostics.quality import QualityConfig, score

RNG = np.random.default_rng(0)


def _mask(n=60, m=3, missing=0.3):
    a = RNG.random((n, m)) > missing
    a[~a.any(1), 0] = True  # every row keeps one modality
    return a


@pytest.mark.parametrize("rule", RULES.names())
def test_rules_renormalise_over_the_present_modalities(rule):
    from fusionlab.diagnostics.permutation import Router
    a, q = _mask(), RNG.random((60, 3))
    router = Router(RNG.normal(size=(3, 6)), RNG.normal(size=3))
    w = weights(rule, q, router, present=a)
    assert np.allclose(w.sum(1), 1) and (w[~a] == 0).all() and (w >= 0).all()
    if rule == "noq":
        assert np.allclose(w[a], np.repeat(1 / a.sum(1), a.sum(1)))
    # a missing modality's Q and posterior never matter: scramble them, the decisions stay
    probs = softmax(RNG.normal(size=(60, 3, 4)), -1)
    q2, p2 = q.copy(), probs.copy()
    q2[~a], p2[~a] = RNG.random((~a).sum()), np.nan
    same = [decide(rule, p, qq[:, None], router, PermutationConfig(), a) for p, qq in ((probs, q), (p2, q2))]
    assert np.array_equal(*same)


def test_all_ones_mask_gives_the_unmasked_numbers_and_permutations_stay_among_present_rows():
    a = _mask()
    cfg = PermutationConfig(permutations=30, seed=4)
    perms = permutation_indices(60, 3, cfg, a)  # (K, M, N)
    for j in range(3):
        absent = np.nonzero(~a[:, j])[0]
        assert (perms[:, j, absent] == absent).all()  # a missing row keeps its own Q (0)
        assert a[perms[:, j, a[:, j]], j].all()  # a present row reads a present row's Q
        assert all(sorted(p) == list(range(60)) for p in perms[:, j])
    ones = np.ones((60, 3), bool)
    assert np.array_equal(permutation_indices(60, 3, cfg, ones), permutation_indices(60, 3, cfg))
    joint = permutation_indices(60, 3, replace(cfg, joint=True), a)
    partial = np.nonzero(~a.all(1))[0]
    assert (joint[:, 0, partial] == partial).all()  # a joint permutation moves fully observed rows only


@pytest.fixture(scope="module")
def masked_bank():
    """uci-digits fou, kar, mor with mor missing on 10 % of the rows (every split)."""
    from fusionlab.data import UCIConfig
    data = prepare(DataConfig("uci-digits", UCIConfig(views=("fou", "kar", "mor"))).load(), SplitConfig(seed=0))
    rng = np.random.default_rng(1)
    for part in (data.train, data.val, data.test):
        part.extras["present_mor"] = rng.random(len(part)) >= 0.1
    return data, fit_experts(data)


def test_experts_scores_and_the_test_respect_the_mask(masked_bank):
    data, bank = masked_bank
    gone = ~bank.mask("test")[:, 2]
    assert 0.05 < gone.mean() < 0.15 and bank.mask("test")[:, :2].all()
    assert (bank.logits["test"][gone, 2] == 0).all()  # no output where the modality is missing
    for name in ("max-prob", "pca-recon", "correctness", "control-corruption"):
        s = score(name, bank, QualityConfig(rate=0.5))
        assert (s.q["test"][gone, 2] == 0).all() and s.mask("test") is not None
    scored = score("max-prob", bank)
    every = broken_q_test(scored, bank.y["train"], bank.y["test"], bank.n_classes, PermutationConfig(permutations=20)).table
    full = broken_q_test(scored, bank.y["train"], bank.y["test"], bank.n_classes,
                         PermutationConfig(permutations=20, observed_only=True)).table
    assert (every["n_test"] == len(gone)).all() and (full["n_test"] == (~gone).sum()).all()
    assert np.isclose(every["missing_share"].iloc[0], gone.mean() / 3)


def test_the_router_gains_on_the_corruption_control_like_the_other_rules():
    """Synthetic split 1, rate 0.5: from a start near zero L-BFGS switched the corrupted expert off through
    its bias and the router ignored Q (delta 0.000, p 1.0); it must gain significantly, as the others do."""
    data = prepare(DataConfig("synthetic").load(), SplitConfig(seed=1))
    cfg = DiagnosticConfig(quality=QualityConfig(rate=0.5)).seeded(1)
    cfg = replace(cfg, quality=replace(cfg.quality, rate=0.5))
    bank = build_bank(data, cfg)
    res = broken_q_test(score("control-corruption", bank, cfg.quality), bank.y["train"], bank.y["test"],
                        bank.n_classes, PermutationConfig(permutations=100, seed=1)).table.set_index("rule")
    for rule in ("weighted", "softmax", "route", "moe"):
        assert res.loc[rule, "delta"] > 0.02 and res.loc[rule, "p_value"] <= 0.05, rule
