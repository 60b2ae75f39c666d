"""AppTest for the app shell, every page (discovered), and the Playground's flow."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "pages").glob("*.py"))


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def test_app_shell_runs_home():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    _no_exception(at)
    assert any("fusionlab" in t.value for t in at.title)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_page_opens_without_error(page):
    at = AppTest.from_file(str(page), default_timeout=60).run()
    _no_exception(at)
    assert at.title, f"{page.name} has no title"


def _train_playground(fusion="concat", epochs=2):
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=120).run()
    at.selectbox(key="playground-fusion").set_value(fusion).run()
    at.slider(key="playground-epochs").set_value(epochs).run()
    at.button(key="playground-train").click().run()
    _no_exception(at)
    return at


def test_playground_trains_and_answers_a_noise_slider():
    at = _train_playground()
    clean = at.metric[0].value
    assert at.metric[0].delta == "+0.000 vs clean"  # from the first draw after training
    at.selectbox(key="playground-noise").set_value("mix").run()
    at.slider(key="playground-lv-mix-pix").set_value(0.95).run()
    _no_exception(at)
    assert at.metric[0].value != clean
    assert "vs clean" in at.metric[0].delta
    assert len(at.get("plotly_chart")) >= 4  # confusion, robustness, probabilities, contributions
    at.selectbox(key="playground-noise").set_value("drop").run()
    assert not at.get("slider") or all("noise on" not in s.label for s in at.slider)  # on/off, not a level
    at.toggle(key="playground-lv-drop-pix").set_value(True).run()
    _no_exception(at)
    assert at.metric[0].value != clean


def test_playground_gated_shows_gate_and_sample_picker_works():
    at = _train_playground("gated", 1)
    n_charts = len(at.get("plotly_chart"))
    at.number_input(key="playground-sample").set_value(5).run()
    _no_exception(at)
    assert len(at.get("plotly_chart")) == n_charts
    assert any("gate" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_playground_missing_noise_removes_a_share_of_samples():
    """METHODS §1 ``missing``: at level 1 every test sample has lost pix, so the model sees only mor."""
    at = _train_playground()
    clean = at.metric[0].value
    at.selectbox(key="playground-noise").set_value("missing").run()
    at.slider(key="playground-lv-missing-pix").set_value(1.0).run()
    _no_exception(at)
    gone = at.metric[0].value
    assert gone != clean and float(gone) < float(clean)
    at.slider(key="playground-lv-missing-pix").set_value(0.5).run()
    _no_exception(at)
    assert float(gone) <= float(at.metric[0].value) <= float(clean)  # half the samples keep pix


def test_playground_bad_upload_shows_error_and_keeps_working():
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=60).run()
    at.selectbox(key="playground-dataset").set_value("file").run()
    _no_exception(at)
    assert any("Upload" in i.value for i in at.info)


def test_playground_without_views_warns():
    at = AppTest.from_file(str(ROOT / "pages" / "1_playground.py"), default_timeout=60).run()
    at.multiselect(key="playground-uci-digits-views").set_value([]).run()
    at.button(key="playground-train").click().run()
    _no_exception(at)
    assert at.warning and "No model yet" in at.info[-1].value


def test_metric_change_never_shows_minus_zero_or_an_arrow_for_no_change():
    from fusionlab.ui.widgets import metric_change
    assert metric_change(0.8, 0.8002, "clean") == {"delta": "+0.000 vs clean", "delta_color": "off"}
    assert metric_change(0.75, 0.8, "static") == {"delta": "-0.050 vs static", "delta_color": "normal"}


def test_expired_sessions_are_dropped_from_streamlits_session_storage(monkeypatch):
    """Streamlit's session TTL cache expires lazily; the sweep must really drop an expired session
    (it held the session's models) and leave a live one. Uses the pinned Streamlit's own classes,
    so a change in their internals fails here rather than silently keeping memory."""
    import asyncio
    import types

    from streamlit.runtime import Runtime
    from streamlit.runtime.memory_session_storage import MemorySessionStorage

    from fusionlab.ui import memory

    storage = MemorySessionStorage(ttl_seconds=60)
    clock = [0.0]
    storage._cache._timer = lambda: clock[0]
    for sid in ("gone", "live"):
        storage.save(types.SimpleNamespace(session=types.SimpleNamespace(id=sid)))
        clock[0] += 30
    clock[0] = 70  # "gone" (saved at 0) is past its 60 s, "live" (saved at 30) is not
    loop = asyncio.new_event_loop()
    fake = types.SimpleNamespace(_session_mgr=types.SimpleNamespace(_session_storage=storage),
                                 _async_objs=types.SimpleNamespace(eventloop=loop))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: fake))
    assert "gone" in storage._cache._data  # hidden from list() yet still referenced
    memory.expire_sessions()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert set(storage._cache._data) == {"live"}


def test_playground_signal_and_perceptual_tests_are_the_librarys_with_the_sliders_noise():
    import pandas as pd
    from fusionlab.diagnostics.signals import SignalTestConfig
    from fusionlab.experiments import playground as study
    at = _train_playground("gated")
    at.selectbox(key="playground-noise").set_value("mix").run()
    at.slider(key="playground-lv-mix-pix").set_value(0.5).run()
    for part in ("inputs", "signal"):
        at.select_slider(key=f"playground-{part}-k").set_value(50).run()
        at.button(key=f"playground-{part}-run").click().run()
        assert not at.exception and not at.error
    run = at.session_state["playground-run"]
    cfg, seed = SignalTestConfig(permutations=50), run.config.train.seed
    for part, test in (("inputs", study.perceptual_test), ("signal", study.signal_test)):
        shown = at.session_state[f"playground-{part}-test"][2].table
        pd.testing.assert_frame_equal(shown, test(run.model, run.data, "mix", [{"pix": 0.5}], cfg, seed).table)
        assert set(shown["condition"]) == {"pix corrupted (mix 0.5)"}
    assert any("The decision uses pix" in m.value for m in at.markdown)
    assert any("The decision depends on z" in m.value for m in at.markdown)
    plain = _train_playground("concat")  # no declared signal: no signal section, the perceptual score still
    assert any("perceptual score" in s.value for s in plain.subheader)
    assert not any("depend on this gate" in s.value for s in plain.subheader)


def test_the_playgrounds_figures_say_what_to_look_for():
    at = _train_playground("concat", 1)
    lines = [c.value for c in at.caption if c.value.startswith("What to look for")]
    assert len(lines) >= 5, lines  # training curves, confusion matrix, probabilities, contributions, the input
