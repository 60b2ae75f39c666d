"""The live view (ui.live): which frames it sends, and how it and the page agree on the sliders' setting."""
import json

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


def _script(budget=None):
    import streamlit as st
    from fusionlab.ui import live
    from fusionlab.ui.live import LiveSlider, live_view
    if budget is not None:
        live.BUDGET_S = budget
    calls = st.session_state.setdefault("calls", [])
    sliders = [LiveSlider("a", "a", (0.0, 0.5, 1.0)), LiveSlider("b", "b", (0.0, 1.0), ("off", "on"))]

    def frame(values):
        calls.append(values)
        return {"text": f"a={values[0]} b={values[1]}"}
    owner = st.session_state.setdefault("owner", object())
    live_view("v", sliders, frame, [[("text", "")]], owner=owner, context=(st.session_state.get("ctx", 0),))


def _text(at) -> str:
    return json.loads(at.session_state["v-shown"]["text"])["html"]


def test_the_browsers_report_moves_the_page_and_the_page_can_move_the_sliders():
    at = AppTest.from_function(_script).run()
    assert not at.exception
    # (0,0), its axes (1,0) (2,0) (0,1), then what b reaches after a step of a, (1,1), and of b, (2,1)
    assert _text(at) == "a=0.0 b=0.0" and len(at.session_state["calls"]) == 6
    structure, revision, point, _ = at.session_state["v-live"]
    at.session_state["v"] = {"point": [2, 1], "revision": revision, "moved": 1}  # what the component sends after a move
    at.run()
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
    n = len(at.session_state["calls"])
    at.session_state["ctx"] = 1  # another sample: the frames are evaluated again
    at.run()
    assert len(at.session_state["calls"]) == n + 6


def test_with_no_time_to_spare_the_setting_shows_first_and_the_axes_follow_in_further_runs():
    from fusionlab.ui import live
    keep = live.MIN_PER_RUN, live.BUDGET_S
    try:
        at = AppTest.from_function(_script, kwargs={"budget": 0.0})
        live.MIN_PER_RUN = 1
        at.run()
        calls = at.session_state["calls"]
        assert calls == [(0.0, 0.0), (0.5, 0.0)]  # the setting, then one more: the component asks for the rest
        revision = at.session_state["v-live"][1]
        for more in range(1, 6):
            at.session_state["v"] = {"point": [0, 0], "revision": revision, "more": more}  # as the component does
            at.run()
        assert not at.exception
        assert sorted(calls) == sorted(set(calls)) and len(calls) == 6  # each evaluated once: the 4 points of the
        assert len(at.session_state["v-frames"][2]) == 6  # axes, then the 2 a second slider reaches after one step
    finally:
        live.MIN_PER_RUN, live.BUDGET_S = keep


def test_a_run_asked_for_by_the_browser_stops_the_axes_at_once():
    """The first step of a second slider: the browser's request is served after the current evaluation, not after
    the rest of the axes (issue 32)."""
    from fusionlab.ui.live import _evaluate_missing
    points = [(i,) for i in range(10)]
    frames, done = {}, []

    def evaluate(q):
        frames[q] = "f"
        done.append(q)
        return True
    asked = iter([False, True])  # asked for only once a first point is evaluated: every run evaluates one
    _evaluate_missing(points, frames, evaluate, pending=lambda: next(asked, True))
    assert done == points[:2]  # the rest waits for the next run, which goes on from (2,)
    _evaluate_missing(points, frames, evaluate, pending=lambda: False)
    assert done == points  # no request: every point within the budget


def test_rerun_pending_reads_streamlit_s_request_state_and_is_false_outside_a_run():
    from fusionlab.ui.live import rerun_pending
    assert rerun_pending() is False  # no script run (the CLI, a test): never stops anything
