"""AppTest of the Uncertainty-weighting page: presets, tiny training, a slider redraw."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_uncertainty_weighting.py")


def _live(at):
    """The noise view's blocks as they stand (the live view draws them in the browser), decoded."""
    import json
    return {k: json.loads(v) for k, v in at.session_state["udml-live-shown"].items()}


def _metrics(at):
    return _live(at)["metrics"]["items"]


def test_page_trains_and_redraws_on_a_slider():
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    assert not at.exception
    assert any("No models yet" in i.value for i in at.info)
    at.button(key="udml-preset-dual-suppression").click().run()
    assert at.session_state["udml-synthetic-xor_modalities"] == ["m2"]
    # the hard modality is as informative as the other: only then can a dependency gap exist
    assert at.session_state["udml-synthetic-informativeness-m1"] == at.session_state[
        "udml-synthetic-informativeness-m2"] == 0.9
    assert at.selectbox(key="udml-fusion").value == "concat"
    controls = list(at.slider) + list(at.selectbox) + list(at.multiselect) + list(at.toggle) + list(at.select_slider)
    unexplained = [w.key for w in controls if w.key and w.key.startswith("udml-") and not w.help]
    assert unexplained == []  # every control has a one-line help
    at.slider(key="udml-epochs").set_value(3)
    at.slider(key="udml-seeds").set_value(1)
    at.number_input(key="udml-synthetic-n_samples").set_value(200)
    at.button(key="udml-train").click().run()
    assert not at.exception
    from fusionlab.figures.udml import METHOD_NAMES  # the methods in words, not their registry names (issue 33)
    assert [m["label"] for m in _metrics(at)] == [f"{METHOD_NAMES[m]} accuracy"
                                                  for m in ("static", "pe", "udml_no_alpha", "udml")]
    figures = {k for k, b in _live(at).items() if b["kind"] == "figure"}
    assert figures == {"estimator", "weights", "rob"} and len(at.get("plotly_chart")) >= 1  # alpha (+ unimodal)
    before = [m["value"] for m in _metrics(at)]
    at.session_state["udml-lv-m2"] = 3.0  # what the live view's sliders store
    at.session_state["udml-lv-m1"] = 3.0
    at.run()
    assert not at.exception
    assert {k for k, b in _live(at).items() if b["kind"] == "figure"} == figures
    assert [m["value"] for m in _metrics(at)] != before
    assert any("Does the paper" in s.value for s in at.subheader)
    assert sum(any(w in md.value for w in ("[holds]", "does not hold", "cannot tell")) for md in at.markdown) >= 5


def test_bad_views_show_an_error_not_a_traceback():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.selectbox(key="udml-dataset").set_value("uci-digits").run()
    at.multiselect(key="udml-uci-digits-views").set_value(["pix"]).run()
    at.button(key="udml-train").click().run()
    assert not at.exception
    assert any("two views" in e.value for e in at.error)


def test_signal_test_of_the_weights_is_the_librarys_with_the_sliders_noise():
    import pandas as pd
    from fusionlab.diagnostics.signals import SignalTestConfig
    from fusionlab.diagnostics.udml import signal_test
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    at.slider(key="udml-epochs").set_value(3)
    at.number_input(key="udml-synthetic-n_samples").set_value(200)
    at.multiselect(key="udml-methods").set_value(["static", "udml"])
    at.button(key="udml-train").click().run()
    assert not at.exception
    assert at.selectbox(key="udml-signal-method").options == ["udml"]  # static's weights are all 1
    at.select_slider(key="udml-udml-signal-k").set_value(50).run()
    at.button(key="udml-udml-signal-run").click().run()
    assert not at.exception and not at.error
    study = at.session_state["udml-run"].study
    shown = at.session_state["udml-udml-signal-test"][2].table
    levels = {"m1": at.session_state["udml-lv-m1"]}  # the first slider starts above 0, the second at 0
    want = signal_test(study, "udml", study.seeds[0], [levels], SignalTestConfig(permutations=50)).table
    pd.testing.assert_frame_equal(shown, want)
    assert set(shown["signal"]) == {"w"} and set(shown["modality"]) == {"m1", "m2", "all"}
    assert any("The decision depends on w" in m.value for m in at.markdown)


def test_the_default_shows_the_first_seed_then_decides_with_all_seeds_as_the_cli_does():
    """Issue 33 item 2: the default trains three seeds (paired findings need several); the page shows the first
    seed's result at once and trains the others after drawing it. The study it ends with is the one the CLI's
    one-shot run gives (the same jobs), so its findings are the CLI's."""
    from dataclasses import replace

    import pandas as pd

    from fusionlab.experiments import udml
    small = replace(udml.DEFAULT, train=replace(udml.DEFAULT.train, epochs=4),
                    data=replace(udml.DEFAULT.data, options=replace(udml.DEFAULT.data.options, n_samples=300)))
    assert udml.DEFAULT.seeds > 1
    first = udml.from_parts(replace(small, seeds=1), [udml.run_part(small, small.seed_list()[:1])])
    assert list(first.artifacts.study.seeds) == [small.train.seed]
    assert any("one pair" in f.evidence for f in first.findings)  # what the page shows first cannot decide alone
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    at.slider(key="udml-epochs").set_value(4)
    at.number_input(key="udml-synthetic-n_samples").set_value(300)
    at.button(key="udml-train").click().run()
    assert not at.exception and at.session_state["udml-deciding"] is not None  # the others train in the background
    assert list(at.session_state["udml-run"].study.seeds) == [small.train.seed]  # meanwhile: the first seed's
    task, _ = at.session_state["udml-background"]
    assert task.done.wait(300)
    at.run()  # what the page's follower does every second: it finds them done, hands them over, and reruns
    assert not at.exception and at.session_state["udml-deciding"] is None
    run = at.session_state["udml-run"]
    assert run.config == small and list(run.study.seeds) == list(small.seed_list())
    cli = udml.run(small)
    for name in ("accuracy", "alpha", "spearman"):
        pd.testing.assert_frame_equal(run.result.tables[name], cli.tables[name])
    assert [f.line() for f in run.result.findings] == [f.line() for f in cli.findings]


def test_every_preset_button_gives_the_config_its_cli_twin_builds():
    """A preset on the page and ``udml --preset NAME`` are one config, the authors' code included (SGD, its step
    schedule, clipping, no patience, alpha per modality): the page has a widget for every field a preset sets."""
    from fusionlab.cli import build_parser
    from fusionlab.commands import udml as cmd
    from fusionlab.experiments import udml as study
    for name in study.PRESETS:
        at = AppTest.from_file(PAGE, default_timeout=300)
        at.run()
        at.button(key=f"udml-preset-{name}").click().run()
        assert not at.exception, name
        cli = cmd.config(build_parser("udml").parse_args(["udml", "--preset", name, "--out", "unused"]))
        assert at.session_state["udml-config"] == cli == study.PRESETS[name][0], name
