"""VGMR (the VGMR paper, docs/methods.md, VGMR): gate algebra, shapes, gradients, ablation switches, determinism."""
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


@pytest.mark.parametrize("norm", ["post-gate", "pre-gate", "none"])
def test_refined_follows_the_norm_option_in_eval_mode(norm):
    ref = _refiner(norm=norm).eval()
    xs = _inputs()
    out, extras = ref(xs)
    for k, x in xs.items():
        d = x.shape[-1]
        with torch.no_grad():  # make each modality's affine visible: modalities must not mix
            ref.modality_weights(k)["norm_weight"].copy_(torch.linspace(0.5, 2.0, d))
            ref.modality_weights(k)["norm_bias"].copy_(torch.linspace(-1.0, 1.0, d))
    out, extras = ref(xs)
    for i, (k, x) in enumerate(xs.items()):
        d = x.shape[-1]
        ln = lambda z: F.layer_norm(z, (d,), torch.linspace(0.5, 2.0, d), torch.linspace(-1.0, 1.0, d))  # noqa: E731
        g = extras[key("G_eff", k)]
        expected = {"post-gate": ln(g * x), "pre-gate": g * ln(x), "none": g * x}[norm]
        assert torch.allclose(out[k], expected, atol=1e-5)


def test_post_gate_layernorm_erases_a_gate_uniform_within_each_timestep():
    """docs/methods.md, VGMR: LN over channels cancels scaling uniform within a timestep; pre-gate keeps it."""
    gen = torch.Generator().manual_seed(0)  # drawn, not global: a row of tiny variance met LayerNorm's eps (flaky)
    x = 3 * torch.randn(4, 5, 6, generator=gen)
    scale = torch.rand(4, 5, 1, generator=gen) + 0.5  # one factor per (sample, timestep)
    for norm, erased in (("post-gate", True), ("pre-gate", False)):
        ref = _refiner(norm=norm).eval()
        w = ref.blocks[0]
        one = lambda g: ref.refine(g.unsqueeze(0), x.unsqueeze(0), w)  # noqa: E731
        same = torch.allclose(one(scale.expand_as(x)), one(torch.ones_like(x)), atol=1e-3)  # up to LN's eps
        assert same == erased, norm


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


def test_loss_increase_has_one_entry_per_sample_and_modality_and_no_gradient():
    model = _model().train()
    xs, y = _inputs(b=9), torch.arange(9) % 3
    delta = model.refiner.loss_increase(model, xs, y)
    assert delta.shape == (9, 3) and not delta.requires_grad and torch.isfinite(delta).all()


@pytest.mark.parametrize("target_kind,regulariser", [("sample", "both"), ("batch", "global"), ("sample", "global")])
def test_value_target_and_extra_loss_follow_the_formulas(target_kind, regulariser):
    """Delta_{m,i} = CE_i(m zeroed) - CE_i(all) in eval mode; extra = beta L_value + gamma L_reg (docs/methods.md
    §3.9): per sample (or the batch mean of Delta), and L_reg on v_g and v_c (or on v_g only)."""
    model = _model(d=8, beta=0.7, gamma=0.3, tau=0.5, kappa=0.4, value_target=target_kind,
                   regulariser=regulariser).train()
    xs, y = _inputs(b=10), torch.arange(10) % 3
    model.eval()
    with torch.no_grad():
        ce = lambda inputs: F.cross_entropy(model(inputs).logits, y, reduction="none")  # noqa: E731
        base = ce(xs)
        expected = torch.stack([ce({**xs, k: torch.zeros_like(xs[k])}) - base for k in SHAPES], 1)  # (B, M)
    model.train()
    torch.testing.assert_close(model.refiner.loss_increase(model, xs, y), expected)
    with seeded(1):
        out = model(xs)
    v_g = torch.stack([out.extras[key("v_g", k)] for k in SHAPES], 1)  # (B, M)
    v_c_full = torch.stack([out.extras[key("v_c", k)] for k in SHAPES], 1)  # (B, M, d)
    v_c = v_c_full.mean(-1)
    if target_kind == "sample":
        target = torch.sigmoid(expected / 0.5)
        l_value = (((v_g - target) ** 2) + ((v_c - target) ** 2)).sum(1).mean()
    else:
        target = torch.sigmoid(expected.mean(0) / 0.5)
        l_value = ((v_g.mean(0) - target) ** 2 + (v_c.mean(0) - target) ** 2).sum()
    l_reg = torch.relu(0.4 - v_g.std(0)).sum()
    if regulariser == "both":
        l_reg = l_reg + torch.relu(0.4 - v_c_full.std(0)).mean(-1).sum()
    torch.testing.assert_close(model.extra_loss(xs, y, out), 0.7 * l_value + 0.3 * l_reg)


def test_unknown_choices_are_refused_by_name():
    for name in ("value_target", "regulariser", "norm"):
        with pytest.raises(ValueError, match=name):
            REFINERS.create("vgmr", SHAPES, **{name: "bogus"})


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


INTERLEAVED = {"a": (5, 6), "b": (1, 4), "c": (5, 6), "e": (1, 4), "f": (3, 6)}  # two groups interleaved, one alone


def _interleaved(**options):
    with seeded(0):
        return REFINERS.create("vgmr", INTERLEAVED, d=8, **options)


def _own_refiner(ref, xs, v_g, v_c):
    """Each modality's G and X~ from its own weights alone (docs/methods.md, VGMR, 3.5-3.8, eval mode)."""
    gates, refined = {}, {}
    for i, k in enumerate(INTERLEAVED):
        w, x, d = ref.modality_weights(k), xs[k], INTERLEAVED[k][1]
        p = x @ w["proj_weight"] + w["proj_bias"]
        logits = x @ w["gate_x_weight"] + w["gate_x_bias"] + p @ w["gate_p_weight"]
        vs = ([v_g[i].unsqueeze(-1) - 0.5] if ref.cfg.use_global_value else []) + \
             ([v_c[i] - 0.5] if ref.cfg.use_channel_value else [])
        if vs:
            logits = logits + (torch.cat(vs, -1) @ w["gate_v_weight"]).unsqueeze(1)
        gates[k] = torch.sigmoid(logits)
        g_eff = ref.cfg.rho + (1 - ref.cfg.rho) * (1 + ref.cfg.lambda_amp * (2 * gates[k] - 1))
        refined[k] = F.layer_norm(g_eff * x, (d,), w["norm_weight"], w["norm_bias"])
    return gates, refined


@pytest.mark.parametrize("row", list(ABLATIONS))
def test_each_modality_is_refined_by_its_own_weights_whatever_its_shape_group(row):
    """Modalities are stacked by shape; regrouping must put every result back on its own modality."""
    ref = _interleaved(**ABLATIONS[row]).eval()
    assert [g.index for g in ref.groups] == [(0, 2), (1, 3), (4,)]
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # LayerNorm's affine starts equal for all modalities: make each its own
        for block in ref.blocks:
            block.norm_weight.copy_(torch.rand(block.norm_weight.shape, generator=g) + 0.5)
            block.norm_bias.copy_(torch.randn(block.norm_bias.shape, generator=g))
    xs = {k: torch.randn(4, t, d, generator=g) for k, (t, d) in INTERLEAVED.items()}
    out, extras = ref(xs)
    v_g = torch.stack([extras[key("v_g", k)] for k in INTERLEAVED])
    v_c = torch.stack([extras[key("v_c", k)] for k in INTERLEAVED])
    gates, refined = _own_refiner(ref, xs, v_g, v_c)
    for k in INTERLEAVED:
        torch.testing.assert_close(extras[key("G", k)], gates[k])
        torch.testing.assert_close(out[k], refined[k])
    pooled = []  # the values, from each modality's own projection
    for k in INTERLEAVED:
        w = ref.modality_weights(k)
        p = xs[k] @ w["proj_weight"] + w["proj_bias"]
        pooled.append(torch.cat([p.mean(1), p.amax(1)], -1))
    u = ref.value_encoder(ref.interaction_input(ref.evidence(ref.summary(torch.stack(pooled)))))
    v = torch.sigmoid(ref.value_head(u))
    torch.testing.assert_close(v_g, v[..., 0])
    torch.testing.assert_close(v_c, v[..., 1:])


def test_parameters_are_exactly_each_modalitys_own():
    """No padding: the count is the sum of every modality's own blocks (it sizes the §4.5 baselines)."""
    ref = _interleaved()
    d, n_value = 8, 1 + 8
    own = sum(dim * d + d + dim * dim + dim + d * dim + n_value * dim + 2 * dim for _, dim in INTERLEAVED.values())
    shared = sum(p.numel() for mod in (ref.summary, ref.value_encoder, ref.value_head) for p in mod.parameters())
    assert sum(p.numel() for p in ref.parameters()) == own + shared


def test_only_the_refined_modalitys_gate_weights_get_a_gradient():
    """A loss on one modality's X~ reaches other modalities only through the values, never
    through their own gate input weights A_m: checks that each group row is its own modality's."""
    ref = _interleaved().train()
    g = torch.Generator().manual_seed(2)
    xs = {k: torch.randn(6, t, d, generator=g) for k, (t, d) in INTERLEAVED.items()}
    out, _ = ref(xs)
    out["e"].pow(2).sum().backward()  # 'e' is the second row of the second group
    for k in INTERLEAVED:
        i = ref.names.index(k)
        (group, block), = [(gr, bl) for gr, bl in zip(ref.groups, ref.blocks) if i in gr.index]
        grad = block.gate_x_weight.grad  # None: no path to the loss at all
        moved = grad is not None and bool(grad[group.index.index(i)].abs().sum() > 0)
        assert moved == (k == "e"), k
    assert ref.blocks[0].proj_weight.grad.abs().sum() > 0  # the others do reach 'e' through the values


def test_value_rows_computes_the_target_on_the_first_rows_only():
    model = _model(d=8).train()
    xs, y = _inputs(b=12), torch.arange(12) % 3
    full = model.refiner.loss_increase(model, xs, y)
    model.refiner.cfg = replace(model.refiner.cfg, value_rows=8)  # one of the declared choices (0, 32, 16, 8)
    part = model.refiner.loss_increase(model, xs, y)
    model.refiner.cfg = replace(model.refiner.cfg, value_rows=0)
    head = model.refiner.loss_increase(model, {k: v[:8] for k, v in xs.items()}, y[:8])
    torch.testing.assert_close(part, head)
    assert part.shape == (8, 3) and full.shape == (12, 3)
    torch.testing.assert_close(part, full[:8])  # per-sample losses in eval mode: rows do not interact
    with pytest.raises(ValueError, match="value_rows"):
        REFINERS.create("vgmr", SHAPES, value_rows=-1)
