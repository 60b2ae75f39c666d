"""Every registered fusion operator obeys the forward contract (parametrised over the registry)."""
import pytest
import torch

from fusionlab.fusion import FUSIONS, create_fusion, product_pair
from fusionlab.models import seeded

CASES = {
    "vectors-2": ([(1, 5), (1, 7)]),
    "sequences-3": ([(4, 6), (3, 6), (1, 8)]),
}


def _inputs(shapes, b=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, t, d, generator=g) for t, d in shapes]


def _make(name, shapes, seed=0):
    with seeded(seed):
        return create_fusion(name, [d for _, d in shapes], [f"m{i}" for i in range(len(shapes))])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", FUSIONS.names())
def test_shape_finite_and_gradients(name, case):
    shapes = CASES[case]
    op = _make(name, shapes)
    hs = [h.requires_grad_() for h in _inputs(shapes)]
    out = op(hs)
    assert out.fused.shape == (5, op.out_dim)
    assert torch.isfinite(out.fused).all()
    for k, v in out.extras.items():
        assert v.shape[0] == 5, k
    out.fused.pow(2).sum().backward()
    for pname, p in op.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient reaches {pname}"
    assert all(h.grad is not None for h in hs)


@pytest.mark.parametrize("name", FUSIONS.names())
def test_same_seed_same_numbers(name):
    shapes = CASES["sequences-3"]
    a, b, c = _make(name, shapes, 0), _make(name, shapes, 0), _make(name, shapes, 1)
    hs = _inputs(shapes)
    assert torch.equal(a(hs).fused, b(hs).fused)
    if any(True for _ in c.parameters()):
        assert not torch.equal(a(hs).fused, c(hs).fused)


def test_wrong_input_shape_names_the_modality():
    op = _make("concat", CASES["vectors-2"])
    with pytest.raises(ValueError, match="m1"):
        op([torch.randn(2, 1, 5), torch.randn(2, 1, 6)])


def test_concat_equals_torch_cat():
    hs = _inputs(CASES["vectors-2"])
    out = _make("concat", CASES["vectors-2"])(hs)
    assert torch.equal(out.fused, torch.cat([h[:, 0] for h in hs], dim=-1))


def test_product_pairs_a_with_b_and_reversed_b():
    a, b = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[4.0, 5.0, 6.0]])
    assert product_pair(a, b).tolist() == [[4.0, 10.0, 18.0, 6.0, 10.0, 12.0]]
    op = _make("product", [(1, 3), (1, 3)])  # equal sizes: no projection
    assert list(op.parameters()) == []
    assert torch.equal(op([a[:, None], b[:, None]]).fused, product_pair(a, b))


@pytest.mark.parametrize("append_one", [True, False])
def test_tensor_is_outer_product(append_one):
    a, b = torch.randn(2, 3), torch.randn(2, 4)
    with seeded(0):
        op = create_fusion("tensor", [3, 4], ["a", "b"], append_one=append_one)
    out = op([a[:, None], b[:, None]]).fused
    if append_one:
        a, b = torch.cat([a, torch.ones(2, 1)], 1), torch.cat([b, torch.ones(2, 1)], 1)
    assert out.shape == (2, a.shape[1] * b.shape[1])
    assert torch.allclose(out, torch.einsum("bi,bj->bij", a, b).flatten(1))


def test_gated_exposes_gate_in_unit_interval():
    op = _make("gated", CASES["vectors-2"])
    z = op(_inputs(CASES["vectors-2"])).extras["gate"]
    assert z.shape == (5, 2, op.out_dim) and (z > 0).all() and (z < 1).all()


def test_cross_attention_weights_are_distributions():
    shapes = CASES["sequences-3"]
    out = _make("cross_attention", shapes)(_inputs(shapes))
    w = out.extras["attention/m0"]
    assert w.shape == (5, 4, 3 + 1)  # m0's 4 tokens attend to m1's 3 and m2's 1
    assert torch.allclose(w.sum(-1), torch.ones(5, 4), atol=1e-5)


def test_the_bimodal_gmu_is_z_times_the_first_plus_one_minus_z_times_the_second():
    from fusionlab.fusion import create_fusion
    torch.manual_seed(0)
    f = create_fusion("gated", [5, 3], ["a", "b"], dim=4, form="bimodal")
    xa, xb = torch.randn(7, 1, 5), torch.randn(7, 1, 3)
    out = f([xa, xb])
    a, b = xa[:, 0], xb[:, 0]
    z = torch.sigmoid(f.gate(torch.cat([a, b], dim=1)))
    want = z * torch.tanh(f.proj[0](a)) + (1 - z) * torch.tanh(f.proj[1](b))
    torch.testing.assert_close(out.fused, want)
    torch.testing.assert_close(out.extras["gate"].sum(dim=1), torch.ones(7, 4))  # z and 1 - z
    with pytest.raises(ValueError, match="bimodal GMU gates two modalities"):
        create_fusion("gated", [5, 3, 2], ["a", "b", "c"], dim=4, form="bimodal")
