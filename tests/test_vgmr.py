"""VGMR (seed 003, METHODS.md §3): gate algebra, shapes, gradients, ablation switches, determinism."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from fusionlab.models import ModelConfig, build_model, seeded
from fusionlab.refiners import REFINERS
from fusionlab.refiners.vgmr import ABLATIONS, PARTS, VGMRConfig, key, stack_part
from fusionlab.train import TrainConfig, fit

SHAPES = {"a": (5, 6), "b": (1, 4), "c": (3, 6)}  # sequences and a vector


def _inputs(b=7, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return {k: scale * torch.randn(b, t, d, generator=g) for k, (t, d) in SHAPES.items()}


def _refiner(seed=0, **options):
    with seeded(seed):
        return REFINERS.create("vgmr", SHAPES, **options)


def test_registered_and_output_shapes_equal_input_shapes():
    assert "vgmr" in REFINERS
    ref = _refiner(d=8)
    xs = _inputs()
    out, extras = ref(xs)
    for k, x in xs.items():
        assert out[k].shape == x.shape
        assert extras[key("G", k)].shape == x.shape and extras[key("G_eff", k)].shape == x.shape
        assert extras[key("X_refined", k)].shape == x.shape
        assert extras[key("v_g", k)].shape == (7,) and extras[key("v_c", k)].shape == (7, 8)
    assert set(stack_part(extras, "G", list(SHAPES))) == set(SHAPES)
    assert {p for p in PARTS} == {k.split("/")[1] for k in extras}


def test_lambda_zero_makes_the_amplified_gate_exactly_one():
    ref = _refiner(lambda_amp=0.0, rho=0.0)
    g = torch.rand(4, 3, 6)
    assert torch.equal(ref.amplify(g), torch.ones_like(g))
    _, extras = ref.eval()(_inputs())
    for k in SHAPES:
        assert torch.equal(extras[key("G_eff", k)], torch.ones(extras[key("G_eff", k)].shape))


@pytest.mark.parametrize("lam,rho", [(0.5, 0.2), (1.0, 0.0), (0.3, 0.7)])
def test_effective_gate_stays_in_its_open_interval(lam, rho):
    ref = _refiner(lambda_amp=lam, rho=rho).eval()
    _, extras = ref(_inputs(b=16))
    lo, hi = rho + (1 - rho) * (1 - lam), rho + (1 - rho) * (1 + lam)
    for k in SHAPES:
        g = extras[key("G_eff", k)]
        assert (g > lo).all() and (g < hi).all()
        v = extras[key("v_g", k)]
        assert (v > 0).all() and (v < 1).all()


def test_refined_is_layernorm_of_gated_input_in_eval_mode():
    ref = _refiner().eval()
    xs = _inputs()
    out, extras = ref(xs)
    for i, (k, x) in enumerate(xs.items()):
        d = x.shape[-1]
        with torch.no_grad():  # make each modality's affine visible: padded modalities must not mix in
            ref.norm_weight[i, :d] = torch.linspace(0.5, 2.0, d)
            ref.norm_bias[i, :d] = torch.linspace(-1.0, 1.0, d)
    out, extras = ref(xs)
    for i, (k, x) in enumerate(xs.items()):
        d = x.shape[-1]
        expected = F.layer_norm(extras[key("G_eff", k)] * x, (d,), torch.linspace(0.5, 2.0, d),
                                torch.linspace(-1.0, 1.0, d))
        assert torch.allclose(out[k], expected, atol=1e-5)


def _model(seed=0, **options):
    cfg = ModelConfig(fusion="concat", encoder="identity", refiner="vgmr", refiner_options=options)
    return build_model(SHAPES, 3, cfg, seed=seed)


def test_gradients_reach_every_parameter_with_the_value_and_regulariser_terms():
    model = _model(d=8).train()
    xs, y = _inputs(b=12), torch.arange(12) % 3
    out = model(xs)
    extra = model.extra_loss(xs, y, out)
    assert extra.ndim == 0 and torch.isfinite(extra)
    (F.cross_entropy(out.logits, y) + extra).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    assert model.training, "the value target's eval-mode pass must restore training mode"


def test_loss_increase_has_one_entry_per_modality_and_no_gradient():
    model = _model().train()
    xs, y = _inputs(b=9), torch.arange(9) % 3
    delta = model.refiner.loss_increase(model, xs, y)
    assert delta.shape == (3,) and not delta.requires_grad and torch.isfinite(delta).all()


def test_value_target_and_extra_loss_follow_the_formulas():
    """Delta_m = CE(m zeroed) - CE(all) in eval mode; extra = beta L_value + gamma L_reg (METHODS.md §3.8)."""
    model = _model(d=8, beta=0.7, gamma=0.3, tau=0.5, kappa=0.4).train()
    xs, y = _inputs(b=10), torch.arange(10) % 3
    model.eval()
    with torch.no_grad():
        base = F.cross_entropy(model(xs).logits, y)
        expected = torch.stack([F.cross_entropy(model({**xs, k: torch.zeros_like(xs[k])}).logits, y) - base
                                for k in SHAPES])
    model.train()
    torch.testing.assert_close(model.refiner.loss_increase(model, xs, y), expected)
    with seeded(1):
        out = model(xs)
    v_g = torch.stack([out.extras[key("v_g", k)] for k in SHAPES], 1)  # (B, M)
    v_c = torch.stack([out.extras[key("v_c", k)].mean(-1) for k in SHAPES], 1)
    target = torch.sigmoid(expected / 0.5)
    l_value = ((v_g.mean(0) - target) ** 2 + (v_c.mean(0) - target) ** 2).sum()
    l_reg = torch.relu(0.4 - v_g.std(0)).sum()
    torch.testing.assert_close(model.extra_loss(xs, y, out), 0.7 * l_value + 0.3 * l_reg)


@pytest.mark.parametrize("part,flag", [("v_g", "use_global_value"), ("v_c", "use_channel_value")])
def test_value_switches_remove_their_term_from_the_gate(part, flag):
    xs = _inputs(b=4)
    for on in (True, False):
        ref = _refiner(**{flag: on}).eval()
        x = ref.stack(xs)
        p = ref.project(x)
        v_g, v_c = ref.values(p)
        g1 = ref.gate(x, p, v_g, v_c)
        moved = (v_g * 0 + 0.99, v_c) if part == "v_g" else (v_g, v_c * 0 + 0.01)
        g2 = ref.gate(x, p, *moved)
        assert all(torch.equal(a, b) for a, b in zip(g1, g2)) != on, f"{flag}={on}"


@pytest.mark.parametrize("part,flag", [("agreement", "use_agreement"), ("discrepancy", "use_discrepancy")])
def test_evidence_switches_remove_their_term_from_the_value_input(part, flag):
    s = torch.randn(3, 4, 8)  # (M, B, d)
    for on in (True, False):
        ref = _refiner(d=8, **{flag: on})
        parts = ref.evidence(s)
        z1 = ref.interaction_input(parts)
        z2 = ref.interaction_input({**parts, part: torch.randn_like(parts[part])})
        assert z1.shape[-1] == ref.interaction_dim()
        assert torch.equal(z1, z2) != on, f"{flag}={on}"


def test_every_ablation_row_builds_and_runs():
    for name, switches in ABLATIONS.items():
        ref = _refiner(**switches).eval()
        out, _ = ref(_inputs(b=3))
        assert all(torch.isfinite(v).all() for v in out.values()), name
    assert len(ABLATIONS) == 7  # full + the six of §4.3


def test_same_seed_same_numbers(synth_seq):
    cfg = ModelConfig(fusion="concat", encoder="identity", refiner="vgmr", refiner_options={"d": 8})
    tcfg = TrainConfig(epochs=2, seed=3, patience=None)
    runs = [fit(build_model(synth_seq.shapes(), synth_seq.n_classes, cfg, seed=s), synth_seq, replace(tcfg, seed=s))
            for s in (3, 3, 4)]
    xs = synth_seq.test.xs
    outs = [r.model(xs).logits for r in runs]
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])
    assert runs[0].history["train_loss"].tolist() == runs[1].history["train_loss"].tolist()


def test_bad_input_names_the_thing():
    with pytest.raises(ValueError, match="at least 2"):
        REFINERS.create("vgmr", {"a": (2, 3)})
    with pytest.raises(ValueError, match="lamda"):
        REFINERS.create("vgmr", SHAPES, lamda=0.5)
    with pytest.raises(ValueError, match="'b'.*\\(B, 1, 4\\)"):
        _refiner()({**_inputs(), "b": torch.randn(2, 1, 5)})
    assert VGMRConfig().lambda_amp == 0.5 and VGMRConfig().rho == 0.2


def test_transformer_backbone_runs_with_vgmr():
    cfg = ModelConfig(fusion="transformer", encoder="identity", refiner="vgmr")
    model = build_model(SHAPES, 3, cfg, seed=0).eval()
    assert model(_inputs(b=5)).logits.shape == (5, 3)


def _padded_region(ref):
    """Boolean masks of the padded (unused) entries of every stacked per-modality weight."""
    ds = [d for _, d in ref.shapes.values()]
    out = {}
    for name, p in ref.named_parameters():
        mask = torch.zeros_like(p, dtype=torch.bool)
        for i, d in enumerate(ds):
            if name == "proj_weight":
                mask[i, d:] = True
            elif name == "gate_x_weight":
                mask[i, d:] = True
                mask[i, :, d:] = True
            elif name in ("gate_p_weight", "gate_v_weight"):
                mask[i, :, d:] = True
            elif name in ("gate_x_bias", "norm_weight", "norm_bias"):
                mask[i, d:] = True
        if mask.any():
            out[name] = mask
    return out


def test_padding_never_leaks_into_a_modality():
    """Modalities of different sizes share stacked weights; the padding must change nothing."""
    ref = _refiner(d=8).eval()
    xs = _inputs()
    out1, ex1 = ref(xs)
    regions = _padded_region(ref)
    assert set(regions) >= {"proj_weight", "gate_x_weight", "gate_p_weight", "norm_weight"}
    with torch.no_grad():
        for name, mask in regions.items():
            p = dict(ref.named_parameters())[name]
            assert (p[mask] == 0).all(), f"{name}: padding is not zero at initialisation"
            p[mask] = 10 * torch.randn(int(mask.sum()))  # junk where no modality should look
    out2, ex2 = ref(xs)
    for k in SHAPES:
        torch.testing.assert_close(out1[k], out2[k])
        torch.testing.assert_close(ex1[key("v_c", k)], ex2[key("v_c", k)])


def test_each_modality_is_refined_as_if_it_were_alone_in_its_shape():
    """Shape groups must not mix: a modality's G and X~ depend on the others only through the
    value path (v_g, v_c), so with the values fixed, changing another modality changes nothing."""
    shapes = {"a": (5, 6), "b": (1, 4), "c": (5, 6), "e": (1, 4), "f": (3, 6)}  # two groups interleaved, one alone
    with seeded(0):
        ref = REFINERS.create("vgmr", shapes, d=8).eval()
    assert [g.index for g in ref.groups] == [[0, 2], [1, 3], [4]]
    g = torch.Generator().manual_seed(1)
    xs = {k: torch.randn(4, t, d, generator=g) for k, (t, d) in shapes.items()}
    x = ref.stack(xs)
    p = ref.project(x)
    v_g, v_c = ref.values(p)
    gates = ref.unstack(ref.gate(x, p, v_g, v_c))
    for i, k in enumerate(shapes):  # one modality's gate, computed from its own weights alone
        t, d = shapes[k]
        pk = xs[k] @ ref.proj_weight[i, :d] + ref.proj_bias[i]
        vs = torch.cat([v_g[i].unsqueeze(-1) - 0.5, v_c[i] - 0.5], dim=-1)
        logits = (xs[k] @ ref.gate_x_weight[i, :d, :d] + ref.gate_x_bias[i, :d] + pk @ ref.gate_p_weight[i, :, :d]
                  + (vs @ ref.gate_v_weight[i, :, :d]).unsqueeze(1))
        torch.testing.assert_close(gates[k], torch.sigmoid(logits))
    s_in = torch.stack([torch.cat([(xs[k] @ ref.proj_weight[i, :shapes[k][1]] + ref.proj_bias[i]).mean(1),
                                   (xs[k] @ ref.proj_weight[i, :shapes[k][1]] + ref.proj_bias[i]).amax(1)], -1)
                        for i, k in enumerate(shapes)])
    u = ref.value_encoder(ref.interaction_input(ref.evidence(ref.summary(s_in))))
    torch.testing.assert_close(v_g, torch.sigmoid(ref.value_head(u))[..., 0])


def test_padded_weights_get_no_gradient():
    model = _model(d=8).train()
    xs, y = _inputs(b=12), torch.arange(12) % 3
    out = model(xs)
    (F.cross_entropy(out.logits, y) + model.extra_loss(xs, y, out)).backward()
    params = dict(model.refiner.named_parameters())
    for name, mask in _padded_region(model.refiner).items():
        assert (params[name].grad[mask] == 0).all(), name


def test_value_rows_computes_the_target_on_the_first_rows_only():
    model = _model(d=8).train()
    xs, y = _inputs(b=12), torch.arange(12) % 3
    full = model.refiner.loss_increase(model, xs, y)
    model.refiner.cfg = replace(model.refiner.cfg, value_rows=5)
    part = model.refiner.loss_increase(model, xs, y)
    model.refiner.cfg = replace(model.refiner.cfg, value_rows=0)
    head = model.refiner.loss_increase(model, {k: v[:5] for k, v in xs.items()}, y[:5])
    torch.testing.assert_close(part, head)
    assert not torch.allclose(part, full)
    with pytest.raises(ValueError, match="value_rows"):
        REFINERS.create("vgmr", SHAPES, value_rows=-1)
