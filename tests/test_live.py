"""The live view (ui.live): which frames it sends, and how it and the page agree on the sliders' setting."""
import json
import threading
import time

from streamlit.testing.v1 import AppTest

from fusionlab.ui.live import LiveSlider, axes, markdown_html, reported_point

SLIDERS = [LiveSlider("a", "a", (0.0, 0.5, 1.0)), LiveSlider("b", "b", (0.0, 1.0), ("off", "on"))]


def test_axes_are_the_point_its_axes_then_what_a_second_slider_reaches():
    got = axes((1, 0), SLIDERS)
    assert got[0] == (1, 0)
    assert sorted(got[:4]) == [(0, 0), (1, 0), (1, 1), (2, 0)]  # every point one slider away first
    assert sorted(got[4:]) == [(0, 1), (2, 1)]  # then a step of one slider and any position of the other
    five = [LiveSlider("c", "c", tuple(float(v) for v in range(5)))] * 3
    got, at = axes((2, 2, 2), five), (2, 2, 2)
    away = [sum(a != b for a, b in zip(q, at)) for q in got]
    assert len(set(got)) == len(got) and away[:1 + 3 * 4] == [0] + [1] * 12 and set(away[13:]) == {2}
    reach = {q for q in got if sorted(abs(a - b) for a, b in zip(q, at))[:2] == [0, 0]
             or (sum(a != b for a, b in zip(q, at)) == 2 and 1 in [abs(a - b) for a, b in zip(q, at)])}
    assert reach == set(got)  # nothing beyond one step of one slider and any move of another


def test_a_report_counts_only_for_this_revision_and_these_sliders():
    assert reported_point({"point": [2, 1], "revision": 3}, SLIDERS, 3) == (2, 1)
    assert reported_point({"point": [2, 1], "revision": 2}, SLIDERS, 3) is None  # from before the page moved them
    assert reported_point({"point": [3, 1], "revision": 3}, SLIDERS, 3) is None  # out of range
    assert reported_point({"point": [1], "revision": 3}, SLIDERS, 3) is None
    assert reported_point(None, SLIDERS, 3) is None


def test_slider_positions_snap_to_the_nearest_and_labels_default_to_values():
    assert SLIDERS[0].index(0.7) == 1 and SLIDERS[0].index(0.8) == 2
    assert SLIDERS[0].label_list() == ["0", "0.5", "1"] and SLIDERS[1].label_list() == ["off", "on"]


def test_text_blocks_are_escaped_with_bold_and_code_kept():
    assert markdown_html("**<b>** and `x<1`") == "<b>&lt;b&gt;</b> and <code>x&lt;1</code>"


GATE = threading.Event()


def _script(block=False):
    import streamlit as st
    from fusionlab.ui.live import LiveSlider, live_view
    calls = st.session_state.setdefault("calls", [])
    sliders = [LiveSlider("a", "a", (0.0, 0.5, 1.0)), LiveSlider("b", "b", (0.0, 1.0), ("off", "on"))]
    gate = st.session_state.get("gate")  # the test's event (a function run by AppTest sees no test globals)

    def frame(values):
        calls.append(values)
        if block and values != (0.0, 0.0):
            gate.wait(10)
        return {"text": f"a={values[0]} b={values[1]}"}
    owner = st.session_state.setdefault("owner", object())
    live_view("v", sliders, frame, [[("text", "")]], owner=owner, context=(st.session_state.get("ctx", 0),))


def _settle(at):
    """Wait for the view's background preparation (what the component's polling runs would pick up)."""
    prep = at.session_state["v-prep"] if "v-prep" in at.session_state else None
    if prep is not None:
        prep.join(10)


def _text(at) -> str:
    return json.loads(at.session_state["v-shown"]["text"])["html"]


def test_the_browsers_report_moves_the_page_and_the_page_can_move_the_sliders():
    at = AppTest.from_function(_script).run()
    _settle(at)
    assert not at.exception
    # (0,0), its axes (1,0) (2,0) (0,1), then what b reaches after a step of a, (1,1), and of b, (2,1)
    assert _text(at) == "a=0.0 b=0.0" and len(at.session_state["calls"]) == 6
    structure, revision, point, _ = at.session_state["v-live"]
    at.session_state["v"] = {"point": [2, 1], "revision": revision, "moved": 1}  # what the component sends after a move
    at.run()
    _settle(at)
    assert at.session_state["v-live"][3] == 1  # the slider moved last (not the first that differs): its axes first
    assert (at.session_state["a"], at.session_state["b"]) == (1.0, 1.0)  # the keys links and bundles read
    assert _text(at) == "a=1.0 b=1.0" and at.session_state["v-live"][1] == revision
    assert len(at.session_state["calls"]) == 6  # nothing it lacked: the move was ready
    at.session_state["a"] = 0.5  # the page moves a slider (a link, a reopened run): a new revision
    at.run()
    assert at.session_state["v-live"][1] == revision + 1 and _text(at) == "a=0.5 b=1.0"
    at.session_state["v"] = {"point": [0, 0], "revision": revision}  # a stale report, sent before that
    at.run()
    assert at.session_state["a"] == 0.5
    _settle(at)
    n = len(at.session_state["calls"])
    at.session_state["ctx"] = 1  # another sample: the frames are evaluated again
    at.run()
    _settle(at)
    assert len(at.session_state["calls"]) == n + 6


def test_the_setting_shows_at_once_and_the_other_positions_follow_from_the_background():
    """The run that draws the view evaluates only the setting on screen; the rest is evaluated in a thread after
    the run has ended (no running icon while the page prepares), and sent with the runs the component asks for."""
    GATE.clear()
    at = AppTest.from_function(_script, kwargs={"block": True})
    at.session_state["gate"] = GATE
    at.run()  # returns while the preparation waits on GATE: the run did not wait for it
    assert not at.exception and _text(at) == "a=0.0 b=0.0"
    assert at.session_state["v-pending"] and len(at.session_state["v-frames"][2]) == 1
    GATE.set()
    _settle(at)
    _, revision, point, _ = at.session_state["v-live"]
    at.session_state["v"] = {"point": list(point), "revision": revision, "more": 1}  # as the component polls
    at.run()
    calls = at.session_state["calls"]
    assert not at.session_state["v-pending"]
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 6  # each evaluated once: the 4 points of the
    assert len(at.session_state["v-frames"][2]) == 6  # axes, then the 2 a second slider reaches after one step


def _slow_preparation(n: int):
    """A preparation of ``n`` points whose evaluation takes 10 ms each, and the points it evaluated, in order."""
    from fusionlab.ui.live import Preparation
    frames, done = {}, []

    def evaluate(q, claim=False):
        time.sleep(0.01)
        frames[q] = "f"
        done.append(q)
        return True
    return Preparation([(i,) for i in range(n)], frames, evaluate, tag=()), done


def test_a_new_setting_cancels_the_preparation_of_the_old_one():
    prep, done = _slow_preparation(500)
    time.sleep(0.1)
    prep.cancelled = True  # what the next run does when the user moved a slider elsewhere
    prep.join(5)
    assert not prep.alive() and 0 < len(done) < 500 and len(done) == len(set(done))


def test_a_preparation_nobody_asks_about_stops():
    """A closed tab stops asking for the positions ready: its preparation stops instead of computing for no one."""
    from fusionlab.ui import live
    prep, done = _slow_preparation(100_000)
    prep.seen -= live.ABANDON_S + 1  # as if the view's last run came that long ago
    prep.join(5)
    assert not prep.alive() and len(done) <= 1


def test_a_render_the_browser_skips_loses_no_frame():
    """Each render carries every frame the component has not acknowledged; a render Streamlit skips (two runs
    close together are drawn once) loses nothing, and a component that starts afresh gets everything again."""
    from fusionlab.ui.live import _delivery, _frames_to_send
    state, frames, ordered = {}, {(0,): "a"}, [(0,), (1,), (2,)]
    d = _delivery(state, "v", 0)
    first = _frames_to_send(ordered, frames, d.held)
    assert set(first) == {"0"}
    one = d.send(first)
    frames[(1,)] = "b"
    d = _delivery(state, "v", 0)  # no report yet: (0,) is not acknowledged, so it goes again
    second = _frames_to_send(ordered, frames, d.held)
    assert set(second) == {"0", "1"}
    two = d.send(second)
    assert two > one
    state["v"] = {"epoch": None, "got": two}  # the component read render 2 (render 1 was skipped: no matter)
    frames[(2,)] = "c"
    d = _delivery(state, "v", 0)
    assert d.held == {(0,), (1,)} and set(_frames_to_send(ordered, frames, d.held)) == {"2"}
    state["v"] = {"epoch": "fresh", "got": two}  # it started afresh (another epoch): everything again
    d = _delivery(state, "v", 0)
    again = _frames_to_send(ordered, frames, d.held)
    assert set(again) == {"0", "1", "2"}
    d.send(again)
    # a request the component made before that render reached it still names render 2: it acknowledges nothing
    # sent since (render numbers restarted with each delivery, and a slider step then waited forever for a frame
    # the page believed the component held)
    d = _delivery(state, "v", 0)
    assert d.held == set()
    for generation in (1, 2):  # a new model (another generation) starts the page's bookkeeping afresh too
        d = _delivery(state, "v", generation)
        d.send(_frames_to_send(ordered, frames, d.held))
        assert _delivery(state, "v", generation).held == set()
