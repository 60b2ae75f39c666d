"""Saving written once (``fusionlab.bundles``): bundles that main wrote before saving was unified (version 1, one
of each page, kept in tests/fixtures/bundles) still reopen and replay equal; a bundle keeps what was on screen
(the noise sliders and the selected sample), and reopening on a fresh session shows the same sliders and numbers."""
import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fusionlab import bundles
from fusionlab.experiments import gates, permutation, playground, scaling, udml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "bundles"
STUDIES = {m.SAVING.kind: m for m in (playground, gates, permutation, scaling, udml)}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", sorted(STUDIES))
def test_a_version_1_bundle_of_every_page_still_reopens_and_replays_equal(kind, tmp_path, monkeypatch):
    from fusionlab.cli import main
    blob = (FIXTURES / f"v1-{kind}.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert json.loads(z.read("config.json"))["version"] == 1  # as main wrote it, not re-saved
    done = bundles.reopen(STUDIES[kind].SAVING, blob)
    assert done.view == {} and done.bundle.version == 1
    again = bundles.reopen(STUDIES[kind].SAVING, bundles.save(STUDIES[kind].SAVING, done.config, done.result))
    assert again.bundle.version == bundles.VERSION and again.config == done.config  # saved again as the current version
    (tmp_path / "run.zip").write_bytes(blob)
    assert main(["replay", str(tmp_path / "run.zip"), "--out", str(tmp_path / "out")]) == 0
    equal = json.loads((tmp_path / "out" / "equal.json").read_text())
    assert equal and all(equal.values()), equal


def test_a_version_the_reader_does_not_know_is_refused_by_number():
    blob = (FIXTURES / "v1-playground.zip").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename == "config.json":
                meta = json.loads(data)
                meta["version"] = 7
                data = json.dumps(meta).encode()
            w.writestr(info.filename, data)
    with pytest.raises(ValueError, match="bundle version 7; this fusionlab reads versions 1, 2, 3"):
        bundles.read_bundle(out.getvalue())


def _reopened_page(blob_path: str, page: str) -> None:
    """A fresh session that reopens a bundle before the page runs (what the Reopen button's callback does)."""
    import runpy

    import streamlit as st
    if not st.session_state.get("test-reopened"):
        st.session_state["test-reopened"] = True
        from fusionlab.ui.playground import SAVING
        with open(blob_path, "rb") as f:
            SAVING.reopen(f.read())
    runpy.run_path(page)


def test_a_playground_bundle_keeps_the_sliders_and_sample_and_reopens_with_the_same_numbers(tmp_path):
    from test_pages import _accuracy, _train_playground  # tests/ is on the path
    at = _train_playground()
    clean = _accuracy(at)
    at.session_state["playground-lv-mix-pix"] = 1.0  # what the live view's slider stores
    at.session_state["playground-sample"] = 3
    at.run()
    noisy = _accuracy(at)
    assert noisy != clean
    at.button(key="playground-bundle-make").click().run()
    blob = at.session_state["playground-bundle"][-1]
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        meta = json.loads(z.read("config.json"))
    assert meta["view"] == {"level-pix": "1", "sample": "3"}  # a level left at 0 is the default, not stored
    assert "level-pix=1" in meta["url"] and "sample=3" in meta["url"]  # the link holds the same setting
    (tmp_path / "run.zip").write_bytes(blob)
    again = AppTest.from_function(_reopened_page, args=(str(tmp_path / "run.zip"),
                                                        str(ROOT / "pages" / "1_playground.py")),
                                  default_timeout=120).run()  # (conftest gives __main__ back after the test)
    assert not again.exception, [e.value for e in again.exception]
    assert again.session_state["playground-lv-mix-pix"] == 1.0 and again.session_state["playground-sample"] == 3
    assert _accuracy(again) == noisy
    # the noise type is what was on screen too (not the config's curve): gaussian at 2 comes back as gaussian at 2
    at.selectbox(key="playground-noise").set_value("gaussian").run()
    from fusionlab.ui.playground import noise_sliders
    level = noise_sliders(["pix"], "gaussian")[0].values[14]  # a position of the slider
    at.session_state["playground-lv-gaussian-pix"] = level
    at.run()
    gauss = _accuracy(at)
    at.button(key="playground-bundle-make").click().run()
    with zipfile.ZipFile(io.BytesIO(at.session_state["playground-bundle"][-1])) as z:
        assert json.loads(z.read("config.json"))["view"] == {"noise": "gaussian", "level-pix": f"{level:g}",
                                                             "sample": "3"}
    (tmp_path / "run.zip").write_bytes(at.session_state["playground-bundle"][-1])
    third = AppTest.from_function(_reopened_page, args=(str(tmp_path / "run.zip"),
                                                        str(ROOT / "pages" / "1_playground.py")),
                                  default_timeout=120).run()
    assert third.session_state["playground-noise"] == "gaussian"
    assert third.session_state["playground-lv-gaussian-pix"] == level and _accuracy(third) == gauss


def test_a_bundle_whose_view_cannot_be_shown_still_reopens_and_says_so_as_plain_text():
    """The run comes back (the session has changed by then, so this is a warning, not an error), and a crafted
    view's names and values are echoed as code spans (shown as themselves: no image, no link)."""
    import re
    from fusionlab.ui.links import apply_view
    from fusionlab.ui.playground import link_params
    params = link_params("uci-digits")
    problems = apply_view(lambda: params, {"![p](http://x/y.png)": "1", "sample": "zz"})
    outside = [re.sub(r"(`+) ?.*? ?\1", "", p) for p in problems]  # what is left outside the code spans
    assert problems and all("![" not in p and "](" not in p for p in outside)
    assert any("sample" in p for p in problems)


def test_a_bundle_config_field_of_the_wrong_kind_is_a_one_line_error():
    from fusionlab.bundles import config_from_record, record
    from fusionlab.experiments.scaling import DEFAULT, ScalingConfig
    bad = record(DEFAULT)
    bad["fusion_options"] = ["tensor"]
    with pytest.raises(ValueError, match="config.fusion_options must be an object"):
        config_from_record(ScalingConfig, bad)


def _grown_run_page():
    import streamlit as st

    from fusionlab.ui.bundle_box import bundle_box
    run = st.session_state.setdefault("run", object())
    bundle_box("t", run, lambda: b"zip bytes", "run.zip", lambda data: None,  # what the run holds, what is on screen
               version=st.session_state.setdefault("version", 1),
               view=st.session_state.setdefault("view", (("level-pix", "0.5"), ("sample", "3"))))


def test_a_download_prepared_before_the_run_changed_is_withdrawn_with_what_changed():
    """A run that grows (Gates & values' stages), is replaced (Uncertainty weighting's other seeds landing) or
    whose sliders moved: the download prepared before is not offered, and the box says which of these happened
    instead of the button silently vanishing."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_grown_run_page).run()

    def withdrawn() -> str:
        said = [c.value for c in at.caption if "since the download was prepared" in c.value]
        assert not at.get("download_button") and len(said) == 1
        return said[0]
    assert not any("since the download was prepared" in c.value for c in at.caption)
    for change, words in (("version", "has grown"), ("view", "sliders or sample on screen have changed"),
                          ("run", "run on screen has changed")):
        at.button(key="t-bundle-make").click().run()
        assert at.get("download_button") and not any("since the download" in c.value for c in at.caption)
        holds = [c.value for c in at.caption if "what was on screen when prepared" in c.value]
        view = at.session_state["view"]
        assert len(holds) == 1 and (all(f"`{k}` = `{v}`" in holds[0] for k, v in view) if view else
                                    "at their start" in holds[0])  # what the zip holds, as the box says
        at.session_state[change] = object() if change == "run" else 2 if change == "version" else ()
        at.run()
        assert words in withdrawn(), change
