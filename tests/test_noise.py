"""Corruptions (docs/methods.md, corruptions and robustness), parametrised over the registry."""
import pytest
import torch

from fusionlab.data.dataset import ModalityStats
from fusionlab.noise import CORRUPTIONS, corrupt, corrupt_modalities, sample_levels

STATS = ModalityStats(torch.full((6,), 0.5), torch.full((6,), 2.0))


def _x(b=8, t=4, d=6):
    return torch.randn(b, t, d, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_level_zero_is_identity(name):
    x = _x()
    assert torch.equal(corrupt(name, x, 0.0, torch.Generator().manual_seed(0), STATS), x)
    per_sample = torch.zeros(8)
    assert torch.equal(corrupt(name, x, per_sample, torch.Generator().manual_seed(0), STATS), x)


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_shape_determinism_and_change(name):
    x = _x()
    a = corrupt(name, x, 0.5, torch.Generator().manual_seed(1), STATS)
    b = corrupt(name, x, 0.5, torch.Generator().manual_seed(1), STATS)
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, x)


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_per_sample_levels_leave_clean_rows_alone(name):
    x = _x()
    lv = torch.tensor([0.0, 0.6] * 4)
    out = corrupt(name, x, lv, torch.Generator().manual_seed(0), STATS)
    assert torch.equal(out[lv == 0], x[lv == 0])
    assert not torch.equal(out[lv > 0], x[lv > 0])


def test_mix_at_one_is_pure_noise_with_train_statistics():
    x = torch.full((4000, 1, 6), 100.0)
    out = corrupt("mix", x, 1.0, torch.Generator().manual_seed(0), STATS)
    assert abs(out.mean().item() - 0.5) < 0.1 and abs(out.std().item() - 2.0) < 0.1


def test_gaussian_noise_scales_with_train_sd():
    x = torch.zeros(4000, 1, 6)
    out = corrupt("gaussian", x, 1.5, torch.Generator().manual_seed(0), STATS)
    assert abs(out.std().item() - 3.0) < 0.15


def test_drop_gives_train_mean():
    out = corrupt("drop", _x(), 1.0, torch.Generator(), STATS)
    assert torch.equal(out, torch.full_like(out, 0.5))


@pytest.mark.parametrize("granularity,unit", [("timestep", (1, 2)), ("entry", ())])
def test_timestep_ratio_corrupts_that_fraction(granularity, unit):
    x = torch.zeros(50, 10, 6)
    out = corrupt("timestep", x, 0.3, torch.Generator().manual_seed(0), STATS, granularity=granularity)
    changed = (out != 0)
    frac = changed.any(dim=2).float().mean() if granularity == "timestep" else changed.float().mean()
    assert frac == pytest.approx(0.3, abs=0.01)
    half = corrupt("timestep", x, 1.0, torch.Generator().manual_seed(0), STATS, weight=0.5)
    full = corrupt("timestep", x, 1.0, torch.Generator().manual_seed(0), STATS, weight=1.0)
    assert torch.allclose(half, 0.5 * full)


def test_mix_rejects_alpha_outside_unit_interval():
    with pytest.raises(ValueError, match="alpha"):
        corrupt("mix", _x(), 1.5, torch.Generator(), STATS)


def test_corrupt_modalities_names_unknown_modality():
    with pytest.raises(ValueError, match="nope"):
        corrupt_modalities({"a": _x()}, {"nope": 1.0}, "gaussian", 0, {"a": STATS})


def test_sample_levels_clean_fraction_and_range():
    lv = sample_levels(10000, 2.0, torch.Generator().manual_seed(0), p_clean=0.5)
    assert (lv == 0).float().mean() == pytest.approx(0.5, abs=0.03)
    assert lv.max() <= 2.0 and lv.min() >= 0


def test_drop_has_two_levels_on_a_robustness_curve():
    from fusionlab.noise import default_levels
    assert default_levels("drop") == [0.0, 1.0]
    assert len(default_levels("mix")) == 9
    assert default_levels("mix")[-1] == 1.0  # the curve reaches the noise slider's end (issue 33: it stopped at 0.95)


def test_additive_equals_gaussian_on_standardised_inputs_so_pages_offer_one_of_them():
    """Every input is standardised with its train statistics, so additive noise n ~ N(mu=0, s=1) is gaussian's draw:
    the pages offered both and gave the same numbers (issue 33); they offer gaussian, the CLI still takes both."""
    import torch
    from fusionlab.data.dataset import ModalityStats
    from fusionlab.noise import SAME_AS, corrupt, distinct_corruptions
    x = torch.randn(64, 2, 5)
    unit = ModalityStats(torch.zeros(5), torch.ones(5))
    for name, same in SAME_AS.items():
        a = corrupt(name, x, 2.5, torch.Generator().manual_seed(3), unit)
        b = corrupt(same, x, 2.5, torch.Generator().manual_seed(3), unit)
        assert torch.allclose(a, b) and not torch.allclose(a, x)
        assert name not in distinct_corruptions() and same in distinct_corruptions()
