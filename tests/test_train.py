"""Models and training: determinism, checkpointing, callbacks, metrics."""
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from fusionlab.fusion import FUSIONS
from fusionlab.models import ModelConfig, build_model, count_parameters
from fusionlab.train import TIMING, TrainConfig, evaluate, fit, metrics_from_probs

FAST = TrainConfig(epochs=3, batch_size=32, seed=0)


@pytest.mark.parametrize("fusion", FUSIONS.names())
@pytest.mark.parametrize("temporal", ["mean", "transformer"])
def test_every_fusion_trains_on_sequences(synth_seq, fusion, temporal):
    cfg = ModelConfig(fusion=fusion, temporal=temporal, enc_dim=16, fusion_dim=16, head_hidden=16)
    model = build_model(synth_seq.shapes(), synth_seq.n_classes, cfg, seed=0)
    res = fit(model, synth_seq, TrainConfig(epochs=1, batch_size=64))
    assert len(res.history) == 1 and np.isfinite(res.history["train_loss"]).all()
    assert 0 <= evaluate(model, synth_seq.test)["accuracy"] <= 1


def test_same_seed_same_history_and_weights(synth):
    runs = []
    for _ in range(2):
        m = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=3)
        runs.append((fit(m, synth, FAST), m))
    assert runs[0][0].history.drop(columns=TIMING).equals(runs[1][0].history.drop(columns=TIMING))
    for a, b in zip(runs[0][1].parameters(), runs[1][1].parameters()):
        assert torch.equal(a, b)


def test_different_seeds_differ(synth):
    a = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0)
    b = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=1)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_global_rng_untouched(synth):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0), synth, FAST)
    assert torch.equal(torch.rand(3), expected)


def test_best_validation_checkpoint_is_restored(synth):
    m = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0)
    res = fit(m, synth, TrainConfig(epochs=8, seed=0, patience=None))
    assert res.best_val_accuracy == pytest.approx(res.history["val_accuracy"].max())
    assert evaluate(m, synth.val)["accuracy"] == pytest.approx(res.best_val_accuracy)
    assert res.history.loc[res.history["epoch"] == res.best_epoch, "val_accuracy"].item() == res.best_val_accuracy


def test_learns_above_chance(synth):
    m = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0)
    fit(m, synth, TrainConfig(epochs=10, seed=0))
    assert evaluate(m, synth.test)["accuracy"] > 0.75


def test_callback_false_stops_and_patience_stops(synth):
    seen = []
    m = build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0)
    res = fit(m, synth, TrainConfig(epochs=10), callback=lambda info: seen.append(info.epoch) or info.epoch < 2)
    assert res.stopped_by_user and seen == [1, 2] and len(res.history) == 2
    res = fit(build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0), synth,
              TrainConfig(epochs=50, patience=1, lr=0.0))
    assert res.stopped_early and len(res.history) == 2


def test_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 100)
    p = rng.dirichlet(np.ones(4), 100)
    m = metrics_from_probs(y, p)
    assert m["accuracy"] == accuracy_score(y, p.argmax(1))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p.argmax(1), average="macro"))
    assert np.isnan(metrics_from_probs(np.zeros(10, int), rng.dirichlet(np.ones(3), 10))["roc_auc"])


def test_zero_epochs_is_refused(synth):
    with pytest.raises(ValueError, match="epochs"):
        fit(build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0), synth, TrainConfig(epochs=0))


def test_parameter_count_positive(synth):
    assert count_parameters(build_model(synth.shapes(), synth.n_classes, ModelConfig(), seed=0)) > 0


def test_sgd_with_a_step_schedule_and_gradient_clipping_as_the_udml_authors_train():
    """``optimizer="sgd"``, ``lr_steps``, ``lr_decay``, ``clip_norm``: each step's update is lr times the clipped
    gradient (momentum 0 here), and the rate drops after each milestone (MultiStepLR's)."""
    import torch

    from fusionlab.train import TrainConfig, epoch_lr, make_optimizer, train_loop
    cfg = TrainConfig(epochs=4, lr=0.5, weight_decay=0.0, optimizer="sgd", momentum=0.0, lr_steps=(2,), lr_decay=0.1,
                      clip_norm=1.0, patience=None, keep="last")
    assert [epoch_lr(cfg, e) for e in (1, 2, 3, 4)] == [0.5, 0.5, 0.5 * 0.1, 0.5 * 0.1]
    w = torch.zeros(2, requires_grad=True)
    seen = []

    class Learner:
        runs = 1
        optimizer = make_optimizer([w], cfg)

        def batches(self, epoch):
            return [epoch]

        def gradients(self, batch):
            seen.append((batch, self.optimizer.param_groups[0]["lr"], w.detach().clone()))
            w.grad = torch.tensor([30.0, 40.0])  # norm 50: clipped to norm 1, i.e. (0.6, 0.8)
            return torch.zeros(1), 1

        def validate(self):
            return torch.zeros(1), torch.zeros(1)

        def keep(self, better):
            pass

        def restore(self):
            pass
    assert isinstance(Learner.optimizer, torch.optim.SGD)
    train_loop(Learner(), cfg)
    assert [lr for _, lr, _ in seen] == [0.5, 0.5, pytest.approx(0.05), pytest.approx(0.05)]
    expected = -sum(epoch_lr(cfg, e) for e in (1, 2, 3, 4)) * torch.tensor([0.6, 0.8])
    assert torch.allclose(w.detach(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="clip_norm"):
        TrainConfig(clip_norm=0.0)


def test_a_diverging_training_stops_with_one_line_naming_the_epoch():
    """A loss that turns NaN (too high a rate) is refused where it happens, not as a library's NaN error later."""
    from fusionlab.data import SyntheticConfig, make_synthetic, prepare
    data = prepare(make_synthetic(SyntheticConfig(n_samples=200)))
    model = build_model(data.shapes(), data.n_classes, ModelConfig())
    with pytest.raises(ValueError, match=r"training diverged: the loss is not finite at epoch 1 .*clip the gradient"):
        fit(model, data, TrainConfig(epochs=2, optimizer="sgd", lr=1e30, momentum=0.0))
