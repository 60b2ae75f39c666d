"""AppTest of the Fusion complexity page: run a tiny study, move the ROC slider, presets, Stop."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "2_fusion_complexity.py")
K = "fusion_complexity"


def _tiny(at: AppTest) -> AppTest:
    at.number_input(key=f"{K}-clip-like-n_samples").set_value(300)
    at.multiselect(key=f"{K}-fusions").set_value(["concat", "product"])
    at.select_slider(key=f"{K}-max_size").set_value(64)
    at.slider(key=f"{K}-seeds").set_value(2)
    at.slider(key=f"{K}-epochs").set_value(2)
    return at


def test_page_runs_a_study_and_the_roc_slider_reruns():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Fusion complexity"
    assert any("Run study" in i.value for i in at.info)
    _tiny(at).button(key=f"{K}-train").click().run()
    assert not at.exception and not at.error
    verdicts = [m.value for m in at.markdown]
    assert any("less data" in v for v in verdicts) and any("degrades faster" in v for v in verdicts)
    assert len(at.get("plotly_chart")) == 4
    at.select_slider(key=f"{K}-roc-size").set_value(32).run()
    assert not at.exception and len(at.get("plotly_chart")) == 4


def test_presets_set_the_paper_setting_and_stop_keeps_the_page_working():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.button(key=f"{K}-preset-paper: real labels").click().run()
    assert at.slider(key=f"{K}-seeds").value == 20 and at.slider(key=f"{K}-epochs").value == 100
    assert at.selectbox(key=f"{K}-clip-like-label").value == "real"
    assert at.select_slider(key=f"{K}-max_size").value == 4096
    at.button(key=f"{K}-stop").click().run()
    assert not at.exception and any("stopped" in w.value for w in at.warning)


def test_bad_setting_shows_an_error_not_a_traceback():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.number_input(key=f"{K}-clip-like-n_samples").set_value(200)
    at.select_slider(key=f"{K}-max_size").set_value(4096)
    at.button(key=f"{K}-train").click().run()
    assert not at.exception
    assert any("train split" in e.value for e in at.error)
