"""Reliability permutation diagnostic (docs/methods.md, reliability permutation test, the reliability paper): rules, broken-Q test, metrics, CLI."""
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.metrics import balanced_accuracy_score, f1_score

from fusionlab.cli import main
from fusionlab.experts import ExpertConfig, fit_experts
from fusionlab.diagnostics.permutation import (RULES, PermutationConfig, Router, _null_metrics, broken_q_test,
                                               confusion_counts, decide, fit_router, metrics_from_counts,
                                               p_value, permutation_indices, weights)
from fusionlab.experiments.permutation_runs import SUMMARY_COLUMNS, DiagnosticConfig, repeated, summarise
from fusionlab.diagnostics.quality import QualityConfig, real_scores, score

K = 60


@pytest.fixture(scope="module")
def bank(synth):
    return fit_experts(synth, ExpertConfig(oof_folds=3))


@pytest.fixture(scope="module")
def aligned(bank):
    s = score("control-aligned", bank, QualityConfig(fidelity=1.0))
    return broken_q_test(s, bank.y["train"], bank.y["test"], bank.n_classes, PermutationConfig(permutations=K))


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 8))
    y = rng.integers(0, c - 1, 50)  # the last class never occurs in y ...
    pred = rng.integers(0, c, (7, 50))  # ... but may be predicted
    pred[0] = y  # and one perfect row
    got = metrics_from_counts(confusion_counts(y, pred, c))
    for k in range(len(pred)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns about the class absent from y
            assert got["balanced_accuracy"][k] == pytest.approx(balanced_accuracy_score(y, pred[k]), abs=1e-12)
            assert got["macro_f1"][k] == pytest.approx(f1_score(y, pred[k], average="macro"), abs=1e-12)


@pytest.mark.parametrize("name", real_scores())
def test_noq_ignores_q(bank, name):
    res = broken_q_test(score(name, bank), bank.y["train"], bank.y["test"], bank.n_classes,
                        PermutationConfig(permutations=K))
    noq = res.table.set_index("rule").loc["noq"]
    assert noq["delta"] == 0.0 and noq["f1_delta"] == 0.0
    assert noq["p_value"] == 1.0 and noq["f1_p_value"] == 1.0


def test_aligned_control_at_fidelity_one_gains(aligned):
    t = aligned.table.set_index("rule")
    for rule in ("weighted", "route"):
        assert t.loc[rule, "delta"] > 0
        assert t.loc[rule, "p_value"] <= 0.05
    assert t.loc["route", "oracle_headroom"] == pytest.approx(0.0)  # perfect Q routes to a correct expert


def test_smallest_p_is_one_over_k_plus_one(aligned):
    assert p_value(np.zeros(K), 1.0) == 1 / (K + 1)
    assert p_value(np.ones(K), 1.0) == 1.0
    assert (aligned.table["p_value"] >= 1 / (K + 1)).all()
    assert aligned.table.set_index("rule").loc["route", "p_value"] == 1 / (K + 1)


def test_vectorised_equals_loop_and_chunking(bank):
    s = score("max-prob", bank)
    probs, q, y = bank.probs("test"), s.q["test"], bank.y["test"]
    router = fit_router(s.logits["train"], s.q["train"], bank.y["train"])
    for rule in RULES.names():
        a = _null_metrics(rule, probs, q, y, router, PermutationConfig(permutations=25, chunk=25), 10)
        b = _null_metrics(rule, probs, q, y, router, PermutationConfig(permutations=25, chunk=4), 10)
        perms = permutation_indices(len(y), q.shape[1], PermutationConfig(permutations=25))
        loop = []
        for k in range(25):
            broken = np.stack([q[perms[k, j], j] for j in range(q.shape[1])], 1)
            loop.append(balanced_accuracy_score(y, decide(rule, probs, broken[:, None], router, PermutationConfig())[0]))
        np.testing.assert_array_equal(a["balanced_accuracy"], b["balanced_accuracy"])
        np.testing.assert_allclose(a["balanced_accuracy"], loop, atol=1e-12)


def test_joint_shares_one_permutation():
    ind = permutation_indices(30, 3, PermutationConfig(permutations=5))
    joint = permutation_indices(30, 3, PermutationConfig(permutations=5, joint=True))
    assert (joint[:, 0] == joint[:, 1]).all() and (joint[:, 1] == joint[:, 2]).all()
    assert not (ind[:, 0] == ind[:, 1]).all()
    assert (np.sort(ind, -1) == np.arange(30)).all()  # every row is a permutation


@pytest.mark.parametrize("rule", RULES.names())
def test_rule_weights_are_a_distribution(bank, rule):
    s = score("energy", bank)
    router = fit_router(s.logits["train"], s.q["train"], bank.y["train"])
    q = np.concatenate([s.q["test"], np.zeros((2, s.q["test"].shape[1]))])  # (N, M), two rows of Q = 0
    w = weights(rule, q, router)
    assert w.shape == q.shape and (w >= 0).all()
    np.testing.assert_allclose(w.sum(-1), 1.0)


def _reference_weights(rule, q, router, tau):
    """docs/methods.md, reliability permutation test's weights, written out in numpy, independent of the compiled kernel."""
    m = q.shape[1]
    if rule == "noq":
        return np.full(q.shape, 1 / m)
    if rule == "weighted":
        tot = q.sum(1, keepdims=True)
        return np.where(tot > 0, q / np.where(tot > 0, tot, 1), 1 / m)
    if rule == "softmax":
        return softmax(q / tau, axis=1)
    if rule == "route":
        top = (q == q.max(1, keepdims=True)).astype(float)
        return top / top.sum(1, keepdims=True)
    return softmax(np.concatenate([np.ones_like(q), q], 1) @ router.W.T + router.b, axis=1)


@pytest.mark.parametrize("rule", RULES.names())
def test_rule_weights_and_decisions_match_the_formulas(rule):
    rng = np.random.default_rng(3)
    n, m, c = 300, 3, 6
    q = rng.uniform(size=(n, m))
    q[:20] = 0.0  # all-zero rows: weighted falls back to uniform
    q[20:40, :2] = 1.0  # ties at the top: route shares the weight
    router = Router(rng.normal(size=(m, 2 * m)), rng.normal(size=m))
    ref = _reference_weights(rule, q, router, 0.1)
    np.testing.assert_allclose(weights(rule, q, router), ref, rtol=1e-12, atol=1e-15)
    probs = softmax(rng.normal(size=(n, m, c)), -1)
    src = probs if RULES.get(rule).space == "prob" else np.log(probs)
    expect = np.einsum("nm,nmc->nc", ref, src).argmax(1)
    np.testing.assert_array_equal(decide(rule, probs, q[:, None], router, PermutationConfig())[0], expect)


def test_router_and_scores_never_see_test_labels(bank):
    scrambled = replace(bank, y={**bank.y, "test": (bank.y["test"] + 1) % bank.n_classes})  # every label wrong
    assert (scrambled.y["test"] != bank.y["test"]).all()
    for name in real_scores():
        a, b = score(name, bank), score(name, scrambled)
        np.testing.assert_array_equal(a.q["test"], b.q["test"])
        ra = fit_router(a.logits["train"], a.q["train"], bank.y["train"])
        rb = fit_router(b.logits["train"], b.q["train"], scrambled.y["train"])
        np.testing.assert_array_equal(ra.weights(a.q["test"]), rb.weights(b.q["test"]))
    # the test has teeth: a control, which uses test labels on purpose, does change
    assert not np.array_equal(score("control-aligned", bank).q["test"], score("control-aligned", scrambled).q["test"])


def test_broken_q_test_fits_the_router_on_train_rows_only(bank, monkeypatch):
    """The moe router inside the whole pipeline sees train logits, train Q and train labels, never test ones."""
    from fusionlab.diagnostics import permutation as perm
    seen = []
    real_fit = perm.fit_router

    def spy(logits, q, y, *args, **kwargs):
        seen.append((logits, q, y))
        return real_fit(logits, q, y, *args, **kwargs)

    monkeypatch.setattr(perm, "fit_router", spy)
    s = score("correctness", bank)
    perm.run_scores(bank, [s], PermutationConfig(permutations=5))
    assert len(seen) == 1
    logits, q, y = seen[0]
    assert len(y) == len(bank.y["train"]) != len(bank.y["test"])
    np.testing.assert_array_equal(y, bank.y["train"])
    np.testing.assert_array_equal(logits, s.logits["train"])
    np.testing.assert_array_equal(q, s.q["train"])


def test_rho_counts_an_undefined_correlation_as_zero(bank):
    """A constant Q says nothing about correctness: rho averages it in as 0, over all M modalities."""
    from fusionlab.diagnostics.permutation import context
    s = score("control-aligned", bank, QualityConfig(fidelity=1.0))
    full = context(s, bank.y["test"])["rho"]
    flat = replace(s, q={**s.q, "test": np.concatenate([s.q["test"][:, :1], np.ones_like(s.q["test"][:, 1:])], 1)})
    m = s.q["test"].shape[1]
    one = np.corrcoef(s.q["test"][:, 0], bank.correct("test")[:, 0])[0, 1]
    assert context(flat, bank.y["test"])["rho"] == pytest.approx(one / m)
    assert full > context(flat, bank.y["test"])["rho"]


def test_repetition_over_folds(synth):
    from fusionlab.data import MultimodalDataset
    ds = MultimodalDataset({k: v.numpy() for k, v in synth.train.xs.items()}, synth.train.y.numpy(), synth.class_names)
    cfg = DiagnosticConfig(scores=("max-prob",), expert=ExpertConfig(oof_folds=3),
                           permutation=PermutationConfig(permutations=20))
    runs = repeated(ds, cfg, [0, 1], folds=2)
    assert set(zip(runs["seed"], runs["fold"])) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    summary = summarise(runs)
    assert len(summary) == len(RULES.names()) and (summary["runs"] == 4).all()
    assert {"delta_sd", "p_value_sd", "rho_sd"} <= set(summary.columns)


def test_cli_writes_table_with_controls(tmp_path):
    args = ["permutation", "--dataset", "synthetic", "--samples", "300", "--permutations", "20",
            "--scores", "max-prob", "--control", "aligned", "--fidelity", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    df = pd.read_csv(tmp_path / "permutation.csv")
    assert list(df.columns[:8]) == ["score", "rule", "metric_clean", "metric_broken_mean", "delta", "p_value",
                                    "oracle_headroom", "rho"]
    assert set(df["score"]) == {"max-prob", "control-aligned"}
    assert len(df) == 2 * len(RULES.names())
    assert main(args[:-2] + ["--corrupt", "nope", "--out", str(tmp_path)]) == 2


def test_findings_count_only_the_rules_that_use_q_and_say_lose():
    from fusionlab.experiments.permutation import findings
    rules = ["noq", "weighted", "softmax", "route", "moe"]
    def table(score, control, gains):
        return pd.DataFrame({"score": score, "control": control, "rule": rules, "oracle_headroom": 0.2, "rho": 0.0,
                             "delta": [0.0] + [0.1 if g else 0.0 for g in gains],
                             "p_value": [1.0] + [0.005 if g else 0.6 for g in gains]})
    real_none = findings(table("energy", False, [False] * 4))
    assert real_none[0].verdict == "holds" and "none of the 4" in real_none[0].evidence
    assert findings(table("energy", False, [True, False, False, False]))[0].verdict == "partly"
    assert findings(table("energy", False, [True, True, False, False]))[0].verdict == "does not hold"
    ctl = findings(pd.concat([table("energy", False, [False] * 4), table("control-corruption", True, [True] * 4)]))
    assert ctl[1].verdict == "holds" and "loses accuracy" in ctl[1].claim  # noq, which ignores Q, is not counted


def test_a_tiny_nonzero_difference_never_prints_as_zero():
    from fusionlab.findings import describe, direction
    d = [-2e-5, -2.2e-5, -1.9e-5, -2.1e-5]
    assert direction(d) == -1 and "0.000" not in describe(d) and "e-05" in describe(d)
    assert describe([0.0123, 0.0130]).startswith("+0.013")


def test_repeated_runs_report_the_median_p_and_headroom_in_balanced_accuracy():
    runs = pd.DataFrame({"score": "energy", "rule": "weighted", "control": False, "seed": [0, 0, 0], "fold": [0, 1, 2],
                         **{c: [0.1, 0.2, 0.3] for c in SUMMARY_COLUMNS}})
    runs["p_value"] = [0.01, 0.02, 0.9]  # mean 0.31, median 0.02
    table = summarise(runs)
    assert table["p_value"].item() == pytest.approx(0.02) and table["delta"].item() == pytest.approx(0.2)
    from fusionlab.diagnostics.permutation import context
    from fusionlab.diagnostics.quality import Scored
    y = np.array([0, 0, 0, 0, 1, 1])
    logits = np.zeros((6, 2, 2))
    logits[:4, 0, 0] = 5  # expert 0 right on every row of class 0; nobody right on class 1 but row 4
    logits[4, 1, 1] = 5
    ctx = context(Scored("x", {"test": np.ones((6, 2))}, {"test": logits}, False), y)
    assert ctx["oracle_accuracy"] == pytest.approx(5 / 6) and ctx["oracle_balanced_accuracy"] == pytest.approx(0.75)


def test_route_ties_split_the_weight_or_go_to_the_first_expert_as_the_authors_argmax():
    from fusionlab.diagnostics.permutation import PermutationConfig, decide, weights
    q = np.array([[1.0, 1.0, 0.2], [0.1, 0.9, 0.9], [0.3, 0.2, 0.1]])
    present = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    split = weights("route", q, present=present)
    first = weights("route", q, cfg=PermutationConfig(route_ties="first"), present=present)
    np.testing.assert_allclose(split, [[0.5, 0.5, 0], [0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(first, [[1, 0, 0], [0, 0, 1], [1, 0, 0]])  # np.argmax over the present experts
    want = np.array([np.argmax(np.where(present[i], q[i], -np.inf)) for i in range(3)])
    assert (first.argmax(1) == want).all()
    probs = np.array([[[0.6, 0.4], [0.1, 0.9], [0.5, 0.5]]] * 3)  # row 0: experts 0 and 1 tie at Q = 1
    split_pred = decide("route", probs, q[:, None], None, PermutationConfig(), present)[0]
    first_pred = decide("route", probs, q[:, None], None, PermutationConfig(route_ties="first"), present)[0]
    assert split_pred[0] == 1 and first_pred[0] == 0  # shared: 0.35 vs 0.65; the first expert alone: 0.6 vs 0.4
    with pytest.raises(ValueError, match="route_ties"):
        PermutationConfig(route_ties="random")


def _authors_adam_router(X, L, y, seed, steps=800, lr=0.01, l2=1e-4):
    """The authors' router fit written out in numpy: w = softmax(X W + b), BCE of sigmoid(Σ w L), Adam by hand."""
    W = 0.01 * np.random.RandomState(seed).randn(X.shape[1], L.shape[1])
    b = np.zeros(L.shape[1])
    mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
    for t in range(1, steps + 1):
        w = softmax(X @ W + b, axis=1)
        f = (w * L).sum(1)
        g_z = ((1 / (1 + np.exp(-f)) - y)[:, None]) * (w * (L - f[:, None]))
        gW, gb = X.T @ g_z / len(y) + 2 * l2 * W, g_z.sum(0) / len(y)
        for p, g, m_, v_ in ((W, gW, mW, vW), (b, gb, mb, vb)):
            m_[:] = 0.9 * m_ + 0.1 * g
            v_[:] = 0.999 * v_ + 0.001 * g * g
            p -= lr * (m_ / (1 - 0.9 ** t)) / (np.sqrt(v_ / (1 - 0.999 ** t)) + 1e-8)
    return W, b


def test_adam_router_is_the_authors_fit_on_fully_observed_rows():
    rng = np.random.default_rng(3)
    n, m = 120, 3
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.5 + (2 * y[:, None] - 1) * rng.uniform(-0.2, 0.45, (n, m)), 0.02, 0.98)  # P(class 1) per expert
    q = rng.uniform(0, 1, (n, m))
    present = np.ones((n, m))
    present[:10, 1] = 0  # ten rows miss a modality: the authors' router does not train on them
    logits = np.log(np.stack([1 - p1, p1], -1))
    router = fit_router(logits, q, y, seed=1102, present=present, method="adam")
    full = present.min(1) > 0
    L = np.log(p1[full]) - np.log1p(-p1[full])
    W, b = _authors_adam_router(np.concatenate([present[full], q[full]], 1), L, y[full], seed=1102)
    np.testing.assert_allclose(router.W, W.T, atol=1e-9)
    np.testing.assert_allclose(router.b, b, atol=1e-9)
    changed = q.copy()
    changed[:10] = rng.uniform(0, 1, (10, m))  # the partial rows' Q cannot move the fit
    again = fit_router(logits, changed, y, seed=1102, present=present, method="adam")
    np.testing.assert_array_equal(again.W, router.W)
    ours = fit_router(logits, changed, y, seed=1102, present=present)  # L-BFGS reads every train row
    assert not np.allclose(ours.W, fit_router(logits, q, y, seed=1102, present=present).W)


def test_router_penalty_and_fit_are_checked():
    assert PermutationConfig(router_fit="adam").l2 == 1e-4 and PermutationConfig().l2 == 1e-3
    assert PermutationConfig(router_l2=0.0).l2 == 0.0
    with pytest.raises(ValueError, match="router_fit"):
        PermutationConfig(router_fit="sgd")
    with pytest.raises(ValueError, match="router_l2"):
        PermutationConfig(router_l2=-1.0)
