"""Batched multi-seed training equals the sequential fit() of each seed (the fusion-complexity paper's engine)."""
from dataclasses import replace
import pytest
import torch

from fusionlab.batched import batched_fit
from fusionlab.data import SyntheticConfig, make_synthetic, prepare
from fusionlab.models import ModelConfig, build_model
from fusionlab.train import TrainConfig, fit

SEEDS = [3, 11]


@pytest.fixture(scope="module")
def dot_data():
    return prepare(make_synthetic(SyntheticConfig(n_samples=240, n_modalities=2, dim=6, rule="dot", seed=2)))


def _cfgs(fusion, patience=None):
    mcfg = ModelConfig(fusion=fusion, encoder="identity", head_hidden=8, dropout=0.0, fusion_dim=4)
    tcfg = TrainConfig(epochs=4, batch_size=32, lr=1e-2, weight_decay=1e-3, patience=patience)
    return mcfg, tcfg


def _sequential(data, mcfg, tcfg, seed):
    model = build_model(data.shapes(), data.n_classes, mcfg, seed=seed)
    return fit(model, data, TrainConfig(**{**vars(tcfg), "seed": seed}))


@pytest.mark.parametrize("fusion", ["concat", "product", "tensor", "sum"])
def test_batched_equals_sequential_fit(dot_data, fusion):
    mcfg, tcfg = _cfgs(fusion)
    res = batched_fit(dot_data, mcfg, tcfg, SEEDS)
    for i, seed in enumerate(SEEDS):
        ref = _sequential(dot_data, mcfg, tcfg, seed)
        assert res.best_epoch[i] == ref.best_epoch
        assert res.best_val_accuracy[i] == pytest.approx(ref.best_val_accuracy, abs=1e-6)
        hist = res.history[res.history["seed"] == seed].reset_index(drop=True)
        assert hist["train_loss"].values == pytest.approx(ref.history["train_loss"].values, rel=1e-4, abs=1e-5)
        mine, theirs = res.model(i).state_dict(), ref.model.state_dict()
        assert mine.keys() == theirs.keys()
        for k in theirs:
            torch.testing.assert_close(mine[k], theirs[k], rtol=1e-4, atol=1e-5, msg=f"{fusion} seed {seed}: {k}")


def test_each_seed_has_its_own_patience(dot_data):
    mcfg, tcfg = _cfgs("concat", patience=1)
    tcfg = replace(tcfg, epochs=6)
    res = batched_fit(dot_data, mcfg, tcfg, SEEDS)
    for i, seed in enumerate(SEEDS):
        ref = _sequential(dot_data, mcfg, tcfg, seed)
        assert res.best_epoch[i] == ref.best_epoch


def test_seeds_differ_and_predictions_are_per_seed(dot_data):
    mcfg, tcfg = _cfgs("product")
    res = batched_fit(dot_data, mcfg, tcfg, SEEDS)
    logits = res.predict(dot_data.test.xs)
    assert logits.shape == (len(SEEDS), len(dot_data.test), dot_data.n_classes)
    assert not torch.allclose(logits[0], logits[1])
    torch.testing.assert_close(res.predict_each([dot_data.test.xs] * len(SEEDS)), logits)
    with torch.no_grad():
        torch.testing.assert_close(res.model(1)(dot_data.test.xs).logits, logits[1], rtol=1e-4, atol=1e-5)


def test_callback_false_stops_all_seeds(dot_data):
    mcfg, tcfg = _cfgs("concat")
    res = batched_fit(dot_data, mcfg, tcfg, SEEDS, callback=lambda info: False)
    assert res.stopped_by_user
    assert res.history["epoch"].max() == 1


def test_dropout_is_refused(dot_data):
    mcfg, tcfg = _cfgs("concat")
    mcfg = replace(mcfg, dropout=0.1)
    with pytest.raises(ValueError, match="dropout"):
        batched_fit(dot_data, mcfg, tcfg, SEEDS)


def test_hand_written_head_gradients_equal_autograd(dot_data):
    import torch.nn.functional as F
    from fusionlab.batched import SeedStack
    cfg = ModelConfig(fusion="concat", encoder="identity", head_hidden=16, dropout=0.0)
    stack = SeedStack([build_model(dot_data.shapes(), dot_data.n_classes, cfg, seed=s) for s in range(3)])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 11, stack.inputs(dot_data.train.xs).shape[1], generator=g)
    y = torch.randint(0, dot_data.n_classes, (3, 11), generator=g)
    params = stack.params
    logits = stack.logits(params, x, shared=False)
    loss = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)
    expected = torch.autograd.grad(loss.sum(), list(params.values()))
    got = stack.head_gradients(params, x, y)
    torch.testing.assert_close(got, loss.detach())
    for (name, p), e in zip(params.items(), expected):
        torch.testing.assert_close(p.grad, e, msg=name)
        assert p.grad.abs().sum() > 0


@pytest.mark.parametrize("fusion, options", [("product", {"project": True}), ("tensor", {})])
def test_projected_fusions_are_written_out_and_equal_sequential_fit(dot_data, fusion, options):
    """Projections before the fusion are batched products (no vmap); each seed still equals its own fit()."""
    from fusionlab.batched import SeedStack
    mcfg, tcfg = _cfgs(fusion)
    mcfg = replace(mcfg, fusion_options=options)
    res = batched_fit(dot_data, mcfg, tcfg, SEEDS)
    assert res.stack.projected and not res.stack.fixed
    for i, seed in enumerate(SEEDS):
        ref = _sequential(dot_data, mcfg, tcfg, seed)
        mine, theirs = res.model(i).state_dict(), ref.model.state_dict()
        for k in theirs:
            torch.testing.assert_close(mine[k], theirs[k], rtol=1e-4, atol=1e-5, msg=f"{fusion} seed {seed}: {k}")
    one = SeedStack([build_model(dot_data.shapes(), dot_data.n_classes, mcfg, seed=s) for s in SEEDS])
    xs = dot_data.test.xs
    per_seed = {k: torch.stack([v, v]) for k, v in xs.items()}  # unpooled per-seed inputs (predict_each's)
    torch.testing.assert_close(one.logits(one.params, one.inputs(xs), shared=True),
                               one.logits(one.params, per_seed, shared=False))
