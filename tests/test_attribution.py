"""Attribution (issue 29, the computation): Shapley values, Möbius terms, the subset table and EMAP, held to their
axioms and to models whose answers are known."""
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from fusionlab.diagnostics.attribution import (AttributionConfig, attribute, coalition_logits, coalitions, emap_logits,
                                               shapley, values_of)

torch.manual_seed(0)


class Additive(nn.Module):
    """Logits a sum of one linear term per modality."""

    def __init__(self, dims, c=3):
        super().__init__()
        self.terms = nn.ModuleDict({k: nn.Linear(d, c) for k, d in dims.items()})

    def forward(self, xs):
        return sum(self.terms[k](xs[k].mean(dim=1)) for k in self.terms)


class Product(nn.Module):
    """Two classes, logit ±(w·x1)(u·x2): nothing but an interaction."""

    def __init__(self, d):
        super().__init__()
        self.w, self.u = nn.Linear(d, 1, bias=False), nn.Linear(d, 1, bias=False)

    def forward(self, xs):
        s = self.w(xs["a"].mean(dim=1)) * self.u(xs["b"].mean(dim=1))
        return torch.cat([s, -s], dim=1)


class Mixed(nn.Module):
    """A non-additive MLP over several modalities; ``ignore`` names one it never reads."""

    def __init__(self, dims, ignore=None, c=3):
        super().__init__()
        self.keep = [k for k in dims if k != ignore]
        self.net = nn.Sequential(nn.Linear(sum(dims[k] for k in self.keep), 16), nn.Tanh(), nn.Linear(16, c))

    def forward(self, xs):
        return self.net(torch.cat([xs[k].mean(dim=1) for k in self.keep], dim=1))


def _data(dims, n=30):
    xs = {k: torch.randn(n, 2, d) for k, d in dims.items()}
    base = {k: torch.randn(d) * 0.1 for k, d in dims.items()}
    return xs, base, torch.randint(0, 3, (n,))


def test_efficiency_the_values_sum_to_the_full_minus_the_empty_coalition():
    dims = {"a": 3, "b": 2, "c": 4}
    xs, base, y = _data(dims)
    att = attribute(Mixed(dims), xs, base, y, with_emap=False)
    phi = att.shapley.pivot(index="row", columns="modality", values="phi").sum(axis=1).to_numpy()
    v = att.coalitions.pivot(index="row", columns="coalition", values="value")
    assert np.allclose(phi, (v["a+b+c"] - v["∅"]).to_numpy(), atol=1e-5)


def test_symmetry_and_dummy():
    dims = {"a": 3, "b": 3, "c": 2}
    model = Mixed(dims, ignore="c")
    xs, base, y = _data(dims)
    att = attribute(model, xs, base, y, with_emap=False)
    assert (att.shapley[att.shapley["modality"] == "c"]["phi"] == 0).all()  # exactly: c never changes an output

    class Sym(nn.Module):
        def forward(self, xs):
            s = xs["a"].mean(dim=1) + xs["b"].mean(dim=1)
            return torch.cat([s.sum(1, keepdim=True) ** 2, s[:, :1]], dim=1)

    same = {"a": xs["a"], "b": xs["a"].clone()}
    att = attribute(Sym(), same, {"a": base["a"], "b": base["a"].clone()}, y % 2, with_emap=False)
    phi = att.shapley.pivot(index="row", columns="modality", values="phi")
    assert np.allclose(phi["a"], phi["b"], atol=1e-9)


def test_an_additive_logit_model_is_its_terms_has_no_interaction_and_equals_its_emap():
    dims = {"a": 3, "b": 4}
    model = Additive(dims)
    xs, base, y = _data(dims)
    att = attribute(model, xs, base, y, AttributionConfig(output="logit"))
    full = model(xs).argmax(dim=1)
    for k in dims:
        with torch.no_grad():
            term = model.terms[k](xs[k].mean(dim=1)) - model.terms[k](base[k].expand_as(xs[k]).mean(dim=1))
        want = term.gather(1, full[:, None]).squeeze(1).numpy()
        assert np.allclose(att.shapley[att.shapley["modality"] == k]["phi"].to_numpy(), want, atol=1e-5)
    assert att.emap["interaction_share"] < 1e-6
    with torch.no_grad():
        assert torch.allclose(emap_logits(model, xs).float(), model(xs), atol=1e-5)  # EMAP of an additive model: itself
    assert att.emap["emap_accuracy"] == att.emap["accuracy"]


def test_a_product_model_is_all_interaction_at_a_zero_baseline():
    model = Product(3)
    xs, _, y = _data({"a": 3, "b": 3})
    att = attribute(model, xs, {"a": torch.zeros(3), "b": torch.zeros(3)}, y % 2, AttributionConfig(output="logit"))
    assert att.emap["interaction_share"] > 0.999


def test_exact_shapley_equals_the_average_over_all_orderings():
    dims = {"a": 2, "b": 3, "c": 2, "d": 1}
    xs, base, y = _data(dims, n=12)
    model = Mixed(dims)
    names = list(dims)
    subsets = coalitions(names)
    logits = coalition_logits(model, xs, base, subsets)
    v = values_of(logits, logits[-1].argmax(dim=1), "margin").numpy()
    where = {frozenset(s): i for i, s in enumerate(subsets)}
    brute = np.zeros((v.shape[1], len(names)))
    for order in itertools.permutations(names):
        have = frozenset()
        for m in order:
            brute[:, names.index(m)] += v[where[have | {m}]] - v[where[have]]
            have = have | {m}
    brute /= math.factorial(len(names))
    assert np.allclose(shapley(v, subsets, names), brute, atol=1e-9)


def test_the_subset_table_has_every_non_empty_coalition_and_too_many_modalities_are_refused():
    dims = {"a": 2, "b": 2, "c": 2}
    xs, base, y = _data(dims)
    att = attribute(Mixed(dims), xs, base, y, with_emap=False)
    assert len(att.subsets) == 7 and att.subsets["accuracy"].between(0, 1).all()
    with pytest.raises(ValueError, match="at most 8 modalities"):
        coalitions([f"m{i}" for i in range(9)])
    with pytest.raises(ValueError, match="output must be one of"):
        AttributionConfig(output="shap")


def test_the_command_line_writes_every_attribution_table(tmp_path, capsys):
    import json

    import pandas as pd

    from fusionlab.cli import main
    data = ["--dataset", "synthetic", "--samples", "200", "--modalities", "3", "--epochs", "2"]
    assert main(["attribution", *data, "--at", "m1=0.5", "--out", str(tmp_path / "a")]) == 0
    shap = pd.read_csv(tmp_path / "a" / "shapley.csv")
    coal = pd.read_csv(tmp_path / "a" / "coalitions.csv")
    assert set(shap["modality"]) == {"m1", "m2", "m3"} and coal["coalition"].nunique() == 8
    emap = json.loads((tmp_path / "a" / "emap.json").read_text())
    assert {"accuracy", "emap_accuracy", "interaction_share"} <= set(emap)
    assert len(pd.read_csv(tmp_path / "a" / "subsets.csv")) == 7
    assert main(["train", *data, "--attribution", "--out", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "shapley.csv").exists() and (tmp_path / "t" / "history.csv").exists()
    assert main(["attribution", *data, "--at", "nope=1", "--out", str(tmp_path / "b")]) == 2
    assert "'nope', not a modality" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_the_playground_shows_the_samples_shapley_bars_and_the_test_sets_attribution():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "1_playground.py"),
                           default_timeout=300)
    at.run()
    at.slider(key="playground-epochs").set_value(3)
    at.button(key="playground-train").click().run()
    assert not at.exception
    assert "shapley" in at.session_state["playground-live-shown"]  # in the live view: it answers every slider
    at.button(key="playground-attr-go").click().run()
    assert not at.exception
    subsets = next(d.value for d in at.dataframe if "coalition" in d.value.columns)
    assert list(subsets["coalition"]) == ["pix", "mor", "pix+mor"]
    said = [m.value for m in at.markdown if m.value.startswith("**EMAP**")]
    assert said and "McNemar p" in said[0]


@pytest.mark.parametrize("command, args", [("vgmr", ["--epochs", "2", "--seeds", "2", "--samples", "200"]),
                                           ("udml", ["--epochs", "3", "--seeds", "1", "--samples", "200"])])
def test_the_studies_write_the_attribution_of_their_first_seeds_model(tmp_path, command, args):
    import json

    import pandas as pd

    from fusionlab.cli import main
    assert main([command, *args, "--attribution", "--at", "m1=0.5", "--out", str(tmp_path / "o")]) == 0
    shap = pd.read_csv(tmp_path / "o" / "shapley.csv")
    coal = pd.read_csv(tmp_path / "o" / "coalitions.csv").pivot(index="row", columns="coalition", values="value")
    total = shap.groupby("row")["phi"].sum()
    full = coal[max(coal.columns, key=lambda c: c.count("+"))]
    assert np.allclose(total.to_numpy(), (full - coal["∅"]).to_numpy(), atol=1e-5)  # efficiency, from the files
    assert "emap_accuracy" in json.loads((tmp_path / "o" / "emap.json").read_text())


def test_the_scaling_study_sets_each_model_beside_its_emap_and_judges_the_interaction(tmp_path):
    import pandas as pd

    from fusionlab.cli import main
    from fusionlab.experiments.scaling_findings import interaction_finding
    out = tmp_path / "s"
    assert main(["scaling", "--clip-samples", "300", "--fusions", "concat,product", "--sizes", "32,64", "--seeds", "2",
                 "--epochs", "2", "--levels", "0,0.5", "--attribution", "--out", str(out)]) == 0
    emap = pd.read_csv(out / "emap.csv")
    assert list(emap.columns) == ["fusion", "label", "size", "seed", "accuracy", "emap_accuracy", "interaction_share"]
    scores = pd.read_csv(out / "scaling.csv").set_index(["fusion", "size", "seed"])["test_accuracy"]
    # the attribution's model is the study's model: its accuracy is the scores table's, seed by seed
    assert np.allclose(emap.set_index(["fusion", "size", "seed"])["accuracy"].loc[scores.index], scores)
    assert emap["interaction_share"].between(0, 1).all()
    # product of two features at their zero train mean: either one alone carries nothing, all is interaction
    assert (emap.loc[emap["fusion"] == "product", "interaction_share"] > 0.99).all()

    def table(gap_product, gap_concat):
        rng = np.random.default_rng(0)
        return pd.DataFrame([{"fusion": f, "size": 64, "seed": s, "accuracy": 0.9, "interaction_share": 0.5,
                              "emap_accuracy": 0.9 - g + rng.normal(0, 0.005)}
                             for s in range(5) for f, g in (("product", gap_product), ("concat", gap_concat))])
    assert interaction_finding(table(0.2, 0.0)).holds is True
    assert interaction_finding(table(0.0, 0.2)).holds is False
    assert interaction_finding(table(0.2, 0.0).query("fusion == 'product'")).holds is None


@pytest.mark.parametrize("page, train, go, setup", [
    ("3_gates_values.py", "gates_values-train", "gates_values-attr-go",
     {"number_input": {"gates_values-synthetic-n_samples": 160, "gates_values-synthetic-seq_len": 4},
      "slider": {"gates_values-epochs": 1}}),
    ("5_uncertainty_weighting.py", "udml-train", "udml-udml-attr-go",
     {"number_input": {"udml-synthetic-n_samples": 200}, "slider": {"udml-epochs": 2, "udml-seeds": 1}}),
])
def test_the_gates_and_uncertainty_pages_say_which_modality_their_model_used(page, train, go, setup):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / page), default_timeout=300)
    at.run()
    for kind, values in setup.items():
        for key, value in values.items():
            getattr(at, kind)(key=key).set_value(value)
    at.button(key=train).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.anchor == "which-modality-did-it-use" for s in at.subheader)
    if page.startswith("3"):
        assert "shapley" in at.session_state["gates_values-live-shown"]  # the sample's bars, in the live view
    at.button(key=go).click().run()
    assert not at.exception, [e.value for e in at.exception]
    subsets = next(d.value for d in at.dataframe if "coalition" in d.value.columns)
    names = subsets["coalition"].iloc[-1].split("+")  # the last coalition keeps every modality
    assert len(names) >= 2 and len(subsets) == 2 ** len(names) - 1  # every non-empty coalition
    said = [m.value for m in at.markdown if m.value.startswith("**EMAP**")]
    assert said and "McNemar p" in said[0]


def test_a_bundles_model_and_a_users_model_are_attributed_as_the_lab_attributes_its_own(tmp_path, capsys):
    import json
    from dataclasses import replace

    import pandas as pd

    from fusionlab import bundles
    from fusionlab.cli import main
    from fusionlab.data import DataConfig, SyntheticConfig
    from fusionlab.experiments import playground
    cfg = replace(playground.DEFAULT, data=DataConfig("synthetic", SyntheticConfig(n_samples=240, dim=6)),
                  train=replace(playground.DEFAULT.train, epochs=2, seed=4))
    result = playground.run(cfg)
    zipped = tmp_path / "run.zip"
    zipped.write_bytes(bundles.save(playground.SAVING, cfg, result))
    assert main(["attribution", "--bundle", str(zipped), "--at", "m1=0.5", "--out", str(tmp_path / "b")]) == 0
    from fusionlab.diagnostics.attribution import attribute_data
    own = attribute_data(result.artifacts.model, result.artifacts.data, {"m1": 0.5}, "mix", 4)  # the run's seed
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "b" / "shapley.csv"), own.shapley, check_dtype=False)
    assert json.loads((tmp_path / "b" / "emap.json").read_text()) == pytest.approx(own.emap)
    # a study the command cannot take one model from, and a file that is no bundle: one line each, nothing written
    from fusionlab.experiments import scaling
    small = replace(scaling.DEFAULT, data=DataConfig("clip-like", scaling.ClipLikeConfig(n_samples=300)),
                    fusions=("concat",), sizes=(32,), n_seeds=1, levels=(0.0,))
    (tmp_path / "s.zip").write_bytes(bundles.save(scaling.SAVING, small, scaling.run(small)))
    assert main(["attribution", "--bundle", str(tmp_path / "s.zip"), "--out", str(tmp_path / "c")]) == 2
    assert "scaling --attribution" in capsys.readouterr().err and not (tmp_path / "c").exists()
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["attribution", "--bundle", str(tmp_path / "junk.zip"), "--out", str(tmp_path / "d")]) == 2
    assert not (tmp_path / "d").exists()
    # your own model, inspected with --attribution: efficiency holds in its files
    model = tmp_path / "m.py"
    model.write_text("import torch\nfrom torch import nn\n\nclass M(nn.Module):\n    def __init__(self, shapes, c):\n"
                     "        super().__init__()\n        self.names = sorted(shapes)\n"
                     "        self.lin = nn.Linear(sum(shapes[k][-1] for k in self.names), c)\n"
                     "    def forward(self, xs):\n        return torch.tanh(self.lin(torch.cat([xs[k] for k in self.names],"
                     " 1)))\n\ndef build(shapes, n_classes):\n    return M(shapes, n_classes)\n")
    assert main(["inspect", "--model", str(model), "--train", "--epochs", "1", "--permutations", "5", "--dataset",
                 "synthetic", "--samples", "200", "--modalities", "3", "--attribution", "--out", str(tmp_path / "i")]) == 0
    shap = pd.read_csv(tmp_path / "i" / "shapley.csv")
    coal = pd.read_csv(tmp_path / "i" / "coalitions.csv").pivot(index="row", columns="coalition", values="value")
    assert np.allclose(shap.groupby("row")["phi"].sum(), coal["m1+m2+m3"] - coal["∅"], atol=1e-5)
    metrics = json.loads((tmp_path / "i" / "metrics.json").read_text())
    assert json.loads((tmp_path / "i" / "emap.json").read_text())["accuracy"] == pytest.approx(metrics["accuracy"])


def test_attribution_of_your_model_file_equals_inspects(tmp_path):
    import pandas as pd

    from fusionlab.cli import main
    from fusionlab.data import DataConfig, SplitConfig, prepare
    from fusionlab.data.synthetic import SyntheticConfig
    from fusionlab.yours import build_yours, save_weights
    model = tmp_path / "m.py"
    model.write_text("import torch\nfrom torch import nn\n\nclass M(nn.Module):\n    def __init__(self, shapes, c):\n"
                     "        super().__init__()\n        self.a = nn.Linear(shapes['m1'][-1], c)\n"
                     "        self.b = nn.Linear(shapes['m2'][-1], c)\n    def forward(self, xs):\n"
                     "        return self.a(xs['m1']) * torch.sigmoid(self.b(xs['m2']))\n\n"
                     "def build(shapes, n_classes):\n    return M(shapes, n_classes)\n")
    data = ["--dataset", "synthetic", "--samples", "200", "--modalities", "2"]
    prepared = prepare(DataConfig("synthetic", SyntheticConfig(n_samples=200, n_modalities=2)).load(),
                       SplitConfig(seed=0), scale=False)
    save_weights(build_yours(str(model), prepared.shapes(), prepared.n_classes, seed=1), tmp_path / "w.safetensors")
    mine = ["--model", str(model), "--weights", str(tmp_path / "w.safetensors"), *data, "--at", "m2=0.5"]
    assert main(["attribution", *mine, "--out", str(tmp_path / "a")]) == 0
    assert main(["inspect", *mine, "--permutations", "5", "--attribution", "--out", str(tmp_path / "i")]) == 0
    for name in ("shapley.csv", "subsets.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / name), pd.read_csv(tmp_path / "i" / name))
    phi = pd.read_csv(tmp_path / "a" / "shapley.csv")
    assert phi["phi"].abs().sum() > 0  # a multiplicative model: neither modality is a dummy
    assert main(["attribution", "--weights", str(tmp_path / "w.safetensors"), *data, "--out", str(tmp_path / "x")]) == 2
