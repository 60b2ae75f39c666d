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


def _live(at):
    """The Playground's noise view as it stands (the live view draws in the browser; its blocks, decoded)."""
    import json
    return {k: json.loads(v) for k, v in at.session_state["playground-live-shown"].items()}


def _accuracy(at) -> str:
    return _live(at)["metrics"]["items"][0]["value"]


def _figures(at) -> list:
    return [b for b in _live(at).values() if b["kind"] == "figure"]


def test_playground_trains_and_answers_a_noise_slider():
    at = _train_playground()
    clean = _accuracy(at)
    assert _live(at)["metrics"]["items"][0]["delta"] == "+0.000 vs clean"  # from the first draw after training
    at.selectbox(key="playground-noise").set_value("mix").run()
    at.session_state["playground-lv-mix-pix"] = 0.95  # what the live view's slider stores
    at.run()
    _no_exception(at)
    assert _accuracy(at) != clean
    assert "vs clean" in _live(at)["metrics"]["items"][0]["delta"]
    assert len(_figures(at)) >= 4  # confusion, robustness, probabilities, contributions
    at.selectbox(key="playground-noise").set_value("drop").run()
    from fusionlab.ui.playground import noise_sliders  # on/off, not a level
    assert [s.label_list() for s in noise_sliders(["pix", "mor"], "drop")] == [["off", "on"]] * 2
    at.session_state["playground-lv-drop-pix"] = 1.0
    at.run()
    _no_exception(at)
    assert _accuracy(at) != clean


def test_playground_every_slider_position_is_sent_with_the_view():
    """A step along any one slider needs no rerun: the frames of every position of every slider, with the
    others held, are in the view (and each equals a fresh evaluation of that setting)."""
    import json
    from fusionlab.ui.live import frame_json
    from fusionlab.ui.playground import noise_frame
    at = _train_playground()
    at.selectbox(key="playground-noise").set_value("mix").run()
    at.session_state["playground-lv-mix-pix"] = 0.3
    at.run()
    more = 0
    while at.session_state["playground-live-pending"]:  # what the component asks for when the page is not done
        more += 1
        _, revision, point, _ = at.session_state["playground-live-live"]
        at.session_state["playground-live"] = {"point": list(point), "revision": revision, "more": more}
        at.run()
    frames = at.session_state["playground-live-frames"][2]
    assert set(frames) >= {(i, 0) for i in range(21)} | {(6, j) for j in range(21)}
    run = at.session_state["playground-run"]
    want = frame_json(noise_frame(run, "mix", {"pix": 0.3, "mor": 0.5}, 0))
    assert json.loads(frames[(6, 10)]["metrics"]) == json.loads(want["metrics"])
    assert json.loads(frames[(6, 10)]["cm"]) == json.loads(want["cm"])


def test_playground_gated_shows_gate_and_sample_picker_works():
    at = _train_playground("gated", 1)
    n_charts = len(_figures(at))
    first = _live(at)["sample"]["html"]
    at.number_input(key="playground-sample").set_value(5).run()
    _no_exception(at)
    assert len(_figures(at)) == n_charts
    assert "<b>5</b>" in _live(at)["sample"]["html"] and first != _live(at)["sample"]["html"]
    assert "gate" in _live(at)


def test_playground_missing_noise_removes_a_share_of_samples():
    """docs/methods.md, corruptions and robustness ``missing``: at level 1 every test sample has lost pix, so the model sees only mor."""
    at = _train_playground()
    clean = _accuracy(at)
    at.selectbox(key="playground-noise").set_value("missing").run()
    at.session_state["playground-lv-missing-pix"] = 1.0
    at.run()
    _no_exception(at)
    gone = _accuracy(at)
    assert gone != clean and float(gone) < float(clean)
    at.session_state["playground-lv-missing-pix"] = 0.5
    at.run()
    _no_exception(at)
    assert float(gone) <= float(_accuracy(at)) <= float(clean)  # half the samples keep pix


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
    fake._session_mgr._active_session_info_by_id = {"open": None}
    assert memory.sessions_held() == 3
    memory.expire_sessions()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert set(storage._cache._data) == {"live"}
    assert memory.sessions_held() == 2  # one fewer: the trimmer collects now, and not while sessions only arrive


def test_playground_signal_and_perceptual_tests_are_the_librarys_with_the_sliders_noise():
    import pandas as pd
    from fusionlab.diagnostics.signals import SignalTestConfig
    from fusionlab.experiments import playground as study
    at = _train_playground("gated")
    at.selectbox(key="playground-noise").set_value("mix").run()
    at.session_state["playground-lv-mix-pix"] = 0.5
    at.run()
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
    from fusionlab.ui.playground import noise_layout
    lines = [c.value for c in at.caption if c.value.startswith("What to look for")]  # the training curves'
    captions = {name: text for row in noise_layout(at.session_state["playground-run"]) for name, text in row}
    figures = [name for name, b in _live(at).items() if b["kind"] == "figure"]  # the live view's
    assert lines and len(figures) >= 4 and all(captions[f] for f in figures), (figures, captions)


def test_the_server_warm_up_imports_what_the_first_training_would():
    """``shell.warm_up`` (app.py, once per server) builds an optimizer in a thread, so torch's lazily imported
    compiler stack is in before the first Train; in a fresh process, where nothing else has imported it."""
    import subprocess
    import sys
    code = ("import sys, torch\n"
            "assert 'torch._dynamo' not in sys.modules\n"
            "from fusionlab.ui.shell import warm_up\n"
            "warm_up().join(120)\n"
            "assert 'torch._dynamo' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
