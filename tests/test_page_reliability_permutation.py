"""AppTest of the Reliability permutation page: fit experts on a tiny dataset, move the control sliders."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "4_reliability_permutation.py")
KEY = "permutation"


def _fitted() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert not at.exception
    at.selectbox(key=f"{KEY}-dataset").set_value("synthetic")
    at.run()
    at.number_input(key=f"{KEY}-synthetic-n_samples").set_value(240)
    at.number_input(key=f"{KEY}-synthetic-dim").set_value(6)
    at.button(key=f"{KEY}-train").click()
    at.run()
    assert not at.exception
    return at


def test_page_runs_and_controls_redraw():
    at = _fitted()
    assert not at.error
    assert any("Fit experts" in b.label for b in at.button)
    assert len(at.dataframe) >= 1 and len(at.get("plotly_chart")) >= 3
    assert any("changes no fused decision" in m.value for m in at.markdown)

    at.radio(key=f"{KEY}-control").set_value("control-aligned")
    at.run()
    assert not at.exception
    assert any("POSITIVE CONTROL" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert table["score"].str.contains("POSITIVE CONTROL").any()

    at.slider(key=f"{KEY}-fidelity").set_value(0.5)
    at.run()
    assert not at.exception and not at.error

    at.selectbox(key=f"{KEY}-corrupt-mod").set_value(at.selectbox(key=f"{KEY}-corrupt-mod").options[1])
    at.run()
    assert not at.exception and not at.error
    assert any("Corrupted" in c.value for c in at.caption)
    at.slider(key=f"{KEY}-corrupt-frac").set_value(0.4)
    at.run()
    assert not at.exception and not at.error


def test_presets_set_controls():
    at = _fitted()
    at.button(key=f"{KEY}-preset-positive control: corruption").click()
    at.run()
    assert not at.exception
    assert at.radio(key=f"{KEY}-control").value == "control-corruption"
    assert any("POSITIVE CONTROL control-corruption" in m.value for m in at.markdown)
    at.button(key=f"{KEY}-preset-paper: clean data").click()
    at.run()
    assert at.radio(key=f"{KEY}-control").value == "none"
    assert not at.exception


def test_repeat_shows_mean_and_sd_in_one_cell_per_metric():
    at = _fitted()
    at.number_input(key=f"{KEY}-rep-seeds").set_value(2)
    at.number_input(key=f"{KEY}-rep-folds").set_value(0)
    at.button(key=f"{KEY}-rep-go").click()
    at.run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "runs" in d.value.columns)
    main = at.dataframe[0].value
    assert set(table.columns) < set(main.columns) | {"runs"} and "delta" in table  # no sd columns
    assert len(table.columns) <= 10  # it has to fit the page
    assert (table["runs"] == 2).all()
    cells = table["delta"].str.fullmatch(r"-?\d\.\d{3} ± \d\.\d{3}")
    assert cells.all(), table["delta"].tolist()
