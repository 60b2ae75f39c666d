"""AppTest of the Gates & values page: train live, move a noise slider, compute the §4.4 table."""
import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "3_gates_values.py")
K = "gates_values"


def _charts(at):
    return list(at.get("plotly_chart"))


def _spec(at, suffix):
    """The plotly JSON of the chart whose key ends with ``suffix``."""
    return next(c.proto.spec for c in _charts(at) if c.proto.id.endswith(suffix))


def _live(at):
    """The sample view's blocks as they stand (the live view draws them in the browser), decoded."""
    return {k: json.loads(v) for k, v in at.session_state[f"{K}-live-shown"].items()}


def _heat(at, k):
    return _live(at)[f"heat-{k}"]["figure"]


def _slide(at, key, value):
    at.session_state[key] = value  # what the live view's slider stores
    at.run()


def test_page_trains_redraws_on_slider_and_computes_gate_table():
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    assert not at.exception
    assert any("press **Train VGMR**" in i.value for i in at.info)
    at.slider(key=f"{K}-epochs").set_value(2).run()
    at.button(key=f"{K}-train").click().run()
    assert not at.exception and not at.error
    assert _live(at)["text"]["html"].startswith("Sample <b>0</b>")
    assert len(_charts(at)) >= 1 and {"vg", "vc", "heat-m1", "heat-m2", "heat-m3"} <= set(_live(at))
    m2 = _heat(at, "m2")
    from fusionlab.ui.vgmr import noise_sliders
    sliders = {s.key: s for s in noise_sliders(at.session_state[f"{K}-run"].data.shapes())}
    t = len(sliders[f"{K}-noised-m1"].values) - 1
    assert t == 8  # the default synthetic setting's timesteps: one slider step per timestep
    inputs = [_heat(at, "m1")["data"][0]["z"]]
    for k in range(1, t + 1):  # every step of the slider changes the input the heatmap draws
        _slide(at, f"{K}-noised-m1", k)
        assert not at.exception
        spec = _heat(at, "m1")
        inputs.append(spec["data"][0]["z"])
        assert inputs[-1] != inputs[-2], f"step {k} of the noised-timesteps slider changed nothing"
        assert len(spec["layout"]["shapes"]) == 3 * k  # each noised timestep outlined in the three panels
    # m2's input is untouched; its gate may move, since VGMR's values compare m2 with m1
    assert _heat(at, "m2")["data"][0]["z"] == m2["data"][0]["z"]
    at.number_input(key=f"{K}-sample").set_value(5).run()
    assert not at.exception and _live(at)["text"]["html"].startswith("Sample <b>5</b>")
    at.button(key=f"{K}-stats").click().run()
    assert not at.exception
    from fusionlab.papers import CLAIMS  # the paper's finding as registered, then ours (issue 33: claims computed)
    assert any(CLAIMS["vgmr-gates"].text in m.value and "**Here**" in m.value for m in at.markdown)
    assert len(at.dataframe) >= 3  # gate stats, differences, removal
    labels = [m.label for m in at.metric]
    assert sum("saturated v_c" in lb for lb in labels) == 3 and sum("erased by LayerNorm" in lb for lb in labels) == 3
    stats = at.session_state[f"{K}-run"].tables["gate_stats"]
    assert (stats["seeds"] == 3).all()  # §4.4 pooled over the 3 seeds' VGMR models


def test_presets_set_the_controls():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    at.button(key=f"{K}-p-neutral").click().run()
    assert at.slider(key=f"{K}-lambda").value == 0.0
    at.button(key=f"{K}-p-paper").click().run()
    assert at.slider(key=f"{K}-lambda").value == 0.5 and at.slider(key=f"{K}-rho").value == 0.2
    assert not at.exception


def test_a_preset_for_a_longer_sequence_does_not_break_a_shorter_ones_slider():
    """The sliders count noised timesteps; a preset written for T = 16 must not exceed T = 8's slider."""
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    at.slider(key=f"{K}-epochs").set_value(1).run()
    at.button(key=f"{K}-train").click().run()
    at.number_input(key=f"{K}-synthetic-seq_len").set_value(16).run()
    at.button(key=f"{K}-p-heavy").click().run()
    assert not at.exception
    assert at.session_state[f"{K}-noised-m1"] == 8  # the trained model's 8 timesteps, all of them
    assert "8 of 8 timesteps noised" in _heat(at, "m1")["layout"]["title"]["text"]


def test_a_preset_clicked_after_switching_dataset_reaches_the_new_modalities():
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    at.slider(key=f"{K}-epochs").set_value(1).run()
    at.button(key=f"{K}-train").click().run()
    at.selectbox(key=f"{K}-dataset").set_value("uci-digits").run()
    assert not at.exception
    assert any("press **Train VGMR** to train one" in i.value for i in at.info)  # the shown model is the old one
    at.button(key=f"{K}-p-paper").click().run()
    assert at.session_state[f"{K}-noised-m1"] == 2  # 30% of the trained model's first modality's 8 timesteps ...
    assert at.session_state[f"{K}-noised-pix"] == round(0.3 * 16)  # ... and of the selected dataset's 16


def test_signal_test_section_runs_the_library_test_with_the_sliders_noise():
    import pandas as pd
    from fusionlab.diagnostics.signals import SignalTestConfig
    from fusionlab.experiments import gates as study
    at = AppTest.from_file(PAGE, default_timeout=240)
    at.run()
    at.slider(key=f"{K}-epochs").set_value(2).run()
    at.button(key=f"{K}-train").click().run()
    _slide(at, f"{K}-noised-m1", 4)
    at.select_slider(key=f"{K}-signal-k").set_value(50).run()
    at.button(key=f"{K}-signal-run").click().run()
    assert not at.exception and not at.error
    run = at.session_state[f"{K}-run"]
    shown = at.session_state[f"{K}-signal-test"][2].table
    want = study.signal_test(run.model, run.data, [{"m1": (0.5, 1.0)}], SignalTestConfig(permutations=50),
                             seed=run.config.train.seed).table
    pd.testing.assert_frame_equal(shown, want)
    assert set(shown["condition"]) == {"m1 (ratio 0.50, weight 1) corrupted"}
    assert any("The decision depends on G_eff" in m.value for m in at.markdown)
    assert json.loads(_spec(at, f"{K}-signal-fig"))["data"]  # the null histograms are drawn
    _slide(at, f"{K}-noised-m1", 0)  # the sliders moved on: the result says what it was
    assert any("Computed with noise: **m1 (ratio 0.50" in m.value for m in at.markdown)


def test_noise_presets_wait_for_a_model_and_say_so():
    """Before training the noise sliders do not exist: a preset that only moves them changed nothing but the
    address (issue 33), so it is disabled and its help says to train first."""
    at = AppTest.from_file(str(PAGE), default_timeout=60).run()
    for key in (f"{K}-p-heavy", f"{K}-p-clean"):
        assert at.button(key=key).disabled and "train first" in at.button(key=key).help
    assert not at.button(key=f"{K}-p-paper").disabled  # it sets λ and ρ too
