"""Figure builders: markers sit at measured values, degenerate nulls stay readable."""
import numpy as np
import pandas as pd

from fusionlab.figures import robustness_figure
from fusionlab.figures.permutation import permutation_histograms
from fusionlab.ui.playground import current_marks


def _curve():
    # a step-like curve (as 'drop' gives): interpolation between grid points would be wrong
    return pd.DataFrame({"condition": ["pix"] * 3, "noise": "drop", "level": [0.0, 0.5, 1.0],
                         "accuracy": [0.98, 0.37, 0.37], "seed": 0})


def test_current_marker_sits_at_the_measured_accuracy():
    fig = robustness_figure(_curve(), marks={"pix": 0.05}, current=0.37)
    marker = [t for t in fig.data if t.name == "pix: current"][0]
    assert marker.x == (0.05,) and marker.y == (0.37,)
    interp = [t for t in robustness_figure(_curve(), marks={"pix": 0.05}).data if t.name == "pix: current"][0]
    assert interp.y[0] > 0.9  # without the measured value, the curve's own (interpolated) value


def test_mixed_setting_draws_a_line_not_a_marker():
    fig = robustness_figure(_curve(), marks={}, current=0.5)
    assert not [t for t in fig.data if t.name and t.name.endswith(": current")]
    line = [t for t in fig.data if t.name and t.name.startswith("current setting")]
    assert len(line) == 1 and set(line[0].y) == {0.5} and line[0].name == "current setting: 0.500"  # in the legend
    assert not fig.layout.annotations  # a label on the plot sat on a curve


def test_current_marks_names_the_curve_the_setting_lies_on():
    assert current_marks({"pix": 0.3, "mor": 0.0}) == {"pix": 0.3}
    assert current_marks({"pix": 0.3, "mor": 0.3}) == {"all": 0.3}
    assert current_marks({"pix": 0.3, "mor": 0.1}) == {}
    assert current_marks({"pix": 0.0, "mor": 0.0}) == {"all": 0.0}  # clean lies on every curve
    assert current_marks({"pix": 0.0}) == {"pix": 0.0}


def test_a_null_with_no_spread_gets_a_narrow_axis():
    rng = np.random.default_rng(0)
    null = pd.DataFrame({"score": "s", "rule": ["noq"] * 40 + ["route"] * 40, "k": list(range(40)) * 2,
                         "metric_clean": [0.95] * 40 + [0.9] * 40,
                         "balanced_accuracy": [0.95] * 40 + list(rng.normal(0.85, 0.01, 40))})
    table = pd.DataFrame({"score": "s", "rule": ["noq", "route"], "delta": [-0.0002, 0.05], "p_value": [1.0, 0.02]})
    fig = permutation_histograms(null, table, "s")
    lo, hi = fig.layout.xaxis.range
    assert lo < 0.95 < hi and hi - lo < 0.05
    assert fig.layout.xaxis2.range is None  # a real spread keeps the automatic range
    titles = [a.text for a in fig.layout.annotations]
    assert "no permutation changes it" in titles[0] and "no permutation changes it" not in titles[1]
    assert "Δ=+0.000" in titles[0]  # a tiny negative delta is not shown as -0.000


def test_bands_stay_inside_the_quantitys_range():
    import plotly.graph_objects as go
    from fusionlab.figures.common import line_with_band
    fig = go.Figure()
    line_with_band(fig, [0, 1, 2], [0.05, 0.5, 0.97], [0.2, 0.1, 0.2], "acc", 0)  # an accuracy: [0, 1]
    band = np.asarray(fig.data[0].y, dtype=float)
    assert band.min() == 0.0 and band.max() == 1.0
    fig = go.Figure()
    line_with_band(fig, [1, 2], [0.1, 5.0], [0.5, 3.0], "variance", 0, lo=0.0, hi=None)  # >= 0, unbounded
    band = np.asarray(fig.data[0].y, dtype=float)
    assert band.min() == 0.0 and band.max() == 8.0


def test_training_curves_give_each_loss_its_own_panel_and_take_a_title():
    from fusionlab.figures import training_curves
    hist = pd.DataFrame({"epoch": [1, 2], "train_loss": [12.0, 9.0], "val_loss": [0.05, 0.04],
                         "val_accuracy": [0.8, 0.9]})
    fig = training_curves(hist, title="pe, seed 1")
    assert fig.layout.title.text == "pe, seed 1"
    assert [list(t.y) for t in fig.data] == [[12.0, 9.0], [0.05, 0.04], [0.8, 0.9]]
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3"]  # one panel each: 12 and 0.05 never share an axis


def test_the_epoch_axis_has_whole_epochs_only():
    import pandas as pd
    from fusionlab.figures import training_curves
    two = training_curves(pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                                        "val_accuracy": [0.5, 0.7]}))
    axes = [v for k, v in two.layout.to_plotly_json().items() if k.startswith("xaxis")]
    assert axes and all(a["tickformat"] == "d" and a["dtick"] == 1 for a in axes)
    many = training_curves(pd.DataFrame({"epoch": range(1, 41), "train_loss": 1.0, "val_loss": 1.0,
                                         "val_accuracy": 0.5}))
    assert all(a["dtick"] == 5 for k, a in many.layout.to_plotly_json().items() if k.startswith("xaxis"))


def test_the_sample_input_draws_pix_as_the_digit_image_a_vector_as_bars_and_a_sequence_as_a_heatmap():
    import numpy as np
    from fusionlab.data.loaders import UCI_IMAGES
    from fusionlab.figures import sample_inputs
    fig = sample_inputs({"pix": np.arange(240.0).reshape(1, 240), "mor": np.ones((1, 6)), "seq": np.zeros((5, 3))},
                        UCI_IMAGES)
    assert [t.type for t in fig.data] == ["heatmap", "bar", "heatmap"]  # mor's six values on an axis (a scale)
    assert np.asarray(fig.data[0].z).shape == (16, 15) and len(fig.data[1].y) == 6
    assert np.asarray(fig.data[2].z).shape == (5, 3)
    assert np.asarray(fig.data[0].z)[1, 0] == 15  # row-major: the second image row starts at pixel 15


def test_a_control_whose_q_is_one_value_per_group_draws_its_rows_not_flat_boxes():
    from fusionlab.figures.permutation import q_vs_correct
    rng = np.random.default_rng(0)
    correct = rng.random(60) < 0.7
    control = pd.DataFrame({"modality": np.repeat(["a", "b"], 30), "correct": correct,
                            "q": correct.astype(float), "score": "control-aligned"})
    fig = q_vs_correct(control)
    assert "box is a line" in fig.layout.title.text
    right = int(correct[:30].sum())
    assert fig.layout.xaxis.ticktext[0] == f"a<br>{right} right<br>{30 - right} wrong"  # the rows each line holds
    assert fig.layout.legend.y >= 1  # above the plot, clear of the axis title
    spread = control.assign(q=rng.random(60), score="entropy")
    fig = q_vs_correct(spread)
    assert "box is a line" not in fig.layout.title.text and fig.layout.xaxis.ticktext is None


def test_each_null_histogram_marks_its_clean_value_with_its_number():
    rng = np.random.default_rng(1)
    null = pd.DataFrame({"score": "entropy", "rule": np.repeat(["r1", "r2"], 50),
                         "balanced_accuracy": rng.normal(0.8, 0.01, 100), "metric_clean": np.repeat([0.8123, 0.7456], 50)})
    table = pd.DataFrame({"score": "entropy", "rule": ["r1", "r2"], "delta": [0.01, 0.0], "p_value": [0.2, 0.9]})
    texts = [a.text for a in permutation_histograms(null, table, "entropy").layout.annotations]
    assert any("clean 0.812" in t for t in texts) and any("clean 0.746" in t for t in texts)  # in its panel's title
    assert not any(a.text.startswith("clean") for a in permutation_histograms(null, table, "entropy").layout.annotations
                   if a.xref != "paper")  # no label on the panel, over its bars


def test_a_mean_that_rounds_to_zero_never_prints_as_minus_zero():
    from fusionlab.text import plus_minus
    assert plus_minus(-0.0002, 0.005) == "0.000 ± 0.005" and plus_minus(-0.0123, 0.01) == "-0.012 ± 0.010"
