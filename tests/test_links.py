"""Links that open a setup (``ui.links``): the URL's parameters set a page's controls, unknown or invalid ones
are named in a warning, and the current setting is written back into the URL."""
from pathlib import Path

import re

import pytest
from streamlit.testing.v1 import AppTest

from fusionlab.ui.links import Param

ROOT = Path(__file__).resolve().parents[1]


def _page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


@pytest.mark.parametrize("param,raw,value", [
    (Param("k", "int", lo=1, hi=100), "5", 5),
    (Param("k", "float", lo=0.0, hi=1.0, step=0.05), "0.33", 0.35),
    (Param("k", "bool"), "true", True),
    (Param("k", "strs", ("pix", "mor", "fou")), "pix,mor", ["pix", "mor"]),
    (Param("k", "str", ("a", "b")), "b", "b"),
])
def test_a_parameter_parses_and_writes_back(param, raw, value):
    assert param.parse(raw) == value
    assert param.parse(param.text(value)) == value


@pytest.mark.parametrize("param,raw,match", [
    (Param("k", "int", lo=1, hi=100), "500", r"\[1, 100\]"),
    (Param("k", "int", lo=1, hi=100), "five", "integer"),
    (Param("k", "float", lo=0.0, hi=1.0), "nan", r"\[0, 1\]"),
    (Param("k", "strs", ("pix", "mor")), "pix,zzz", "1 of its 2 values are not one of pix, mor"),
    (Param("k", "bool"), "maybe", "true or false"),
])
def test_a_bad_parameter_says_what_is_accepted(param, raw, match):
    with pytest.raises(ValueError, match=match):
        param.parse(raw)


def test_a_playground_link_sets_the_controls():
    at = _page("1_playground.py", dataset="uci-digits", views="pix,mor", fusion="gated", epochs="5", seed="3")
    assert not at.exception and not at.warning
    assert at.selectbox(key="playground-fusion").value == "gated"
    assert at.slider(key="playground-epochs").value == 5
    assert at.number_input(key="playground-seed").value == 3
    assert at.multiselect(key="playground-uci-digits-views").value == ["pix", "mor"]
    cfg = at.session_state["playground-config"]
    assert (cfg.model.fusion, cfg.train.epochs, cfg.train.seed) == ("gated", 5, 3)
    # the URL holds what differs from the defaults (the default views are pix,mor: not repeated)
    assert dict(at.query_params) == {"fusion": "gated", "epochs": "5", "seed": "3"}


def test_unknown_and_invalid_parameters_are_named_and_the_rest_applies():
    at = _page("1_playground.py", fusion="tensor", epochs="5000", colour="red", views="pix,nope")
    assert not at.exception
    text = at.warning[0].value
    assert "unknown parameter `colour`" in text and "`epochs=5000`" in text and "`views=pix,nope`" in text
    assert at.selectbox(key="playground-fusion").value == "tensor"  # the valid one applied
    assert at.slider(key="playground-epochs").value != 5000


@pytest.mark.parametrize("hostile", ["![p](http://HOST/md-image.png)", "[Session expired - log in again](http://HOST/x)",
                                     "http://HOST/bare", "a`b``c](x)", "<img src=x onerror=alert(1)>"])
def test_a_links_rejected_value_is_shown_as_literal_text_never_as_markup(hostile):
    from fusionlab.ui.links import literal
    at = _page("1_playground.py", dataset=hostile, fusion=hostile, **{hostile[:20]: "1"})
    assert not at.exception
    text = at.warning[0].value
    # every piece of the link's text sits inside a code span, whose content markdown shows as itself (no image, no
    # link, no autolink): outside the spans nothing of it is left
    outside = re.sub(r"(`+) ?.*? ?\1", "", text)
    assert "HOST" not in outside and "](" not in outside and "<img" not in outside
    assert literal(hostile) in text or literal(f"dataset={hostile}") in text


@pytest.mark.parametrize("text", ["plain", "`tick`", "a``b", " ", "x\ny", "é" * 200])
def test_a_literal_is_one_code_span_holding_the_text(text):
    from fusionlab.ui.links import literal
    shown = literal(text)
    fence = re.match(r"`+", shown).group()
    assert shown.endswith(fence) and fence not in shown[len(fence):-len(fence)]  # one span, closed only at its end
    inner = shown[len(fence):-len(fence)]
    assert inner.strip() in (text.replace("\n", " ")[:80] + ("…" if len(text) > 80 else "")).strip() or not text.strip()


def test_moving_a_control_updates_the_link():
    at = _page("1_playground.py")
    assert dict(at.query_params) == {}
    at.selectbox(key="playground-fusion").set_value("product").run()
    assert dict(at.query_params) == {"fusion": "product"}


@pytest.mark.parametrize("page,query,key,value", [
    ("2_fusion_complexity.py", {"fusions": "concat,tensor", "seeds": "2"}, "fusion_complexity-fusions", ["concat", "tensor"]),
    ("3_gates_values.py", {"backbone": "transformer", "lambda": "0.3"}, "gates_values-lambda", 0.3),
    ("4_reliability_permutation.py", {"k": "500", "control": "control-aligned"}, "permutation-k", 500),
    ("5_uncertainty_weighting.py", {"beta": "0.01", "methods": "static,udml"}, "udml-beta", 0.01),
])
def test_every_page_opens_its_link_and_writes_it_back(page, query, key, value):
    at = _page(page, **query)
    assert not at.exception and not at.warning
    assert at.session_state[key] == value
    assert dict(at.query_params) == query  # the URL keeps what differs from the defaults


def test_a_preset_in_a_link_applies_before_the_other_parameters():
    from fusionlab.experiments import scaling
    name = next(iter(scaling.PRESETS))
    at = _page("2_fusion_complexity.py", preset=name, epochs="3")
    assert not at.exception and not at.warning
    assert at.slider(key="fusion_complexity-epochs").value == 3  # the link's own value wins over the preset's
    at = _page("4_reliability_permutation.py", preset="a modality missing on 30 % of rows")
    assert not at.exception and at.session_state["permutation-corrupt-noise"] == "missing"


def test_the_glossary_has_every_linked_term_and_the_pages_link_to_it():
    import re
    from fusionlab.ui.glossary import anchors
    known = set(anchors())
    assert len(known) == len(anchors())  # one anchor per entry
    linked = set()
    for path in list((ROOT / "pages").glob("*.py")) + list((ROOT / "fusionlab" / "ui").glob("*.py")):
        linked |= set(re.findall(r"term\('([a-z_A-Z0-9]+)'", path.read_text()))
    assert linked and linked <= known, linked - known
    at = _page("6_glossary.py")
    assert not at.exception
    assert {h.proto.anchor for h in at.subheader} >= known  # each entry is a target


def test_a_glossary_link_goes_to_its_entry():
    from fusionlab.ui.glossary import term
    assert term("delta_perm") == "[Δ_perm](/glossary#delta_perm)"
    with pytest.raises(KeyError, match="no glossary entry"):
        term("no-such-term")


def test_an_invalid_dataset_still_checks_the_other_parameters_and_the_warning_goes_once_the_user_moves_on():
    at = _page("1_playground.py", dataset="nosuch", views="pix,nope", epochs="7")
    text = at.warning[0].value
    assert "`dataset=nosuch`: it is not one of" in text and "`views=pix,nope`: 1 of its 2 values are not one of" in text
    assert "unknown" not in text
    assert at.slider(key="playground-epochs").value == 7
    at.slider(key="playground-epochs").set_value(9).run()
    assert not at.warning


def test_a_placeholder_never_reaches_the_url():
    at = _page("4_reliability_permutation.py", preset="making quality matter")
    assert not at.exception
    assert "corrupt" not in dict(at.query_params) and "__last__" not in str(dict(at.query_params))


def test_a_link_respects_a_pages_limit_on_views_and_a_presets_dataset():
    at = _page("2_fusion_complexity.py", dataset="uci-digits", views="pix,mor,fou")
    assert not at.exception and "at most 2 may be chosen" in at.warning[0].value
    from fusionlab.experiments import udml
    name = next((n for n, (cfg, _) in udml.PRESETS.items() if cfg.data.name != udml.DEFAULT.data.name), None)
    if name is not None:  # a preset on another dataset: the link's options are checked against that one
        at = _page("5_uncertainty_weighting.py", preset=name)
        assert not at.exception and not at.warning


def test_a_link_sets_the_noise_sliders_whatever_the_order_of_its_parameters():
    """A level is looked up after ``noise`` and ``views`` (its session-state key names the noise type; the
    modalities come from the views the link picks), wherever it stands in the query."""
    at = _page("1_playground.py", **{"level-fou": "1.5", "views": "pix,fou", "noise": "gaussian"})
    assert not at.exception and not at.warning
    assert at.session_state["playground-lv-gaussian-fou"] == 1.5
    assert dict(at.query_params) == {"views": "pix,fou", "noise": "gaussian", "level-fou": "1.5"}


def test_a_level_for_a_modality_the_link_does_not_pick_or_beyond_its_range_is_named():
    at = _page("1_playground.py", **{"level-fou": "0.5", "level-pix": "9", "epochs": "4"})
    text = at.warning[0].value
    assert "unknown parameter `level-fou`" in text and "`level-pix=9`" in text and r"expected a value in \[0, " in text
    assert at.slider(key="playground-epochs").value == 4


@pytest.mark.parametrize("page,query,state", [
    ("3_gates_values.py", {"noised-m1": "3", "weight-m1": "0.5"},
     {"gates_values-noised-m1": 3, "gates_values-weight-m1": 0.5}),
    ("5_uncertainty_weighting.py", {"level-m2": "2"}, {"udml-lv-m2": 2.0}),
])
def test_the_other_live_pages_take_their_noise_sliders_from_a_link(page, query, state):
    at = _page(page, **query)
    assert not at.exception and not at.warning
    assert {k: at.session_state[k] for k in state} == state
    assert dict(at.query_params) == query


def test_a_linked_level_is_the_trained_playgrounds_slider_setting():
    at = _page("1_playground.py", **{"noise": "mix", "level-pix": "1", "epochs": "2"})
    at.button(key="playground-train").click().run()
    assert not at.exception
    _, _, point, _ = at.session_state["playground-live-live"]
    assert point == (20, 0)  # mix on pix at its end (21 positions over [0, 1]), mor clean
    assert at.query_params["level-pix"] == "1"
