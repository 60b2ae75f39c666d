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
    assert "f1_delta" not in at.dataframe[0].value.columns  # 12 columns do not fit 1024 px: macro-F1 on request
    at.toggle(key=f"{KEY}-wide").set_value(True).run()
    assert "F1 Δ" in at.dataframe[0].value.columns or "f1_delta" in at.dataframe[0].value.columns
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


def test_your_outputs_on_the_page_give_the_librarys_table():
    """The upload itself is a browser step (tests/test_browser.py); here the loaded outputs are put where
    "Load outputs" puts them, and the page's table must be the library's for the same controls."""
    import numpy as np
    import pandas as pd

    from fusionlab.experts import ExpertConfig
    from fusionlab.diagnostics.outputs import load_outputs
    from fusionlab.experiments import permutation as study
    from fusionlab.experiments.permutation import OutputsConfig
    from fusionlab.ui.permutation import Base

    rng = np.random.default_rng(3)
    n = 150
    y = np.arange(n) % 3
    cols = {"label": y, "fold": np.arange(n) % 2}
    for m, noise in (("a", 0.5), ("b", 2.0)):
        logits = np.eye(3)[y] * 2 + rng.normal(0, noise, (n, 3))
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        cols.update({f"p__{m}__{c}": p[:, c] for c in range(3)})
        cols[f"q__{m}"] = rng.random(n)
    cols["present__b"] = (np.arange(n) % 7 != 0).astype(int)
    data = pd.DataFrame(cols).to_csv(index=False).encode()
    ocfg = OutputsConfig(path="mine.csv")
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state[f"{KEY}-source"] = "outputs"
    at.session_state[f"{KEY}-base"] = Base(None, None, ExpertConfig(kind="yours"), 0, load_outputs(data, "mine.csv"), ocfg)
    at.run()
    assert not at.exception and not at.error
    assert any("mine.csv" in m.value and "b 15%" in m.value for m in at.markdown)  # what is being tested
    assert any("2 train/test runs" in c.value for c in at.caption)
    shown = at.dataframe[0].value
    assert set(shown["score"]) == {"user", "max-prob", "correctness"}
    assert not [s for s in at.selectbox if s.key == f"{KEY}-corrupt-mod"]  # outputs have no features to corrupt
    cfg = at.session_state[f"{KEY}-config"]
    assert cfg.outputs == ocfg
    lib = study.run(cfg, source=data).tables["permutation"]
    assert np.allclose(shown["delta"].to_numpy(float), lib["delta"].round(3).to_numpy(float))
    assert np.allclose(shown["p_value"].to_numpy(float), lib["p_value"].round(3).to_numpy(float))
    at.radio(key=f"{KEY}-source").set_value("features").run()  # the outputs' result never shows under features
    assert not at.exception and not at.dataframe and not any("mine.csv" in m.value for m in at.markdown)
    assert any("Nothing to test yet" in i.value for i in at.info)


def test_the_missing_preset_masks_a_modality_on_the_page():
    at = _fitted()
    at.button(key=f"{KEY}-preset-a modality missing on 30 % of rows").click()
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key=f"{KEY}-corrupt-noise").value == "missing"
    caption = next(c.value for c in at.caption if "test accuracy where present" in c.value)
    assert "(missing: " in caption and "Corrupted (missing): each" in caption and "probability 30%" in caption
    assert (at.session_state[f"{KEY}-result"].tables["permutation_runs"]["missing_share"] > 0).all()


def test_the_router_fit_can_change_back_and_forth_with_the_fits_own_penalty():
    """The penalty's 'the fit's own' entry keeps one label whatever the fit (a label that changed with the fit came
    back from the browser as the value, and the second change of the fit raised)."""
    at = _fitted()
    for fit in ("adam", "lbfgs", "adam"):
        at.selectbox(key=f"{KEY}-router-fit").set_value(fit)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.selectbox(key=f"{KEY}-router-l2").value == "fit"
    labels = {at.selectbox(key=f"{KEY}-router-l2").options[0]}
    at.selectbox(key=f"{KEY}-router-fit").set_value("lbfgs")
    at.run()
    assert labels == {at.selectbox(key=f"{KEY}-router-l2").options[0]}
