"""Tests over the registries (issue 27 item 4): every fusion operator on every path it is offered on (the
batched multi-seed path included), every declared option's widget and flag, every dataset's widgets rendered;
a declaration a page could not draw (an int option without a range) is refused when it is registered."""
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from fusionlab.batched import batched_fit
from fusionlab.data import DATASETS, SyntheticConfig, make_synthetic, prepare
from fusionlab.fusion import FUSIONS, fusion_options
from fusionlab.models import ModelConfig, build_model
from fusionlab.options import controls, kind_of, option
from fusionlab.train import TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [3, 11]


@pytest.fixture(scope="module")
def dot_data():
    return prepare(make_synthetic(SyntheticConfig(n_samples=200, n_modalities=2, dim=6, rule="dot", seed=2)))


def _bounds(name, defaults=None):
    """Each declared option of operator ``name`` at a value away from its default (its range's far end): the
    study's own default where it has one (``defaults``), so a flag or widget that were ignored would fail."""
    cls, defaults = fusion_options(name), defaults or {}
    out = {}
    for f in controls(cls) if cls else ():
        kind, meta, start = kind_of(f), f.metadata, defaults.get(f.name, f.default)
        if kind == "bool":
            out[f.name] = not start
        elif kind in ("int", "float"):
            far = meta["lo"] if start != meta["lo"] else meta["hi"]
            out[f.name] = type(f.default)(far)
        elif kind == "str" and meta.get("choices"):
            out[f.name] = next(c for c in meta["choices"] if c != start)
    return out


def _study_defaults(command):
    from fusionlab.experiments.scaling import DEFAULT, operator_defaults
    return operator_defaults(DEFAULT) if command in ("scaling", "2_fusion_complexity.py") else {}


@pytest.mark.parametrize("name", FUSIONS.names())
def test_every_operator_trains_batched_as_it_trains_alone(dot_data, name):
    """The Fusion complexity study offers every registered operator and trains it on the batched path: a new
    operator that breaks batching fails here."""
    mcfg = ModelConfig(fusion=name, encoder="identity", head_hidden=8, dropout=0.0, fusion_dim=4)
    tcfg = TrainConfig(epochs=2, batch_size=32, lr=1e-2, weight_decay=1e-3)
    res = batched_fit(dot_data, mcfg, tcfg, SEEDS)
    for i, seed in enumerate(SEEDS):
        ref = fit(build_model(dot_data.shapes(), dot_data.n_classes, mcfg, seed=seed), dot_data,
                  TrainConfig(**{**vars(tcfg), "seed": seed}))
        assert res.best_epoch[i] == ref.best_epoch
        hist = res.history[res.history["seed"] == seed].reset_index(drop=True)
        assert hist["train_loss"].values == pytest.approx(ref.history["train_loss"].values, rel=1e-4, abs=1e-5)
        # the models' outputs, not their weights: Adam turns a rounding-level gradient into a step of size lr
        # (seen on the transformer's attention biases: equal losses, weights 1e-4 apart)
        ref.model.eval()
        with torch.no_grad():
            theirs = ref.model(dot_data.test.xs).logits
        torch.testing.assert_close(res.predict(dot_data.test.xs)[i], theirs, rtol=1e-3, atol=1e-3,
                                   msg=f"{name} seed {seed}")


@pytest.mark.parametrize("name", FUSIONS.names())
def test_every_operator_shows_a_formula_a_source_and_builds_at_its_options_bounds(dot_data, name):
    cls = FUSIONS.get(name)
    assert cls.formula and cls.source and "seed 00" not in cls.source
    options = _bounds(name)
    if options.get("heads"):
        options["heads"] = 4  # the fused size must divide by the heads: the far end (16) does not divide 4
    model = build_model(dot_data.shapes(), dot_data.n_classes,
                        ModelConfig(fusion=name, fusion_dim=4, fusion_options=options), seed=0)
    out = model({k: v[:3] for k, v in dot_data.test.xs.items()})
    assert out.logits.shape == (3, dot_data.n_classes) and torch.isfinite(out.logits).all()


def _offered():
    """Every (command, operator with options) the CLI offers, and how the command's config holds the options."""
    from fusionlab.experiments.gates import BACKBONES
    from fusionlab.models.udml import FUSIONS_ALLOWED
    from fusionlab.experiments.scaling import model_config
    ways = {"train": (FUSIONS.names(), "--fusion", lambda c, n: c.model.fusion_options),  # the model's options
            "scaling": (FUSIONS.names(), "--fusions", lambda c, n: model_config(c, n).fusion_options),
            "udml": (FUSIONS_ALLOWED, "--fusion", lambda c, n: c.model.fusion_options),
            "vgmr": (BACKBONES, "--backbone", lambda c, n: c.configs()[n].fusion_options)}
    return [(cmd, n, flag, read) for cmd, (names, flag, read) in ways.items() for n in names if fusion_options(n)]


def _flags(name, defaults=None):
    out = []
    for f in controls(fusion_options(name)):
        value = _bounds(name, defaults)[f.name]
        if kind_of(f) == "bool":
            out.append(f.metadata["flag"] if value else "--no-" + f.metadata["flag"][2:])
        else:
            out += [f.metadata["flag"], str(value)]
    return out


@pytest.mark.parametrize("command, name, flag, read", _offered(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_declared_operator_option_is_a_flag_of_every_command_offering_it(command, name, flag, read, tmp_path):
    import importlib

    from fusionlab.cli import build_parser
    parser = build_parser(command)
    config = importlib.import_module(f"fusionlab.commands.{'train' if command == 'train' else command}").config
    want = _bounds(name, _study_defaults(command).get(name))
    args = parser.parse_args([command, flag, name, *_flags(name, _study_defaults(command).get(name)), "--out",
                              str(tmp_path)])
    got = read(config(args), name)  # what the model is built with: every option at the value its flag gave
    assert {f.name: got.get(f.name, f.default) for f in controls(fusion_options(name))} == want, got


def test_a_flag_of_an_operator_not_chosen_is_refused_naming_both(tmp_path):
    from fusionlab.cli import build_parser
    from fusionlab.commands.train import config
    parser = build_parser("train")
    with pytest.raises(ValueError, match="is an option of fusion 'transformer', not of 'concat'"):
        config(parser.parse_args(["train", "--fusion", "concat", "--transformer-layers", "2", "--out", str(tmp_path)]))


def test_an_option_outside_its_range_or_unknown_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"fusion 'transformer': layers must be in \[1, 2\]"):
        ModelConfig(fusion="transformer", fusion_options={"layers": 3})
    with pytest.raises(ValueError, match=r"fusion 'concat' has no option\(s\) \['heads'\]"):
        ModelConfig(fusion="concat", fusion_options={"heads": 2})


def test_a_numeric_option_without_a_range_is_refused_when_registered():
    from fusionlab.data.spec import register_dataset

    @dataclass(frozen=True)
    class Unbounded:
        size: int = option(3, "a size", flag="--size")

    with pytest.raises(ValueError, match="Unbounded.size: a int option needs lo and hi"):
        register_dataset("unbounded-test", "never registered", Unbounded, lambda c: None)
    assert "unbounded-test" not in DATASETS


def test_one_range_per_field_the_widgets_range_is_the_valid_range():
    """Each declared dataset option at its range's ends is valid, one step past them is refused."""
    for name in DATASETS.names():
        cls = DATASETS.get(name).config
        for f in controls(cls):
            if kind_of(f) != "int":
                continue
            lo, hi = f.metadata["lo"], f.metadata["hi"]
            for bad in (lo - 1, hi + 1):
                with pytest.raises(ValueError, match=f.name):
                    cls(**{f.name: int(bad)})


def _page_with(dataset: str, fusion: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=60)
    at.session_state["playground-dataset"] = dataset
    at.session_state["playground-fusion"] = fusion
    return at.run()


@pytest.mark.parametrize("dataset", DATASETS.names())
def test_every_datasets_widgets_render_on_the_playground(dataset, tmp_path, monkeypatch):
    for m in DATASETS.get(dataset).settings:  # what it needs of the machine (a folder): given, so the page offers it
        monkeypatch.setenv(m.env, str(tmp_path))
    at = _page_with(dataset, "concat")
    assert not at.exception, [e.value for e in at.exception]
    keys = {w.key for w in [*at.number_input, *at.slider, *at.selectbox, *at.multiselect, *at.checkbox]}
    for f in controls(DATASETS.get(dataset).config):
        if kind_of(f) not in ("path", "floats"):
            assert f"playground-{dataset}-{f.name}" in keys, f.name


@pytest.mark.parametrize("fusion", [n for n in FUSIONS.names() if fusion_options(n)])
def test_every_operators_option_widgets_render_and_reach_the_config(fusion):
    at = _page_with("uci-digits", fusion)
    assert not at.exception, [e.value for e in at.exception]
    for name, value in _bounds(fusion).items():
        key = f"playground-{fusion}-opt-{name}"
        widget = next(w for w in [*at.number_input, *at.slider, *at.checkbox, *at.selectbox, *at.radio] if w.key == key)
        widget.set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["playground-config"].model.fusion_options == _bounds(fusion)
    assert {f.name for f in fields(fusion_options(fusion))} >= set(_bounds(fusion))


def _pages():
    """Every (page, operator with options) a page offers: its file, its key, the widget that picks the operator and
    the value that picks it, and how its config holds the options (what the model is built with)."""
    from fusionlab.experiments.gates import BACKBONES
    from fusionlab.experiments.scaling import model_config
    from fusionlab.models.udml import FUSIONS_ALLOWED
    ways = [("2_fusion_complexity.py", "fusion_complexity", "fusion_complexity-fusions", FUSIONS.names(),
             lambda n: [n], lambda c, n: model_config(c, n).fusion_options),
            ("3_gates_values.py", "gates_values", "gates_values-backbone", BACKBONES, lambda n: n,
             lambda c, n: c.configs()[n].fusion_options),
            ("5_uncertainty_weighting.py", "udml", "udml-fusion", FUSIONS_ALLOWED, lambda n: n,
             lambda c, n: c.model.fusion_options)]
    return [(f, key, pick, n, value, read) for f, key, pick, names, value, read in ways for n in names
            if fusion_options(n)]


@pytest.mark.parametrize("page, key, pick, name, value, read", _pages(),
                         ids=lambda v: v if isinstance(v, str) and "-" not in v else "")
def test_every_page_offering_an_operator_draws_its_options_and_builds_with_them(page, key, pick, name, value, read):
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=60)
    at.session_state[pick] = value(name)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    want = _bounds(name, _study_defaults(page).get(name))
    for opt, v in want.items():
        widget = next(w for w in [*at.number_input, *at.slider, *at.checkbox, *at.selectbox, *at.radio] if w.key == f"{key}-{name}-opt-{opt}")
        widget.set_value(v)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    got = read(at.session_state[f"{key}-config"], name)
    assert {f.name: got.get(f.name, f.default) for f in controls(fusion_options(name))} == want, got


def _refiner_values():
    """Each of VGMR's declared options at a value away from its default (a choice, or its range's far end)."""
    from fusionlab.refiners.vgmr import VGMRConfig
    out = {}
    for f in controls(VGMRConfig):
        meta = f.metadata
        if meta.get("choices"):
            out[f.name] = next(c for c in meta["choices"] if c != f.default)
        else:
            out[f.name] = type(f.default)(meta["lo"] if f.default != meta["lo"] else meta["hi"])
    return out


@pytest.mark.parametrize("command", ["vgmr", "compare"])
def test_the_refiners_declared_options_are_flags_of_its_commands(command, tmp_path):
    from fusionlab.cli import build_parser
    from fusionlab.commands.vgmr import config
    from fusionlab.refiners.vgmr import VGMRConfig
    flags = []
    for f in controls(VGMRConfig):
        flags += [f.metadata["flag"], str(_refiner_values()[f.name])]
    cfg = config(build_parser(command).parse_args([command, *flags, "--out", str(tmp_path)]))
    assert {k: getattr(cfg.vgmr, k) for k in _refiner_values()} == _refiner_values()
    with pytest.raises(ValueError, match=r"value_rows must be in \[0, 4,096\]"):  # the one declared range
        config(build_parser(command).parse_args([command, "--value-rows", "5000", "--out", str(tmp_path)]))


def test_the_refiners_declared_options_are_widgets_of_the_gates_page():
    from fusionlab.ui.vgmr import REFINER_KEYS
    at = AppTest.from_file(str(ROOT / "pages" / "3_gates_values.py"), default_timeout=60).run()
    for name, value in _refiner_values().items():
        key = f"gates_values-{REFINER_KEYS[name]}"
        widget = next(w for w in [*at.slider, *at.selectbox, *at.number_input] if w.key == key)
        widget.set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    vgmr = at.session_state["gates_values-config"].vgmr
    assert {k: getattr(vgmr, k) for k in _refiner_values()} == _refiner_values()


def test_every_operator_can_take_vgmrs_place_in_the_comparison(dot_data):
    """The VGMR comparison (compare --operators all) offers every registered operator in VGMR's place."""
    from fusionlab.experiments.gates_compare import comparison_configs
    from fusionlab.refiners.context import PAPER_OPERATORS
    cfgs = comparison_configs(dot_data, "transformer", operators=FUSIONS.names())
    assert set(PAPER_OPERATORS) < set(cfgs) and "vgmr" in cfgs and "transformer in VGMR's place" in cfgs
    for name, mcfg in cfgs.items():
        model = build_model(dot_data.shapes(), dot_data.n_classes, mcfg, seed=0)
        out = model({k: v[:3] for k, v in dot_data.test.xs.items()})
        assert out.logits.shape == (3, dot_data.n_classes) and torch.isfinite(out.logits).all(), name
