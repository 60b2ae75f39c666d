"""Your model in the lab (issue 28, first part): the plug-in contract, ``inspect`` on a plain-PyTorch model and the
refusals of bad model files and weights."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fusionlab.cli import main
from fusionlab.yours import build_yours, check_state, load_weights, save_weights, stored_shapes

ROOT = Path(__file__).resolve().parents[1]
DATA = ["--dataset", "synthetic", "--samples", "200", "--modalities", "2", "--dim", "4", "--seq-len", "3"]
GOOD = '''
import torch
from torch import nn

class M(nn.Module):
    def __init__(self, shapes, n_classes):
        super().__init__()
        self.names = sorted(shapes)
        self.lin = nn.Linear(sum(shapes[k][-1] for k in self.names), n_classes)
    def forward(self, xs):
        return self.lin(torch.cat([xs[k].mean(dim=1) if xs[k].ndim == 3 else xs[k] for k in self.names], dim=1))

def build(shapes, n_classes):
    return M(shapes, n_classes)
'''


def _write(tmp_path, text, name="model.py"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_vector_modality_is_handed_over_as_stored():
    assert stored_shapes({"a": (1, 5), "b": (3, 4)}) == {"a": (5,), "b": (3, 4)}
    seen = {}

    class Look(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Linear(5, 2)

        def forward(self, xs):
            seen.update({k: tuple(v.shape) for k, v in xs.items()})
            return self.w(xs["a"])

    model = build_yours(lambda shapes, c: Look(), {"a": (1, 5), "b": (3, 4)}, 2)
    out = model({"a": torch.zeros(7, 1, 5), "b": torch.zeros(7, 3, 4)})
    assert seen == {"a": (7, 5), "b": (7, 3, 4)} and tuple(out.logits.shape) == (7, 2)


def test_inspect_trains_and_measures_a_users_model_here(tmp_path):
    model = _write(tmp_path, GOOD)
    out = tmp_path / "o"
    assert main(["inspect", "--model", str(model), "--train", "--epochs", "2", "--permutations", "20", *DATA,
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and metrics["n_test"] > 0 and metrics["scaling"].startswith("standardised")
    for name in ("robustness.csv", "removal.csv", "perceptual.csv"):
        assert (out / name).stat().st_size > 0


def test_weights_round_trip_gives_the_same_tables(tmp_path):
    """Weights saved from a model and inspected give the tables of the model itself (nothing rescaled)."""
    from fusionlab.data import DataConfig, SplitConfig, prepare
    from fusionlab.data.synthetic import SyntheticConfig
    from fusionlab.yours import inspect
    model_file = _write(tmp_path, GOOD)
    data = prepare(DataConfig("synthetic", SyntheticConfig(n_samples=200, n_modalities=2, dim=4, seq_len=3)).load(),
                   SplitConfig(seed=0), scale=False)
    model = build_yours(str(model_file), data.shapes(), data.n_classes, seed=3)
    mine = inspect(model, data, permutations=20)
    save_weights(model, tmp_path / "w.safetensors")
    out = tmp_path / "o"
    assert main(["inspect", "--model", f"{model_file}:build", "--weights", str(tmp_path / "w.safetensors"),
                 "--permutations", "20", *DATA, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == mine["metrics"]["accuracy"] and metrics["scaling"] == "as stored"
    import pandas as pd
    pd.testing.assert_frame_equal(pd.read_csv(out / "removal.csv"), mine["removal"], check_dtype=False)


BAD_MODELS = {
    "missing": (None, "does not exist"),
    "no build": ("x = 1\n", "defines no function 'build'"),
    "import raises": ("raise RuntimeError('boom at import')\n", "importing model.py raised RuntimeError: boom"),
    "build raises": ("def build(shapes, n_classes):\n    raise KeyError('text')\n", "build(shapes, n_classes) raised KeyError"),
    "not a module": ("def build(shapes, n_classes):\n    return 3\n", "returned int, not a torch.nn.Module"),
    "forward raises": (GOOD.replace("xs[k].mean(dim=1) if", "xs['nope'] if"), "forward raised KeyError: 'nope'"),
    "wrong shape": (GOOD.replace("n_classes)\n    def", "n_classes + 1)\n    def"), "needs logits of shape (B, C)"),
    "nan logits": (GOOD.replace("return self.lin(", "return float('nan') * self.lin("), "NaN or infinite logits"),
}


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_a_bad_model_file_is_one_line_and_writes_nothing(tmp_path, capsys, case):
    text, needle = BAD_MODELS[case]
    model = tmp_path / "model.py" if text is None else _write(tmp_path, text)
    out = tmp_path / "o"
    assert main(["inspect", "--model", str(model), "--train", "--epochs", "1", *DATA, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_weights_are_checked_key_by_key_before_use(tmp_path):
    want = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}
    with pytest.raises(ValueError, match="lacks 'a.bias'"):
        check_state(want, {"a.weight": torch.zeros(2, 3)}, "w")
    with pytest.raises(ValueError, match="has 'b', which the model does not"):
        check_state(want, {**want, "b": torch.zeros(1)}, "w")
    with pytest.raises(ValueError, match=r"'a.weight' has shape \(3, 2\); the model's is \(2, 3\)"):
        check_state(want, {**want, "a.weight": torch.zeros(3, 2)}, "w")


def test_weights_that_are_not_safetensors_are_refused(tmp_path, capsys):
    model = _write(tmp_path, GOOD)
    fake = tmp_path / "w.safetensors"
    fake.write_bytes(b"\x80\x04pickle, not safetensors")
    assert main(["inspect", "--model", str(model), "--weights", str(fake), *DATA, "--out", str(tmp_path / "o")]) == 2
    assert "is not a safetensors file" in capsys.readouterr().err
    m = build_yours(str(model), {"m1": (3, 4), "m2": (3, 4)}, 2)
    with pytest.raises(ValueError, match="does not exist"):
        load_weights(m, tmp_path / "none.safetensors")


def test_inspect_needs_weights_or_train(tmp_path, capsys):
    model = _write(tmp_path, GOOD)
    assert main(["inspect", "--model", str(model), *DATA, "--out", str(tmp_path / "o")]) == 2
    assert "--weights" in capsys.readouterr().err


def test_the_example_trains_in_plain_pytorch_and_the_lab_reports_its_accuracy(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "your_model.py"), "--epochs", "2",
                           "--out", str(tmp_path / "ex")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "-> equal" in done.stdout


def test_a_lab_model_exported_and_inspected_gives_the_lab_tables(tmp_path):
    """The contract's oracle: a lab model written as a model file (standardising inside) and inspected on the stored
    features gives the tables the lab computed on its standardised features."""
    import pandas as pd
    args = [*DATA, "--epochs", "3", "--noise", "gaussian"]
    assert main(["train", *args, "--export-model", str(tmp_path / "m"), "--out", str(tmp_path / "t")]) == 0
    assert main(["robustness", *args, "--out", str(tmp_path / "r")]) == 0
    assert main(["inspect", "--model", str(tmp_path / "m" / "model.py"), "--weights",
                 str(tmp_path / "m" / "weights.safetensors"), "--noise", "gaussian", "--permutations", "20", *DATA,
                 "--out", str(tmp_path / "i")]) == 0
    lab, mine = json.loads((tmp_path / "t" / "metrics.json").read_text()), json.loads((tmp_path / "i" /
                                                                                       "metrics.json").read_text())
    assert mine["accuracy"] == lab["accuracy"] and mine["macro_f1"] == lab["macro_f1"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "i" / "removal.csv"), pd.read_csv(tmp_path / "t" / "removal.csv"))
    rob, seen = pd.read_csv(tmp_path / "r" / "robustness.csv"), pd.read_csv(tmp_path / "i" / "robustness.csv")
    assert rob["accuracy"].tolist() == seen["accuracy"].tolist()  # noise drawn on the stored scale: the same draws


def test_the_playground_refuses_a_model_file_unless_the_server_allows_user_code(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    monkeypatch.delenv("FUSIONLAB_ALLOW_USER_CODE", raising=False)
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=300)
    at.run()
    at.radio(key="playground-model-kind").set_value("your model file").run()
    assert not at.exception
    assert any("FUSIONLAB_ALLOW_USER_CODE=1" in i.value for i in at.info)
    assert not [t for t in at.text_input if t.key == "playground-yours-path"]


def test_the_playground_trains_and_shows_your_model_when_allowed(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    monkeypatch.setenv("FUSIONLAB_ALLOW_USER_CODE", "1")
    model = _write(tmp_path, GOOD)
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=300)
    at.run()
    at.radio(key="playground-model-kind").set_value("your model file").run()
    at.text_input(key="playground-yours-path").set_value(f"{model}:build").run()
    at.slider(key="playground-epochs").set_value(2)
    at.button(key="playground-train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state["playground-run"]
    assert run.result.config["yours"] == f"{model}:build" and "robustness" in run.result.tables
    assert any("your model" in c.value for c in at.caption)
    assert any("cannot be saved" in c.value for c in at.caption)  # no bundle carries code


def test_run_yours_with_weights_measures_the_features_as_stored(tmp_path):
    from fusionlab.data import SplitConfig, prepare
    from fusionlab.experiments import playground
    from fusionlab.yours import inspect
    model_file = _write(tmp_path, GOOD)
    cfg = playground.DEFAULT
    data = prepare(cfg.data.load(), SplitConfig(seed=0), scale=False)
    model = build_yours(str(model_file), data.shapes(), data.n_classes, seed=1)
    save_weights(model, tmp_path / "w.safetensors")
    res = playground.run_yours(cfg, str(model_file), (tmp_path / "w.safetensors").read_bytes())
    assert res.tables["metrics"]["accuracy"].iloc[0] == inspect(model, data, permutations=20)["metrics"]["accuracy"]
    with pytest.raises(ValueError, match="not a safetensors file"):
        playground.run_yours(cfg, str(model_file), b"junk")


GATED = '''
import torch
from torch import nn
from fusionlab.signals import Signal, tap

class Gated(nn.Module):
    """A gate z per sample weighs modality m1 against m2; z is declared and tapped, so the lab can permute it."""
    def __init__(self, shapes, n_classes):
        super().__init__()
        d = {k: shapes[k][-1] for k in shapes}
        self.g = nn.Linear(d["m1"] + d["m2"], 1)
        self.a, self.b = nn.Linear(d["m1"], n_classes), nn.Linear(d["m2"], n_classes)
    def signals(self):
        return {"gate/z": Signal("z", "m1")}
    def forward(self, xs, replace=None):
        x1, x2 = xs["m1"].mean(dim=1), xs["m2"].mean(dim=1)
        z = tap(replace, "gate/z", torch.sigmoid(self.g(torch.cat([x1, x2], dim=1))))
        return z * self.a(x1) + (1 - z) * self.b(x2)

def build(shapes, n_classes):
    return Gated(shapes, n_classes)
'''


def test_a_signal_your_model_taps_is_permuted_without_it_knowing_of_stacked_variants(tmp_path):
    """Your module calls tap(replace, key, value) on B rows; the lab's test stacks K variants, handed to it one by
    one. Oracle: the permuted pass equals your module run with the gate of row pi(i) put in by hand."""
    from fusionlab.diagnostics.signals import declared_signals
    model = build_yours(str(_write(tmp_path, GATED)), {"m1": (3, 4), "m2": (3, 4)}, 2, seed=0)
    assert set(declared_signals(model)) == {"gate/z"}
    xs = {"m1": torch.randn(5, 3, 4), "m2": torch.randn(5, 3, 4)}
    perm = torch.tensor([3, 1, 4, 0, 2, 0, 1, 2, 3, 4])  # two variants of 5 rows, stacked
    out = model(xs, replace={"gate/z": lambda z: z[perm]}).logits
    assert tuple(out.shape) == (10, 2)
    for b in range(2):
        rows = perm[b * 5:(b + 1) * 5]
        hand = model(xs, replace={"gate/z": lambda z, rows=rows: z[rows]}).logits
        assert torch.allclose(out[b * 5:(b + 1) * 5], hand)


def test_inspect_writes_the_signal_test_of_a_model_that_taps_one(tmp_path):
    out = tmp_path / "o"
    assert main(["inspect", "--model", str(_write(tmp_path, GATED)), "--train", "--epochs", "2",
                 "--permutations", "20", *DATA, "--out", str(out)]) == 0
    import pandas as pd
    table = pd.read_csv(out / "signal_permutation.csv")
    assert set(table["signal"]) == {"z"} and table["p_value"].between(0, 1).all()


def test_the_playground_reads_a_server_folder_only_when_the_server_allows_it(tmp_path, monkeypatch):
    """A folder on the server's disk is offered under the same opt-in as a model file; then it trains from it."""
    from streamlit.testing.v1 import AppTest
    rng = np.random.default_rng(0)
    d = tmp_path / "feats"
    d.mkdir()
    y = np.arange(90) % 2
    np.save(d / "text.npy", (rng.normal(size=(90, 4, 3)) + y[:, None, None]).astype(np.float32))
    np.save(d / "audio.npy", rng.normal(size=(90, 5)).astype(np.float32))
    np.save(d / "labels.npy", y)
    monkeypatch.delenv("FUSIONLAB_ALLOW_USER_CODE", raising=False)
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=300)
    at.run()
    at.selectbox(key="playground-dataset").set_value("file").run()
    assert not at.exception and not [r for r in at.radio if r.key == "playground-file-from"]
    monkeypatch.setenv("FUSIONLAB_ALLOW_USER_CODE", "1")
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=300)
    at.run()
    at.selectbox(key="playground-dataset").set_value("file").run()
    at.radio(key="playground-file-from").set_value("a folder on this server").run()
    at.text_input(key="playground-file-folder").set_value(str(tmp_path / "nowhere")).run()
    assert any("is not a folder on this server" in w.value for w in at.warning)
    at.text_input(key="playground-file-folder").set_value(str(d)).run()
    at.slider(key="playground-epochs").set_value(2)
    at.button(key="playground-train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = at.session_state["playground-run"]
    assert sorted(run.result.config["views"]) == ["audio", "text"]


def test_inspect_and_the_signal_test_read_a_folder_left_on_disk(tmp_path, monkeypatch):
    """A folder over the memory budget (here 0) is inspected like one in memory: the tests that permute the whole
    test split read it whole."""
    from fusionlab.cli import main
    monkeypatch.delenv("FUSIONLAB_MEMORY_BUDGET", raising=False)  # --memory-budget sets it for the process: undone after
    rng = np.random.default_rng(1)
    d = tmp_path / "feats"
    d.mkdir()
    y = np.arange(120) % 2
    np.save(d / "m1.npy", (rng.normal(size=(120, 3, 4)) + y[:, None, None]).astype(np.float32))
    np.save(d / "m2.npy", rng.normal(size=(120, 6)))
    np.save(d / "labels.npy", y)
    model = _write(tmp_path, GOOD)
    for budget, out in (("0", "disk"), ("2", "held")):
        assert main(["inspect", "--model", f"{model}:build", "--train", "--epochs", "2", "--dataset", "file", "--file",
                     str(d), "--memory-budget", budget, "--out", str(tmp_path / out)]) == 0
    disk, held = (json.loads((tmp_path / o / "metrics.json").read_text()) for o in ("disk", "held"))
    assert disk["accuracy"] == held["accuracy"]
    assert (tmp_path / "disk" / "perceptual.csv").exists()
